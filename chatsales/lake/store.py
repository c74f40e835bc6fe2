"""Partitioned Parquet datasets: read a few partitions or all of them, write one atomically, upsert rows by key.

A dataset is a folder of partitions (`day=…`, `month=…` or `whole`), each one Parquet file. Rows are unique
by the dataset's key. `upsert` is how everything read gets in: it writes only the partitions whose rows
really change, and returns the rows that changed with the versions they replaced, which is what the
late-data sensor and the state tables are computed from.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from chatsales import schema
from chatsales.lake.where import Where, key_in, read_file

PART_FILE = "part.parquet"
UNDATED = "undated"  # the partition of rows whose partition instant is missing (a visitor's created_at)
WHOLE = "whole"


@dataclass(frozen=True)
class Dataset:
    """Where a dataset lives, what identifies a row, and which instant puts it in a partition."""

    path: str  # relative to the lake root
    key: tuple[str, ...]
    by: str | None  # the UTC instant column that partitions it; None: whole
    grain: str = "day"  # "day" or "month" of that instant, in the reporting zone
    columns: Mapping[str, str] = field(default_factory=dict)  # schema of its rows (schema.py dtypes)
    # rows per Parquet row group, for datasets read by key (files are sorted by key, so a lookup of a few keys
    # decodes the few row groups whose key range holds one); None: Arrow's default (one group per file here)
    row_group_rows: int | None = None

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass
class Upserted:
    """What an upsert changes: the new or different rows, the stored versions they replace, and the
    partitions to write (written by `Lake.apply`, so that a caller can record the change first)."""

    new: pd.DataFrame
    old: pd.DataFrame
    partitions: list[str]
    writes: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    dataset: Dataset | None = None

    def __bool__(self) -> bool:
        return len(self.new) > 0 or len(self.old) > 0


def part_labels(instants: pd.Series, grain: str, timezone: str) -> np.ndarray:
    """The partition label of each UTC instant: its local day (YYYY-MM-DD) or month (YYYY-MM)."""
    local = instants.dt.tz_convert(timezone)
    number = (local.dt.year * 100 + local.dt.month) * (100 if grain == "day" else 1)
    if grain == "day":
        number = number + local.dt.day
    found, codes = np.unique(number.fillna(0).astype("int64").to_numpy(), return_inverse=True)
    # each distinct day or month spelled once, not once per row: strftime on every row cost seconds at 10×
    if grain == "day":
        names = [f"{n // 10000:04d}-{n // 100 % 100:02d}-{n % 100:02d}" if n else UNDATED for n in found]
    else:
        names = [f"{n // 100:04d}-{n % 100:02d}" if n else UNDATED for n in found]
    return np.array(names, dtype=object)[codes.reshape(-1)]


def key_hashes(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """A 64-bit hash per row of `columns`: set operations on keys without building tuples."""
    if not len(frame):
        return np.empty(0, dtype=np.uint64)
    return pd.util.hash_pandas_object(frame[list(columns)], index=False).to_numpy()


def conform(frame: pd.DataFrame, ds: Dataset) -> pd.DataFrame:
    """The frame in the dataset's schema (columns, order, dtypes), when the dataset declares one."""
    return schema.conform(frame, dict(ds.columns)) if ds.columns else frame


class Lake:
    """The datasets under one root folder; partition labels are taken in `timezone`."""

    def __init__(self, root: Path | str, timezone: str):
        self.root = Path(root)
        self.timezone = timezone

    # --- paths ---------------------------------------------------------------------------------------
    def folder(self, ds: Dataset) -> Path:
        return self.root / ds.path

    def _file(self, ds: Dataset, part: str) -> Path:
        if ds.by is None:
            return self.folder(ds) / WHOLE / PART_FILE
        return self.folder(ds) / f"{ds.grain}={part}" / PART_FILE

    def partitions(self, ds: Dataset) -> list[str]:
        """The labels of the partitions stored, sorted (undated last)."""
        folder = self.folder(ds)
        if ds.by is None:
            return [WHOLE] if (folder / WHOLE / PART_FILE).exists() else []
        prefix = f"{ds.grain}="
        found = [p.name.removeprefix(prefix) for p in folder.glob(prefix + "*") if (p / PART_FILE).exists()]
        return sorted(found, key=lambda label: (label == UNDATED, label))

    def labels_for(self, ds: Dataset, frame: pd.DataFrame) -> np.ndarray:
        if ds.by is None:
            return np.full(len(frame), WHOLE, dtype=object)
        return part_labels(frame[ds.by], ds.grain, self.timezone)

    # --- reading -------------------------------------------------------------------------------------
    def read(
        self,
        ds: Dataset,
        parts: Iterable[str] | None = None,
        columns: Sequence[str] | None = None,
        where: Where | None = None,
    ) -> pd.DataFrame:
        """The rows of the given partitions (default: all), in partition then key order; with `where`, only
        the rows it keeps, from the row groups whose statistics admit one (`where.py`), so the memory and the
        time follow the rows kept. Given partitions are looked up one by one rather than
        by listing the dataset: a day's read costs the same after years."""
        if parts is None:
            files = [self._file(ds, p) for p in self.partitions(ds)]
        else:  # a dataset kept whole has one partition, WHOLE: a day's label names none of it
            labels = [p for p in dict.fromkeys(parts) if ds.by is not None or p == WHOLE]
            files = [f for f in (self._file(ds, p) for p in labels) if f.exists()]
        if not files:
            empty = schema.empty(dict(ds.columns)) if ds.columns else pd.DataFrame()
            return empty if columns is None or empty.empty and not len(empty.columns) else empty[list(columns)]
        wanted = list(columns) if columns else None
        with ThreadPoolExecutor(max_workers=4) as pool:
            tables = [t for t in pool.map(lambda f: read_file(f, wanted, where), files) if t is not None]
        if not tables:
            return self.read(ds, [], columns)
        return _frame(ds, tables, columns)

    def digests(self, ds: Dataset) -> dict[str, str]:
        """Per stored partition, in order, a digest of its file's bytes: what tells a reader which partitions
        changed since it last looked, without decoding any."""

        def digest(label: str) -> str:
            h = hashlib.sha1()
            with open(self._file(ds, label), "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            return h.hexdigest()

        labels = self.partitions(ds)
        with ThreadPoolExecutor(max_workers=4) as pool:
            return dict(zip(labels, pool.map(digest, labels)))

    def read_matching(self, ds: Dataset, column: str, values, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The rows whose text `column` is one of `values`, from every partition. By the dataset's first key
        column, only the row groups whose key range holds a value are decoded; by another column, that column
        and the key are read first (to find the keys), then the rows by key. Either way the memory follows
        the rows wanted, not the history."""
        if column == ds.key[0] or len(ds.key) != 1:
            return self.read(ds, columns=columns, where=key_in(column, values))
        keys = self.read(ds, columns=[ds.key[0], column], where=key_in(column, values))[ds.key[0]]
        return self.read(ds, columns=columns, where=key_in(ds.key[0], keys))

    def regroup(self, ds: Dataset) -> int:
        """Rewrite the partitions whose row groups are larger than the dataset's (files written before it
        declared one), with the same rows; returns how many were rewritten. Safe to stop and run again."""
        if ds.row_group_rows is None:
            return 0
        rewritten = 0
        for label in self.partitions(ds):  # a loop over partitions, one at a time: memory stays one file's
            meta = pq.ParquetFile(self._file(ds, label)).metadata
            if max(meta.row_group(i).num_rows for i in range(meta.num_row_groups)) > ds.row_group_rows:
                self.write(ds, label, self.read(ds, [label]))
                rewritten += 1
        return rewritten

    def read_days(self, ds: Dataset, first: date, last: date, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The rows of the day partitions first..last (inclusive)."""
        labels = [d.isoformat() for d in pd.date_range(first, last, freq="D").date]
        return self.read(ds, labels, columns)

    # --- writing -------------------------------------------------------------------------------------
    def write(self, ds: Dataset, part: str, frame: pd.DataFrame) -> None:
        """Replace one partition (an empty frame removes it), atomically."""
        target = self._file(ds, part)
        if frame.empty:
            if target.exists():
                target.unlink()
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{uuid.uuid4().hex}.parquet")
        table = pa.Table.from_pandas(frame, preserve_index=False)
        pq.write_table(table, staging, compression="zstd", row_group_size=ds.row_group_rows)
        os.replace(staging, target)

    def replace_all(self, ds: Dataset, frame: pd.DataFrame) -> None:
        """The dataset becomes exactly `frame` (every other partition removed)."""
        frame = conform(frame, ds)
        labels = self.labels_for(ds, frame)
        present = set(self.partitions(ds))
        for label, at in sorted(label_positions(labels).items()):
            self.write(ds, label, self._sorted(ds, frame.iloc[at]))
        for label in present - set(labels):
            self._file(ds, label).unlink()

    def upsert(
        self,
        ds: Dataset,
        frame: pd.DataFrame,
        remove: Mapping[str, pd.DataFrame] | None = None,
        group: Sequence[str] | None = None,
    ) -> Upserted:
        """`plan_upsert`, then `apply`."""
        planned = self.plan_upsert(ds, frame, remove, group)
        self.apply(planned)
        return planned

    def apply(self, planned: Upserted) -> None:
        """Write the partitions an upsert planned (atomically each; re-applying is harmless)."""
        for label, rows in planned.writes.items():
            self.write(planned.dataset, label, rows)

    def plan_upsert(
        self,
        ds: Dataset,
        frame: pd.DataFrame,
        remove: Mapping[str, pd.DataFrame] | None = None,
        group: Sequence[str] | None = None,
    ) -> Upserted:
        """Insert the rows of `frame` or replace the stored rows with the same key, partition by partition.

        A row identical to the stored one is no change. With `group` (e.g. an order's lines by order_id), the
        incoming rows of a group replace every stored row of that group. `remove` holds, per partition, rows
        whose key (or group) to delete there (a record whose partition instant moved). Partitions without a
        change are not rewritten.
        """
        match = list(group or ds.key)
        frame = conform(frame.drop_duplicates(list(ds.key), keep="last"), ds).reset_index(drop=True)
        labels = self.labels_for(ds, frame)
        remove = {label: rows for label, rows in (remove or {}).items() if len(rows)}
        touched = sorted(set(labels) | set(remove))  # read skips the partitions not stored yet
        stored = self.read(ds, touched).reset_index(drop=True)
        if stored.empty:
            stored = frame.iloc[:0]
        stored_labels = self.labels_for(ds, stored) if ds.by is not None or len(stored) else np.empty(0, object)
        if ds.by is None:
            stored_labels = np.full(len(stored), WHOLE, dtype=object)
        in_keys, st_keys = _keyed(frame, match, labels), _keyed(stored, match, stored_labels)
        # an incoming row is unchanged when a stored row of its key is identical: only those stored rows are
        # hashed whole, not every row of the partitions read
        same_key = np.isin(st_keys, in_keys)
        in_rows, st_rows = _row_hashes(frame), np.zeros(len(stored), dtype=np.uint64)
        st_rows[same_key] = _row_hashes(stored[same_key])
        changed = ~np.isin(in_rows, st_rows[same_key])
        if group:  # a group that lost a row changed too: its new rows all count as changed
            lost = same_key & ~np.isin(st_rows, in_rows)
            changed |= np.isin(in_keys, st_keys[lost])
        gone = np.zeros(len(stored), dtype=bool)
        if remove:
            doomed = pd.concat([rows[match].assign(_part=label) for label, rows in remove.items()], ignore_index=True)
            gone = np.isin(st_keys, _keyed(doomed, match, doomed.pop("_part").to_numpy(dtype=object)))
        replaced = np.isin(st_keys, in_keys[changed])
        affected = sorted(set(labels[changed]) | set(stored_labels[gone]))
        keep_stored = ~(replaced | gone) & ~np.isin(st_keys, in_keys)
        kept = np.flatnonzero(keep_stored)
        kept_at, incoming_at = label_positions(stored_labels[kept]), label_positions(labels)
        none = np.empty(0, dtype=np.int64)
        writes = {}
        for label in affected:  # a loop over the partitions that change, not rows
            rows = pd.concat(
                [stored.iloc[kept[kept_at.get(label, none)]], frame.iloc[incoming_at.get(label, none)]],
                ignore_index=True,
            )
            writes[label] = self._sorted(ds, rows)
        return Upserted(
            frame[changed].reset_index(drop=True), stored[replaced | gone].reset_index(drop=True), affected, writes, ds
        )

    @staticmethod
    def _sorted(ds: Dataset, frame: pd.DataFrame) -> pd.DataFrame:
        return frame.sort_values(list(ds.key), kind="stable").reset_index(drop=True)


def _frame(ds: Dataset, tables: list[pa.Table], columns: Sequence[str] | None) -> pd.DataFrame:
    """Partitions read, as one frame of the dataset's dtypes."""
    table = pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]
    frame = table.to_pandas()
    if ds.columns:
        wanted_columns = {c: t for c, t in ds.columns.items() if columns is None or c in columns}
        frame = frame.astype({c: t for c, t in wanted_columns.items() if c in frame.columns})
    return frame


def label_positions(labels: np.ndarray) -> dict[str, np.ndarray]:
    """The positions of each label's rows, in order, found with one sort: selecting each partition's rows by
    comparing every label cost partitions × rows."""
    codes, uniques = pd.factorize(labels)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    return {label: order[bounds[n] : bounds[n + 1]] for n, label in enumerate(uniques)}


def _row_hashes(frame: pd.DataFrame) -> np.ndarray:
    return key_hashes(frame, list(frame.columns))


def _keyed(frame: pd.DataFrame, columns: Sequence[str], labels: np.ndarray) -> np.ndarray:
    """Hashes of (key columns, partition label): a key is unique within its partition."""
    if not len(frame):
        return np.empty(0, dtype=np.uint64)
    return pd.util.hash_pandas_object(frame[list(columns)].assign(_part=labels), index=False).to_numpy()
