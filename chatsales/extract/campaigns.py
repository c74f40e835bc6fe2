"""The campaign files' extraction: a night reads what was added to them, not their history.

`campaign_clicks.csv` is an export that grows; a click has no key of its own, so it is its line. A night reads
only the lines added since the last read when that gives what a whole read would:
- the clicks file only grew (the bytes read last time are unchanged and ended a line) or did not change;
- `campaigns.csv` did not change, or only grew (campaign ids were only added) while no click read so far was
  rejected for a campaign then unknown (a campaign added now would make it valid: the catalog keeps that
  count, `UNKNOWN_CAMPAIGN_CLICKS`, written with the extraction).
Anything else (an edited or reordered line, a campaign removed) reads both files whole again, and the clicks
the file no longer has leave the lake.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from chatsales.extract import Extracted
from chatsales.extract.changes import combine, local_dates, shifted, spans
from chatsales.extract.files import appended_from, changed_files
from chatsales.extract.run import Planned, check_pii_key, commit, nothing_new
from chatsales.lake.catalog import Catalog, utc_now
from chatsales.lake.datasets import CAMPAIGNS, CLICKS
from chatsales.lake.store import Lake
from chatsales.pii import hash_emails, normalise_emails
from chatsales.sources.campaigns import CAMPAIGNS_FILE, CLICKS_FILE, SOURCE, UNKNOWN_CAMPAIGN, read_campaigns_dir

UNKNOWN_CAMPAIGN_CLICKS = "campaign_clicks_unknown_campaign"  # catalog meta: such rejects among the lines read


def unread_clicks_from(folder: Path, known: pd.DataFrame, changed: set[str], unknown_before: int | None) -> int | None:
    """The byte where the clicks not read yet start, when the lines read before need no second read (see
    the module's rules); None when both files must be read whole."""
    known = known.set_index("name")
    if CLICKS_FILE not in known.index:
        return None
    if CAMPAIGNS_FILE in changed:
        if unknown_before != 0 or CAMPAIGNS_FILE not in known.index:
            return None
        was = known.loc[CAMPAIGNS_FILE]
        if appended_from(folder / CAMPAIGNS_FILE, int(was["size"]), was["sha256"]) is None:
            return None
    was = known.loc[CLICKS_FILE]
    if CLICKS_FILE in changed:
        return appended_from(folder / CLICKS_FILE, int(was["size"]), was["sha256"])
    return int(was["size"])


def plan_campaigns(
    folder: Path, lake: Lake, catalog: Catalog, *, pii_key: str, campaign_window_days: int, run_id: str | None = None
) -> Planned:
    """The campaigns and the clicks new or changed since the last read (`details["files"]`: the files whose
    earlier rejects this read replaces; none when it read nothing)."""
    check_pii_key(catalog, pii_key)
    started = utc_now()
    known = catalog.files(SOURCE)
    to_read, touched = changed_files(folder, "campaign*.csv", known)
    if to_read.empty:
        return nothing_new(SOURCE, lake, catalog, run_id=run_id, started_at=started, touched=touched)
    changed = set(to_read["name"])
    stored_unknown = catalog.get(UNKNOWN_CAMPAIGN_CLICKS)
    unknown_before = None if stored_unknown is None else int(stored_unknown)
    tail_from = unread_clicks_from(Path(folder), known, changed, unknown_before)
    read = read_campaigns_dir(folder, clicks_from=tail_from or 0)
    campaigns, clicks, rejects = read.frames["campaigns"], read.frames["campaign_clicks"], read.rejects
    lake_clicks = pd.DataFrame(
        {
            "campaign_id": clicks["campaign_id"],
            "customer_hash": hash_emails(normalise_emails(clicks["email"]), pii_key),
            "clicked_at": clicks["clicked_at"],
            "line": clicks["line"].astype("int64"),
        }
    )
    click_rejects = rejects["location"].astype("str").str.startswith(CLICKS_FILE)
    unknown_now = int((click_rejects & rejects["reason"].astype("str").str.contains(UNKNOWN_CAMPAIGN)).sum())
    if tail_from is not None:  # the lines read before stay as they were read: none is gone or read again
        refreshed = sorted(changed & {CAMPAIGNS_FILE})
        rejects = rejects[(click_rejects | bool(refreshed)).to_numpy()]
        campaigns = campaigns if refreshed else campaigns.iloc[:0]
        gone = lake_clicks.iloc[:0]
        before = known.set_index("name").loc[CLICKS_FILE]
        clicks_total, unknown_total = int(before["rows"]) + len(clicks), (unknown_before or 0) + unknown_now
        appended = [f"{CLICKS_FILE}: lines appended since it was read"] if CLICKS_FILE in changed else []
        scope = ", ".join([*refreshed, *appended])
    else:
        refreshed = sorted({CAMPAIGNS_FILE, CLICKS_FILE})
        stored_lines = lake.read(CLICKS, columns=["line"])
        gone = stored_lines[~stored_lines["line"].isin(lake_clicks["line"])]
        clicks_total, unknown_total = len(clicks), unknown_now
        scope = ", ".join(sorted(changed))
    plans = [
        lake.plan_upsert(CAMPAIGNS, campaigns),
        lake.plan_upsert(CLICKS, lake_clicks, remove=_by_partition(lake, gone)),
    ]
    days = local_dates(plans[1].new["clicked_at"], lake.timezone)
    # a campaign renamed or re-kinded changes the campaign sales of every day; a new one, none (its clicks do)
    edited = bool(len(plans[0].old))
    today = pd.Timestamp(started).tz_convert(lake.timezone).date()
    changes = combine(
        [
            spans("campaign_click", days, shifted(days, campaign_window_days + 1)),
            spans("campaign_changed", [date(2000, 1, 1)] * edited, [today] * edited),
        ]
    )
    extracted = Extracted(
        SOURCE,
        len(campaigns) + len(clicks),
        rejects,
        {"campaigns": len(plans[0].new), "campaign_clicks": len(plans[1].new)},
        changes,
        scope,
    )
    extracted.details["files"] = refreshed
    rows = to_read.drop(columns="status").assign(
        rows=to_read["name"].map({CAMPAIGNS_FILE: len(read.frames["campaigns"]), CLICKS_FILE: clicks_total})
    )
    rows["rows"] = rows["rows"].fillna(0).astype("int64")
    return Planned(
        extracted,
        lambda: commit(
            lake,
            catalog,
            extracted,
            plans,
            run_id=run_id,
            started_at=started,
            files=pd.concat([rows, touched], ignore_index=True),
            meta={UNKNOWN_CAMPAIGN_CLICKS: str(unknown_total)},
        ),
    )


def _by_partition(lake: Lake, rows: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Key rows of CLICKS to remove, by the partition that holds them."""
    if rows.empty:
        return {}
    stored = lake.read(CLICKS)
    stored = stored[stored["line"].isin(rows["line"])]
    return {label: frame for label, frame in stored.groupby(lake.labels_for(CLICKS, stored))}
