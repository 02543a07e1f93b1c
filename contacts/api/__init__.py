"""The /open/v5 endpoints about contacts (docs/api.md), one module per group; inputs reads
their requests into typed values."""
