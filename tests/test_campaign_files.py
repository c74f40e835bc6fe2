"""The campaign files as a night reads them: a clicks export that only grew costs its new lines, numbered and
rejected as a whole read would; any other change reads both files again, and a night without a change keeps
the rejects recorded before."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from chatsales.extract.campaigns import plan_campaigns
from chatsales.extract.files import appended_from, listing
from chatsales.lake.catalog import Catalog
from chatsales.lake.datasets import CLICKS
from chatsales.lake.store import Lake

TZ = "Europe/Paris"
CAMPAIGNS = "campaign_id,name,kind,sent_at\ncp-1,Spring,mailing,2026-03-01T08:00:00Z\n"
FIRST = [
    "campaign_id,email,clicked_at",
    "cp-1,ann@example.com,2026-03-02T10:00:00Z",
    "cp-9,bob@example.com,2026-03-02T11:00:00Z",  # no such campaign: a reject
    "cp-1,cat@example.com,2026-03-03T09:00:00Z",
]
MORE = [
    "cp-1,dan@example.com,2026-03-04T10:00:00Z",
    "cp-1,eve@example.com",  # a ragged line: a reject
    "cp-1,fay@example.com,2026-03-05T10:00:00Z",
]


def _files(folder: Path, clicks: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "campaigns.csv").write_text(CAMPAIGNS)
    (folder / "campaign_clicks.csv").write_text("\n".join(clicks) + "\n")


def _night(folder: Path, root: Path):
    lake, catalog = Lake(root / "lake", TZ), Catalog(root / "lake" / "catalog.sqlite")
    planned = plan_campaigns(folder, lake, catalog, pii_key="k", campaign_window_days=7)
    planned.write()
    clicks = lake.read(CLICKS).sort_values("line").reset_index(drop=True)
    return planned.extracted, clicks


def test_appended_clicks_are_read_alone_and_equal_a_whole_read(tmp_path):
    folder = tmp_path / "campaigns"
    _files(folder, FIRST)
    first, _ = _night(folder, tmp_path / "nightly")
    assert first.rejects["location"].tolist() == ["campaign_clicks.csv:3"]
    assert first.details["files"] == ["campaign_clicks.csv", "campaigns.csv"]

    with open(folder / "campaign_clicks.csv", "a") as f:
        f.write("\n".join(MORE) + "\n")
    grown, nightly = _night(folder, tmp_path / "nightly")
    assert grown.scope == "campaign_clicks.csv: lines appended since it was read"
    assert grown.read_rows == 2 and grown.changed == {"campaigns": 0, "campaign_clicks": 2}
    assert grown.rejects["location"].tolist() == ["campaign_clicks.csv:6"]
    assert grown.details["files"] == []  # the rejects of the lines read before stay

    whole, full = _night(folder, tmp_path / "whole")
    assert sorted(whole.rejects["location"]) == ["campaign_clicks.csv:3", "campaign_clicks.csv:6"]
    pd.testing.assert_frame_equal(nightly, full)
    assert nightly["line"].tolist() == [2, 4, 5, 7]

    # a night without a change reads nothing and replaces no reject
    quiet, _ = _night(folder, tmp_path / "nightly")
    assert quiet.read_rows == 0 and quiet.details["files"] == []

    # an edited line is no append: both files are read again, and the click it no longer has is gone
    edited = [FIRST[0], FIRST[1].replace("ann", "ann.b"), *FIRST[2:], *MORE]
    (folder / "campaign_clicks.csv").write_text("\n".join(edited[:-1]) + "\n")
    again, clicks = _night(folder, tmp_path / "nightly")
    assert again.scope == "campaign_clicks.csv"
    assert clicks["line"].tolist() == [2, 4, 5] and again.changed["campaign_clicks"] == 1


def test_only_lines_added_after_a_complete_last_line_are_an_append(tmp_path):
    path = tmp_path / "clicks.csv"
    path.write_bytes(b"a,b\n1,2\n")

    known = hashlib.sha256(path.read_bytes()).hexdigest()
    size = path.stat().st_size
    with open(path, "ab") as f:
        f.write(b"3,4\n")
    assert appended_from(path, size, known) == size
    assert appended_from(path, size, "0" * 64) is None  # the first bytes changed
    assert appended_from(path, path.stat().st_size, known) is None  # nothing added
    path.write_bytes(b"a,b\n1,2")  # a last line without its end: what follows may complete it
    partial = hashlib.sha256(path.read_bytes()).hexdigest()
    with open(path, "ab") as f:
        f.write(b"5\n")
    assert appended_from(path, 7, partial) is None


def test_a_campaign_added_later_makes_the_clicks_that_named_it_valid(tmp_path):
    """A click rejected for an unknown campaign is read again once campaigns.csv gains it (both files are
    read whole); with no such reject left, a campaign added is read with the new clicks alone."""
    folder = tmp_path / "campaigns"
    _files(folder, FIRST)
    _night(folder, tmp_path / "nightly")
    with open(folder / "campaigns.csv", "a") as f:
        f.write("cp-9,Late,automation,2026-03-01T09:00:00Z\n")
    with open(folder / "campaign_clicks.csv", "a") as f:
        f.write(MORE[0] + "\n")
    revived, clicks = _night(folder, tmp_path / "nightly")
    assert revived.scope == "campaign_clicks.csv, campaigns.csv" and revived.rejects.empty
    assert clicks["line"].tolist() == [2, 3, 4, 5]
    assert Catalog(tmp_path / "nightly" / "lake" / "catalog.sqlite").get("campaign_clicks_unknown_campaign") == "0"

    with open(folder / "campaigns.csv", "a") as f:
        f.write("cp-10,New,mailing,2026-03-04T09:00:00Z\n")
    with open(folder / "campaign_clicks.csv", "a") as f:
        f.write("cp-10,gus@example.com,2026-03-04T12:00:00Z\n")
    added, nightly = _night(folder, tmp_path / "nightly")
    assert added.scope == "campaigns.csv, campaign_clicks.csv: lines appended since it was read"
    assert added.details["files"] == ["campaigns.csv"] and added.read_rows == 3 + 1
    assert added.changed == {"campaigns": 1, "campaign_clicks": 1}
    assert set(added.changes["what"]) == {"campaign_click"}  # a new campaign changes no day by itself
    _, full = _night(folder, tmp_path / "whole")
    pd.testing.assert_frame_equal(nightly, full)

    # a campaign renamed: both files read whole, and every day's campaign sales may have changed
    text = (folder / "campaigns.csv").read_text().replace("Spring", "Spring sale")
    (folder / "campaigns.csv").write_text(text)
    renamed, _ = _night(folder, tmp_path / "nightly")
    assert renamed.scope == "campaigns.csv" and renamed.changed["campaigns"] == 1
    assert "campaign_changed" in set(renamed.changes["what"])

    # a campaign added while no click is new: only campaigns.csv is read
    with open(folder / "campaigns.csv", "a") as f:
        f.write("cp-11,Newer,mailing,2026-03-05T09:00:00Z\n")
    alone, _ = _night(folder, tmp_path / "nightly")
    assert alone.scope == "campaigns.csv" and alone.changed == {"campaigns": 1, "campaign_clicks": 0}


def test_a_source_folder_lists_its_matching_files_by_name_and_no_folder(tmp_path):
    (tmp_path / "b.csv").write_text("12345")
    (tmp_path / "a.csv").write_text("1")
    (tmp_path / ".hidden.csv").write_text("12")  # as pathlib's glob: a hidden export is still an export
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "old.csv").mkdir()  # a folder named like a file is not a file to read
    found = listing(tmp_path, "*.csv")
    assert found[["name", "size"]].values.tolist() == [[".hidden.csv", 2], ["a.csv", 1], ["b.csv", 5]]
    assert found["mtime_ns"].gt(0).all() and str(found["mtime_ns"].dtype) == "int64"
    assert listing(tmp_path / "missing", "*.csv").empty
