"""Optional campaigns and their clicks (CHATSALES_CAMPAIGNS_DIR); a missing folder means no campaigns."""

from __future__ import annotations

import dagster as dg


class MarketingTouchpointsResource(dg.ConfigurableResource):
    """Where campaigns.csv and campaign_clicks.csv are."""

    campaigns_dir: str
