"""The collector: authenticated, idempotent ingest into PostgreSQL/TimescaleDB, query API, dashboard."""
