"""The brand's settings as one Dagster resource, so every asset reads the same values (and the UI shows them)."""
from __future__ import annotations

import dagster as dg


class PipelineSettings(dg.ConfigurableResource):
    """Reporting timezone and currency, attribution window, reject threshold, and the email-hash key."""

    timezone: str = "Europe/Paris"
    currency: str = "EUR"
    window_days: int = 14
    reject_threshold: float = 0.01
    pii_key: str   # set with dg.EnvVar("CHATSALES_PII_KEY") in production: never shown in the UI
