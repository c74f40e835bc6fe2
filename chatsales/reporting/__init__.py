"""The reporting database: what BI tools, the dashboard and `chatsales kpis` read (SQLite by default,
PostgreSQL by URL). Plain SQLAlchemy, no Dagster: `tables` declares it, `migrations` (Alembic) changes it,
`engine` connects to it, `store` publishes and reads it."""
