"""Incremental extraction: each source read since its watermark, validated, upserted into the lake.

A night reads what is new or changed and nothing else: the chat tables' rows touched inside the late horizon,
the order and POS files whose size, mtime or content changed, Shopify orders updated since the last pull, the
campaign files when they changed. Emails become keyed hashes as they are read. Each extraction records what
it changed in the catalog's change log, as spans of reporting days, for the late-data sensor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from chatsales import schema


@dataclass
class Extracted:
    """What one extraction of one source did."""

    source: str
    read_rows: int  # valid rows read (a rejected file counts by its rows in `rejects`)
    rejects: pd.DataFrame  # schema.REJECTS rows of this read
    changed: dict[str, int]  # rows new or changed in the lake, per dataset
    changes: pd.DataFrame  # (what, first_day, last_day, rows): the reporting days affected
    scope: str  # what was read, for a person ("rows touched since …", "3 new files")
    extraction_id: int | None = None
    details: dict[str, object] = field(default_factory=dict)

    @property
    def reject_rows(self) -> int:
        """Rejected rows, a rejected file counting by its rows."""
        if self.rejects.empty:
            return 0
        return int(self.rejects["rows"].fillna(1).sum()) if "rows" in self.rejects else len(self.rejects)

    @property
    def reject_share(self) -> float:
        total = self.read_rows + self.reject_rows
        return self.reject_rows / total if total else 0.0


def empty_changes() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "what": pd.Series(dtype="str"),
            "first_day": pd.Series(dtype="object"),
            "last_day": pd.Series(dtype="object"),
            "rows": pd.Series(dtype="int64"),
        }
    )


def no_rejects() -> pd.DataFrame:
    return schema.empty(schema.REJECTS)
