"""The lake as Dagster sees it: a resource for the source datasets, the state and the catalog, and the IO
manager through which the daily assets hand their days to each other.

The IO manager writes one folder per partition day (`pipeline/<asset>/day=YYYY-MM-DD/<table>.parquet`),
including empty days, so a re-run clears stale rows; a load reads exactly the days asked for, whichever run
wrote them. A day never written is an error that names the asset and the day. Each folder is written beside
its target and swapped in, so a crash never leaves a half-written day visible.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from chatsales.lake.catalog import CATALOG_FILE, Catalog
from chatsales.lake.layout import retire_old_layout
from chatsales.lake.store import Lake, label_positions

SINGLE = "__frame__"
PIPELINE = "pipeline"


class LakeResource(dg.ConfigurableResource):
    """The lake folder (CHATSALES_LAKE_DIR) and the reporting time zone its partitions are days of."""

    lake_dir: str
    timezone: str

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """A home from before the day-local lake: its lake is moved aside and rebuilt, and the log says so."""
        retired = retire_old_layout(Path(self.lake_dir))
        if retired:
            (context.log or logging.getLogger("chatsales")).warning(retired)

    @property
    def lake(self) -> Lake:
        return Lake(Path(self.lake_dir), self.timezone)

    @property
    def catalog(self) -> Catalog:
        return Catalog(Path(self.lake_dir) / CATALOG_FILE)


def _write_tables(target: Path, tables: dict[str, pd.DataFrame]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
    staging.mkdir()
    for name, frame in tables.items():
        frame.to_parquet(staging / f"{name}.parquet", index=False)
    trash = target.with_name(f".{target.name}.old.{uuid.uuid4().hex}")
    if target.exists():
        target.rename(trash)
    staging.rename(target)
    shutil.rmtree(trash, ignore_errors=True)


def _as_tables(obj) -> dict[str, pd.DataFrame]:
    if isinstance(obj, pd.DataFrame):
        return {SINGLE: obj}
    if isinstance(obj, dict) and all(isinstance(v, pd.DataFrame) for v in obj.values()):
        return obj
    raise TypeError(f"the lake stores DataFrames or dicts of DataFrames, not {type(obj).__name__}")


class LakeIOManager(dg.ConfigurableIOManager):
    """Per-day Parquet hand-over between the daily assets (see the module docstring)."""

    lake_dir: str

    def _root(self, key: dg.AssetKey) -> Path:
        return Path(self.lake_dir, PIPELINE).joinpath(*key.path)

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        tables = _as_tables(obj)
        keys = context.asset_partition_keys
        at = {name: label_positions(frame["day"].astype(str).to_numpy(dtype=object)) for name, frame in tables.items()}
        for name, days in at.items():
            stray = sorted(set(days) - set(keys))
            if stray:
                raise ValueError(
                    f"{context.asset_key.to_user_string()}: table {name} has rows for days "
                    f"{stray[:3]} outside the run's partitions"
                )
        none = np.empty(0, dtype=np.int64)
        for key in keys:
            _write_tables(
                self._root(context.asset_key) / f"day={key}",
                {name: frame.iloc[at[name].get(key, none)] for name, frame in tables.items()},
            )

    def load_input(self, context: dg.InputContext):
        parts: dict[str, list[pd.DataFrame]] = {}
        for key in context.asset_partition_keys:
            folder = self._root(context.asset_key) / f"day={key}"
            if not folder.exists():
                raise FileNotFoundError(
                    f"{context.asset_key.to_user_string()} has no data for day {key}: materialise that partition first"
                )
            for path in sorted(folder.glob("*.parquet")):
                parts.setdefault(path.stem, []).append(pd.read_parquet(path))
        tables = {name: pd.concat(frames, ignore_index=True) for name, frames in parts.items()}
        return tables[SINGLE] if set(tables) == {SINGLE} else tables
