"""Optional marketing touchpoints (data-contract.md §4): campaigns and their clicks. No folder, no campaigns."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from chatsales import schema
from chatsales.contract import Checks, SourceFrames, concat_rejects, text_column

SOURCE = "marketing_touchpoints"


def _csv(file: Path) -> pd.DataFrame:
    return pd.read_csv(file, dtype=str, keep_default_na=False) if file.exists() else pd.DataFrame()


def read_campaigns_dir(path: Path) -> SourceFrames:
    path = Path(path)
    campaigns_raw = _csv(path / "campaigns.csv").reindex(columns=list(schema.CAMPAIGNS))
    checks = Checks(campaigns_raw, SOURCE, pd.Series([f"campaigns.csv:{n + 2}" for n in range(len(campaigns_raw))],
                                                     dtype=object), "campaign_id")
    checks.required("campaign_id")
    checks.enum("kind", ("mailing", "automation"))
    sent = checks.timestamp("sent_at", required=True)
    checks.unique("campaign_id")
    ok = checks.ok
    campaigns = pd.DataFrame({"campaign_id": text_column(campaigns_raw["campaign_id"]),
                              "name": text_column(campaigns_raw["name"]), "kind": text_column(campaigns_raw["kind"]),
                              "sent_at": sent})[ok]
    clicks_raw = _csv(path / "campaign_clicks.csv").reindex(columns=list(schema.CAMPAIGN_CLICKS))
    click_checks = Checks(clicks_raw, SOURCE, pd.Series([f"campaign_clicks.csv:{n + 2}" for n in range(len(clicks_raw))],
                                                        dtype=object), "campaign_id")
    click_checks.required("campaign_id", "email")
    clicked = click_checks.timestamp("clicked_at", required=True)
    click_checks.member_of("campaign_id", campaigns["campaign_id"], "campaign")
    clicks = pd.DataFrame({"campaign_id": text_column(clicks_raw["campaign_id"]),
                           "email": text_column(clicks_raw["email"]), "clicked_at": clicked})[click_checks.ok]
    return SourceFrames({"campaigns": schema.conform(campaigns.reset_index(drop=True), schema.CAMPAIGNS),
                         "campaign_clicks": schema.conform(clicks.reset_index(drop=True), schema.CAMPAIGN_CLICKS)},
                        concat_rejects([checks.rejects(), click_checks.rejects()]))
