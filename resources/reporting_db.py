"""The reporting database as a Dagster resource: one engine per run, disposed when the run's step ends."""

from __future__ import annotations

import dagster as dg
from pydantic import PrivateAttr

from chatsales.reporting.store import ReportingDb
from chatsales.settings import redacted_url


class ReportingDbUnavailable(RuntimeError):
    """The reporting database cannot be reached or upgraded: the run fails naming it (its password hidden)."""


class ReportingDbResource(dg.ConfigurableResource):
    """The reporting database (CHATSALES_REPORTING_DB_URL): a SQLite file by default, PostgreSQL in production."""

    url: str
    _db: ReportingDb | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Opens the database and brings its schema up to date first (Alembic); a migration is logged."""
        self._db = ReportingDb(self.url)
        try:
            outcome = self._db.ensure_schema()
        except Exception as error:  # named as the reporting database's fault, never the step's that uses it
            first = next((line for line in str(error).splitlines() if line.strip()), "")
            raise ReportingDbUnavailable(
                f"the reporting database {self.shown_url} cannot be used: {type(error).__name__}: {first[:200]}"
            ) from None
        if outcome != "up to date" and context.log is not None:  # an upgrade is worth a look; a creation is not
            log = context.log.info if outcome.startswith("created") else context.log.warning
            log(f"reporting database {self.shown_url}: schema {outcome}")

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._db is not None:
            self._db.dispose()
            self._db = None

    @property
    def db(self) -> ReportingDb:
        if self._db is None:  # used outside a run (a sensor's evaluation): the caller disposes
            self._db = ReportingDb(self.url)
        return self._db

    @property
    def shown_url(self) -> str:
        return redacted_url(self.url)
