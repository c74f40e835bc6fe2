"""Alembic environment of the reporting database: run from chatsales.reporting.schema with a connection."""

from alembic import context

from chatsales.reporting.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection, target_metadata=metadata, render_as_batch=True, version_table="pipeline_schema_version"
)
with context.begin_transaction():
    context.run_migrations()
