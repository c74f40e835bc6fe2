"""Row filters the lake applies while it reads, each with the test of a Parquet row group's statistics that
rules the group out without decoding it.

The state's files are sorted by key in small row groups, so a lookup of some keys admits only the groups whose
key range holds one, and a filter on instants (what is dated inside some days) only the groups whose range of
those instants meets the days: old chatrooms' groups end long before, unless one of their chatrooms spoke
again. A night therefore decodes about what it keeps, whatever the length of the history. (Arrow's own
pruning does the same test but costs about 10 ms per file for a set of keys: a whole history of files cost
more than reading it.)
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from chatsales.arrays import text_set

Admits = Callable[[pq.FileMetaData, dict[str, int]], np.ndarray]  # per row group: may hold a kept row


@dataclass(frozen=True)
class Where:
    """Rows kept (`expression`), the columns it reads, and which row groups may hold one (`admits`)."""

    expression: pc.Expression
    columns: tuple[str, ...]
    admits: Admits

    def __or__(self, other: Where) -> Where:
        return Where(
            self.expression | other.expression,
            tuple(dict.fromkeys(self.columns + other.columns)),
            lambda meta, at: self.admits(meta, at) | other.admits(meta, at),
        )

    def groups(self, meta: pq.FileMetaData, schema: pa.Schema) -> list[int]:
        at = {name: schema.get_field_index(name) for name in self.columns}
        return np.flatnonzero(self.admits(meta, at)).tolist()


def _bounds(meta: pq.FileMetaData, column: int) -> tuple[list, list, np.ndarray]:
    """Per row group of the column: min and max (raw), and whether every value is missing."""
    lows, highs, empty = [], [], np.zeros(meta.num_row_groups, dtype=bool)
    for group in range(meta.num_row_groups):  # a loop over row groups (a few per month), not rows
        chunk = meta.row_group(group).column(column)
        stats = chunk.statistics
        if stats is None or not stats.has_min_max:
            lows.append(None)
            highs.append(None)
            empty[group] = stats is not None and stats.null_count == chunk.num_values
        else:
            lows.append(stats.min_raw)
            highs.append(stats.max_raw)
    return lows, highs, empty


def key_in(column: str, values) -> Where:
    """Rows whose text `column` is one of `values`; a row group is read only if a value lies in its range."""
    wanted = text_set(values)
    keys = np.sort(np.asarray([v.encode() for v in wanted.to_pylist()], dtype=object))

    def admits(meta: pq.FileMetaData, at: dict[str, int]) -> np.ndarray:
        lows, highs, empty = _bounds(meta, at[column])
        known = np.array([low is not None for low in lows])
        low = np.array([b"" if v is None else v for v in lows], dtype=object)
        high = np.array([b"" if v is None else v for v in highs], dtype=object)
        hit = np.searchsorted(keys, low, "left") < np.searchsorted(keys, high, "right")
        return ~empty & (~known | hit) & bool(len(keys))

    return Where(pc.field(column).isin(wanted), (column,), admits)


def dated_within(columns: Sequence[str], start: pd.Timestamp, end: pd.Timestamp) -> Where:
    """Rows with one of the UTC instants `columns` in [start, end); a row group is read only if the range of
    one of those instants meets it."""
    low_us, high_us = (int(t.value // 1000) for t in (start, end))
    scalars = [pa.scalar(t.to_pydatetime(), type=pa.timestamp("us", tz="UTC")) for t in (start, end)]
    expression = functools.reduce(
        operator.or_, [(pc.field(c) >= scalars[0]) & (pc.field(c) < scalars[1]) for c in columns]
    )

    def admits(meta: pq.FileMetaData, at: dict[str, int]) -> np.ndarray:
        found = np.zeros(meta.num_row_groups, dtype=bool)
        for column in columns:  # a loop over a few instant columns
            lows, highs, empty = _bounds(meta, at[column])
            unknown = np.array([low is None for low in lows]) & ~empty
            low = np.array([high_us if v is None else v for v in lows], dtype=np.int64)
            high = np.array([low_us - 1 if v is None else v for v in highs], dtype=np.int64)
            found |= unknown | ((high >= low_us) & (low < high_us))
        return found

    return Where(expression, tuple(columns), admits)


def read_file(path, columns: list[str] | None, where: Where | None) -> pa.Table | None:
    """One file's rows (all, or those `where` keeps, from the row groups it admits); None when it admits
    no row group."""
    if where is None:
        return pq.read_table(path, columns=columns)
    file = pq.ParquetFile(path)
    groups = where.groups(file.metadata, file.schema_arrow)
    if not groups:
        return None
    needed = None if columns is None else list(dict.fromkeys([*columns, *where.columns]))
    table = file.read_row_groups(groups, columns=needed).filter(where.expression)
    return table if columns is None else table.select(columns)
