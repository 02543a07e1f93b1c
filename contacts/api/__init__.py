"""The /open/v5 endpoints about contacts (API.md), one module per group."""
