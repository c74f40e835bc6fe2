"""Writes a seeded demo dataset in exactly the shape of data-contract.md: the chat database (SQLite), orders
JSONL, POS CSV files and campaigns. Same seed, same bytes. The folder is built beside its target and swapped
in, so a half-written dataset is never visible."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from chatsales.demo import chat, commerce, files
from chatsales.demo.clock import Clock
from chatsales.demo.files import CHAT_DDL
from chatsales.demo.profile import DEMO_PROFILE, DemoProfile

__all__ = ["CHAT_DDL", "DemoManifest", "DemoPlan", "build_demo", "generate_demo", "plan_demo"]

HISTORY_DAYS = 21  # the platform's conversations start three weeks before the first reported day
LATE_DAYS = 3  # the late store file arrives three days after its day


@dataclass(frozen=True)
class DemoManifest:
    out_dir: Path
    chat_db_path: Path
    orders_dir: Path
    store_sales_dir: Path
    campaigns_dir: Path
    first_day: date
    last_day: date
    counts: dict[str, int]
    late_store_file: Path


@dataclass(frozen=True)
class DemoPlan:
    """Sizes of a demo before anything is generated: the figures `scale` multiplies."""

    members: int
    stores: int
    requests: int  # over the reported days plus the history before them
    web_orders: int
    receipts: int
    campaigns: int


def plan_demo(days: int, scale: float) -> DemoPlan:
    """Scale 1.0 over 90 days: ~40 members, ~30k chatrooms, ~300k messages, ~40k web orders, ~10k receipts."""
    per_day = scale / 90
    return DemoPlan(
        members=max(5, round(40 * scale)),
        stores=int(np.clip(round(8 * scale), 2, 60)),
        requests=max(80, round(32_500 * per_day * (days + HISTORY_DAYS))),
        web_orders=max(80, round(40_000 * per_day * days)),
        receipts=max(30, round(10_000 * per_day * days)),
        campaigns=max(4, round(12 * scale * days / 90)),
    )


def build_demo(first_day: date, days: int, scale: float, seed: int, timezone: str, profile: DemoProfile = DEMO_PROFILE):
    """Everything the files hold, as arrays, without writing:
    (clock, chat world, catalog, web orders, receipts, (campaigns, clicks), late (store, day), rng).
    `profile` holds the proportions (profile.py)."""
    if days < LATE_DAYS + 1:
        raise ValueError(
            f"the demo needs at least {LATE_DAYS + 1} days (its late store file arrives "
            f"{LATE_DAYS} days late), got days={days}"
        )
    rng = np.random.default_rng(seed)
    plan = plan_demo(days, scale)
    clock = Clock(first_day, days, timezone)
    history = Clock(first_day - timedelta(days=HISTORY_DAYS), days + HISTORY_DAYS, timezone)
    end = clock.end  # the data is a snapshot at the end of the last day
    cat = commerce.catalog(rng)
    world = chat.generate_chat(
        rng, history, end, plan.requests, plan.members, plan.stores, cat.popularity, cat.product_ids, profile.chat
    )
    orders = commerce.web_orders(rng, clock, end, plan.web_orders, world, cat, profile.commerce)
    late = (0, days - 1 - LATE_DAYS)  # store st-00, the day three days before the last
    receipts = commerce.receipts(rng, clock, end, plan.receipts, plan.stores, world, cat, *late, profile.commerce)
    camp, clicks = commerce.campaigns(rng, clock, end, plan.campaigns, orders, profile.commerce)
    return clock, world, cat, orders, receipts, (camp, clicks), late, rng


def generate_demo(
    out_dir: Path,
    first_day: date,
    days: int = 90,
    scale: float = 1.0,
    seed: int = 7,
    timezone: str = "Europe/Paris",
    currency: str = "EUR",
    withhold_late_store_file: bool = False,
    profile: DemoProfile = DEMO_PROFILE,
) -> DemoManifest:
    """Writes the demo into `out_dir` (replacing what is there) and describes it."""
    clock, world, cat, orders, receipts, (camp, clicks), late, rng = build_demo(
        first_day, days, scale, seed, timezone, profile
    )
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.with_name(f".{out_dir.name}.{uuid.uuid4().hex[:8]}")
    try:
        for sub in ("orders", "store_sales", "campaigns", "late"):
            (staging / sub).mkdir(parents=True)
        counts = files.write_chat_db(staging / "chat.db", world.columns)
        counts.update(
            files.write_orders(staging / "orders", clock, orders, cat, currency, rng, profile.commerce.orders)
        )
        late_path, more = files.write_store_sales(
            staging / "store_sales",
            staging / "late" if withhold_late_store_file else None,
            clock,
            receipts,
            cat,
            currency,
            late,
        )
        counts.update(more)
        counts.update(files.write_campaigns(staging / "campaigns", clock, camp, clicks))
        if out_dir.exists():
            trash = out_dir.with_name(f".{out_dir.name}.old.{uuid.uuid4().hex[:8]}")
            out_dir.rename(trash)
            staging.rename(out_dir)
            shutil.rmtree(trash)
        else:
            staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return DemoManifest(
        out_dir=out_dir,
        chat_db_path=out_dir / "chat.db",
        orders_dir=out_dir / "orders",
        store_sales_dir=out_dir / "store_sales",
        campaigns_dir=out_dir / "campaigns",
        first_day=first_day,
        last_day=first_day + timedelta(days=days - 1),
        counts=counts,
        late_store_file=out_dir / late_path.relative_to(staging),
    )
