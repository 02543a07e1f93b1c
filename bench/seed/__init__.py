"""Bulk bench data: `bench-*` channels with many contacts and events, generated in SQL.

PostgreSQL generates the rows itself (INSERT ... SELECT FROM generate_series, 50,000 contacts
and their events per statement, in parallel sessions) while the two tables' secondary indexes
and foreign keys are dropped; they are rebuilt and validated afterwards. One tenant holds 60 %
of the contacts. `manage.py seed_bench` is the entry point (`bench.run` calls it).

Modules: `vocabulary` (weighted values), `statement` (the batch's SQL), `loader` (batches in
parallel sessions), `ddl` (drop and restore), `channels` (the only one that calls app code),
`generate` (the whole run).
"""
