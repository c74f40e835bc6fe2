"""Where assets keep what they hand to each other: Parquet files under CHATSALES_HOME/lake.

Two layouts, chosen by the asset's `lake_layout` metadata:

- `snapshot`: the current state of something that is read or rebuilt whole (a source as it is tonight,
  the attribution of every order). A run replaces it; any partition loads the same, latest snapshot.
- `daily`: rows keyed by a `day` column (reporting-timezone date). A run writes one folder per partition
  day it covers, including empty days, so a re-run clears stale rows; a load reads exactly the days asked
  for, whichever run wrote them. A day never written is an error that names the asset and the day.

An output is a DataFrame or a dict of DataFrames (several tables of one asset). Each folder is written
beside its target and swapped in, so a crash never leaves a half-written snapshot or day visible.
"""
from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import dagster as dg
import pandas as pd

SINGLE = "__frame__"


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


def _read_tables(folder: Path) -> dict[str, pd.DataFrame]:
    return {p.stem: pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))}


def _as_tables(obj) -> dict[str, pd.DataFrame]:
    if isinstance(obj, pd.DataFrame):
        return {SINGLE: obj}
    if isinstance(obj, dict) and all(isinstance(v, pd.DataFrame) for v in obj.values()):
        return obj
    raise TypeError(f"the lake stores DataFrames or dicts of DataFrames, not {type(obj).__name__}")


def _unwrap(tables: dict[str, pd.DataFrame]):
    return tables[SINGLE] if set(tables) == {SINGLE} else tables


class LakeIOManager(dg.ConfigurableIOManager):
    """Parquet files per asset: a current snapshot, or one folder per day (see the module docstring)."""

    base_dir: str

    def _root(self, key: dg.AssetKey) -> Path:
        return Path(self.base_dir).joinpath(*key.path)

    @staticmethod
    def _layout(definition_metadata) -> str:
        layout = (definition_metadata or {}).get("lake_layout", "snapshot")
        return getattr(layout, "value", layout)

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        tables = _as_tables(obj)
        root = self._root(context.asset_key)
        if self._layout(context.definition_metadata) == "snapshot":
            _write_tables(root / "current", tables)
            return
        keys = context.asset_partition_keys if context.has_asset_partitions else []
        day_text = {name: frame["day"].astype(str) for name, frame in tables.items()}
        for name, text in day_text.items():
            stray = sorted(set(text) - set(keys))
            if stray:
                raise ValueError(f"{context.asset_key.to_user_string()}: table {name} has rows for days "
                                 f"{stray[:3]} outside the run's partitions")
        for key in keys:
            _write_tables(root / f"day={key}",
                          {name: frame[day_text[name].eq(key).to_numpy()]
                           for name, frame in tables.items()})

    def load_input(self, context: dg.InputContext):
        upstream = context.upstream_output
        root = self._root(context.asset_key)
        if self._layout(upstream.definition_metadata if upstream else None) == "snapshot":
            folder = root / "current"
            if not folder.exists():
                raise FileNotFoundError(f"{context.asset_key.to_user_string()} has never been "
                                        f"materialised: no snapshot at {folder}")
            return _unwrap(_read_tables(folder))
        parts: dict[str, list[pd.DataFrame]] = {}
        for key in context.asset_partition_keys:
            folder = root / f"day={key}"
            if not folder.exists():
                raise FileNotFoundError(f"{context.asset_key.to_user_string()} has no data for day {key}: "
                                        "materialise that partition first")
            for name, frame in _read_tables(folder).items():
                parts.setdefault(name, []).append(frame)
        return _unwrap({name: pd.concat(frames, ignore_index=True) for name, frames in parts.items()})
