"""The brand's settings as one resource, so every asset reads the same values and the UI shows them. Its
defaults come from the one settings model (chatsales.settings): nothing is written twice."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from chatsales.settings import Settings

DEFAULTS = Settings.model_fields


def _default(name: str):
    return Field(default=DEFAULTS[name].default, description=DEFAULTS[name].description)


class SettingsResource(dg.ConfigurableResource):
    """Reporting time zone and currency, attribution window, thresholds, horizons and the email-hash key."""

    timezone: str = _default("timezone")
    currency: str = _default("currency")
    window_days: int = _default("window_days")
    reject_threshold: float = _default("reject_threshold")
    max_day_drop_pct: float = _default("max_day_drop_pct")
    max_amount: float = _default("max_amount")
    late_horizon_days: int = _default("late_horizon_days")
    campaign_window_days: int = _default("campaign_window_days")
    trend_days: int = _default("trend_days")
    trend_stable_pct: float = _default("trend_stable_pct")
    price_bands: list[float] = Field(
        default=list(DEFAULTS["price_bands"].default), description=DEFAULTS["price_bands"].description
    )
    pii_key: str = Field(description="key of the email hash; set through EnvVar('CHATSALES_PII_KEY'): never shown")

    @classmethod
    def from_settings(cls, settings: Settings, pii_key) -> SettingsResource:
        names = [n for n in cls.model_fields if n != "pii_key"]
        values = {n: getattr(settings, n) for n in names}
        values["price_bands"] = list(settings.price_bands)
        return cls(pii_key=pii_key, **values)
