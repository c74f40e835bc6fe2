"""The insights settings (campaign window, revenue trend, price bands) as one Dagster resource."""
from __future__ import annotations

import dagster as dg

from chatsales.settings import Settings


class InsightSettings(dg.ConfigurableResource):
    """CHATSALES_CAMPAIGN_WINDOW_DAYS, CHATSALES_TREND_DAYS, CHATSALES_TREND_STABLE_PCT, CHATSALES_PRICE_BANDS."""

    campaign_window_days: int = 7
    trend_days: int = 90
    trend_stable_pct: float = 20.0
    price_bands: list[float] = [25.0, 50.0, 100.0, 200.0]

    @classmethod
    def from_settings(cls, settings: Settings) -> "InsightSettings":
        return cls(campaign_window_days=settings.campaign_window_days, trend_days=settings.trend_days,
                   trend_stable_pct=settings.trend_stable_pct, price_bands=list(settings.price_bands))
