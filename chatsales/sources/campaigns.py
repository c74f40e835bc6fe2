"""Optional marketing touchpoints (data-contract.md §4): campaigns and their clicks. No folder, no campaigns."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from chatsales import schema
from chatsales.contract import Checks, SourceFrames, concat_rejects, read_csv_rows, text_column

SOURCE = "marketing_touchpoints"


CAMPAIGNS_FILE, CLICKS_FILE = "campaigns.csv", "campaign_clicks.csv"
UNKNOWN_CAMPAIGN = "campaign_id: unknown campaign"  # the reject of a click whose campaign campaigns.csv lacks


def _csv(file: Path, columns: dict, file_rejects: list, from_byte: int = 0) -> pd.DataFrame:
    """The file's rows (none when it is absent); unreadable lines and files go to `file_rejects`."""
    frame, rejects = read_csv_rows(file, list(columns), SOURCE, from_byte=from_byte) if file.exists() else (None, None)
    file_rejects.append(rejects)
    return frame if frame is not None else pd.DataFrame(columns=[*columns, "_location"], dtype="str")


def _line_numbers(locations: pd.Series) -> pd.Series:
    """The file line of each row ('file:line'): what identifies a click, as clicks have no key of their own."""
    lines = locations.astype("str").str.extract(r":(\d+)$", expand=False)
    return pd.to_numeric(lines, errors="coerce").astype("Int64").reset_index(drop=True)


def read_campaigns_dir(path: Path, clicks_from: int = 0) -> SourceFrames:
    """Campaigns and their clicks; with `clicks_from`, only the clicks of the lines from that byte on."""
    path = Path(path)
    file_rejects: list = []
    campaigns_raw = _csv(path / CAMPAIGNS_FILE, schema.CAMPAIGNS, file_rejects)
    checks = Checks(campaigns_raw, SOURCE, campaigns_raw["_location"].astype(object), "campaign_id")
    checks.required("campaign_id")
    checks.enum("kind", ("mailing", "automation"))
    sent = checks.timestamp("sent_at", required=True)
    checks.unique("campaign_id")
    ok = checks.ok
    campaigns = pd.DataFrame(
        {
            "campaign_id": text_column(campaigns_raw["campaign_id"]),
            "name": text_column(campaigns_raw["name"]),
            "kind": text_column(campaigns_raw["kind"]),
            "sent_at": sent,
        }
    )[ok]
    clicks_raw = _csv(path / CLICKS_FILE, schema.CAMPAIGN_CLICKS, file_rejects, clicks_from)
    click_checks = Checks(clicks_raw, SOURCE, clicks_raw["_location"].astype(object), "campaign_id")
    click_checks.required("campaign_id", "email")
    clicked = click_checks.timestamp("clicked_at", required=True)
    click_checks.member_of("campaign_id", campaigns["campaign_id"], "campaign")
    clicks = pd.DataFrame(
        {
            "campaign_id": text_column(clicks_raw["campaign_id"]),
            "email": text_column(clicks_raw["email"]),
            "clicked_at": clicked,
        }
    )[click_checks.ok]
    return SourceFrames(
        {
            "campaigns": schema.conform(campaigns.reset_index(drop=True), schema.CAMPAIGNS),
            "campaign_clicks": schema.conform(clicks.reset_index(drop=True), schema.CAMPAIGN_CLICKS).assign(
                line=_line_numbers(pd.Series(clicks_raw["_location"].to_numpy()[click_checks.ok]))
            ),
        },
        concat_rejects([*[r for r in file_rejects if r is not None], checks.rejects(), click_checks.rejects()]),
    )
