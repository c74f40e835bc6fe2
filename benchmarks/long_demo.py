"""A long demo history in bounded memory: the demo generator holds a whole demo in memory (about 13 GiB for
two years at 10×), so a long history is generated as consecutive eras of at most `era_days` days (of even
lengths), each a
demo of its own (its own seed), merged into one set of sources: the chat tables appended (identifiers of
later eras prefixed `eN-`, the members those of the first era), the daily order and POS files side by side
(order, receipt, customer and visitor identifiers prefixed the same way), the campaign files concatenated.

Each era brings the three weeks of conversations the generator writes before its first day, so the days
where two eras meet carry more conversations than the others; a benchmark of cost does not mind. Used by
the benchmarks only.
"""

from __future__ import annotations

import gc
import re
import shutil
import sqlite3
from datetime import date, timedelta
from pathlib import Path

from chatsales.demo import generate_demo
from chatsales.demo.generator import DemoManifest

PREFIXED = ("visitor_id", "request_id", "chatroom_id", "message_id", "rating_id", "event_id", "linked_visitor_id")


def _append_chat(target: Path, era: Path, prefix: str) -> None:
    conn = sqlite3.connect(target)
    try:
        conn.execute("ATTACH DATABASE ? AS era", (str(era),))
        tables = [row[0] for row in conn.execute("SELECT name FROM era.sqlite_master WHERE type = 'table'")]
        for table in tables:  # a loop over tables
            if table == "members":
                continue
            columns = [row[1] for row in conn.execute(f"PRAGMA era.table_info({table})")]
            values = ", ".join(
                f"CASE WHEN {c} IS NULL THEN NULL ELSE '{prefix}' || {c} END" if c in PREFIXED else c for c in columns
            )
            conn.execute(f"INSERT INTO main.{table} ({', '.join(columns)}) SELECT {values} FROM era.{table}")
        conn.commit()
        conn.execute("DETACH DATABASE era")
    finally:
        conn.close()


def _merge_file(path: Path, pattern: str, replacement: str, target: Path, header: bool) -> None:
    """The file with its identifiers prefixed, appended to `target` (without its header line if `target`
    has one already: an order update of an era may fall on a day the next era also writes)."""
    body = re.sub(pattern, replacement, path.read_text(), flags=re.MULTILINE)
    if header and target.exists():
        body = body.split("\n", 1)[1]
    with open(target, "a") as merged:
        merged.write(body)


def long_demo(
    out_dir: Path,
    first_day: date,
    days: int,
    scale: float,
    *,
    era_days: int = 90,
    seed: int = 7,
    timezone: str = "Europe/Paris",
    withhold_late_store_file: bool = False,
) -> DemoManifest:
    """The demo of `days` days from `first_day`, generated era by era (see the module docstring)."""
    out_dir = Path(out_dir)
    if days <= era_days:
        return generate_demo(
            out_dir,
            first_day,
            days=days,
            scale=scale,
            seed=seed,
            timezone=timezone,
            withhold_late_store_file=withhold_late_store_file,
        )
    shutil.rmtree(out_dir, ignore_errors=True)
    eras_dir = out_dir.with_name(out_dir.name + ".eras")
    counts: dict[str, int] = {}
    last = None
    count = -(-days // era_days)  # eras of even length: none too short for the demo
    lengths = [days // count + (n < days % count) for n in range(count)]
    for n, length in enumerate(lengths):
        start = sum(lengths[:n])
        era_first = first_day + timedelta(days=start)
        final = n == count - 1
        era = generate_demo(
            eras_dir / f"era{n}",
            era_first,
            days=length,
            scale=scale,
            seed=seed + n,
            timezone=timezone,
            withhold_late_store_file=withhold_late_store_file and final,
        )
        prefix = f"e{n}-"
        if n == 0:
            shutil.copytree(era.out_dir, out_dir)
        else:
            _append_chat(out_dir / "chat.db", era.chat_db_path, prefix)
            ids = r'("(?:order_id|visitor_id|customer_id)": ")'
            for file in sorted(era.orders_dir.glob("*.jsonl")):  # a loop over daily files
                _merge_file(file, ids, rf"\g<1>{prefix}", out_dir / "orders" / file.name, header=False)
            for folder in ("store_sales", "late"):
                (out_dir / folder).mkdir(exist_ok=True)
                for file in sorted((era.out_dir / folder).glob("*.csv")):
                    _merge_file(file, r"^R", f"{prefix}R", out_dir / folder / file.name, header=True)
            for file in sorted(era.campaigns_dir.glob("*.csv")):
                _merge_file(file, r"^cp-", f"{prefix}cp-", out_dir / "campaigns" / file.name, header=True)
        for key, value in era.counts.items():
            counts[key] = counts.get(key, 0) + value
        last = era
        shutil.rmtree(era.out_dir)
        del era
        gc.collect()
    shutil.rmtree(eras_dir, ignore_errors=True)
    late = out_dir / last.late_store_file.relative_to(last.out_dir)
    return DemoManifest(
        out_dir=out_dir,
        chat_db_path=out_dir / "chat.db",
        orders_dir=out_dir / "orders",
        store_sales_dir=out_dir / "store_sales",
        campaigns_dir=out_dir / "campaigns",
        first_day=first_day,
        last_day=first_day + timedelta(days=days - 1),
        counts=counts,
        late_store_file=late,
    )
