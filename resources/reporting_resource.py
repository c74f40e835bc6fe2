"""The reporting database as a Dagster resource: only where it is; ReportingStore does the work."""
from __future__ import annotations

import dagster as dg

from resources.reporting_db import ReportingStore


class ReportingDatabase(dg.ConfigurableResource):
    """The reporting database (CHATSALES_REPORTING_DB_URL): SQLite file by default, PostgreSQL in production."""

    url: str

    def store(self) -> ReportingStore:
        return ReportingStore(self.url)
