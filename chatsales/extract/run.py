"""One night's extraction of each source, from its watermark to the lake, recorded in the catalog.

Every extraction follows the same three steps, so that a crash at any point loses nothing:
1. record the extraction (not complete yet) and the day spans it changes in the change log;
2. write the lake partitions;
3. record the files read, the order index and the watermark, and mark it complete.
A crash after 1 re-runs some days for nothing; a crash after 2 makes the next night read the same files and
rows again, which changes nothing in the lake but is recorded again. The watermark only moves in step 3.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd

from chatsales.contract import SourceFrames, SourceSetupError, concat_rejects
from chatsales.conversation_state import (
    KEYED_ROWS,
    REQUESTS,
    ROOM_PRODUCT,
    ROOMS,
    STATE_DATASETS,
    WHOLE_PRODUCTS,
    StateUpdate,
    update_state,
)
from chatsales.days import SESSION_DAYS_KEY
from chatsales.extract import Extracted, empty_changes
from chatsales.extract.chat import TOUCHED_KEY, extract_chat
from chatsales.extract.files import changed_files
from chatsales.extract.orders import extract_orders
from chatsales.lake.catalog import Catalog, utc_now
from chatsales.lake.chat_index import KEYED, key_rows
from chatsales.lake.store import Lake, Upserted
from chatsales.pii import key_fingerprint

STATE_SOURCE = "conversation_state"
STATE_CURSOR = "state_extraction"


class RejectsOverThreshold(RuntimeError):
    """A source's rejects pass CHATSALES_REJECT_THRESHOLD: nothing of it is written."""


@dataclass
class Planned:
    """An extraction read and checked, not written yet: `write()` records and writes it."""

    extracted: Extracted
    write: Callable[[], int]


def commit(
    lake: Lake,
    catalog: Catalog,
    extracted: Extracted,
    upserts: list[Upserted],
    *,
    run_id: str | None,
    started_at: str,
    scope_since: str | None = None,
    files: pd.DataFrame | None = None,
    index: pd.DataFrame | None = None,
    chat_keys: dict[str, pd.DataFrame] | None = None,
    watermark: str | None = None,
    meta: dict[str, str] | None = None,
) -> int:
    """Steps 1-3 above; returns the extraction's id."""
    with catalog.transaction() as conn:
        extraction = catalog.record_extraction(
            conn,
            extracted.source,
            run_id=run_id,
            started_at=started_at,
            scope_since=scope_since,
            read_rows=extracted.read_rows,
            rejects=extracted.reject_rows,
            changes=extracted.changes,
            watermark=watermark,
        )
    for upsert in upserts:
        lake.apply(upsert)
    with catalog.transaction() as conn:
        if files is not None and len(files):
            catalog.record_files(conn, extracted.source, files)
        if index is not None and len(index):
            catalog.write_order_index(conn, index)
        if chat_keys is not None:
            catalog.write_chat_keys(conn, *key_rows(chat_keys))
        for key, value in (meta or {}).items():
            catalog.set(key, value, conn)
        catalog.complete(conn, extraction, {u.dataset.path: u.partitions for u in upserts if u.partitions})
    extracted.extraction_id = extraction
    return extraction


def rejects_problem(extracted: Extracted, threshold: float) -> str | None:
    """One line when a read's rejects pass the threshold (a rejected file counts by its rows)."""
    if extracted.reject_share > threshold:
        return (
            f"{extracted.source}: {extracted.reject_rows:,} of {extracted.read_rows + extracted.reject_rows:,} "
            f"rows rejected ({extracted.reject_share:.1%}), above CHATSALES_REJECT_THRESHOLD={threshold:g}; "
            "nothing of this source was written (see the rejects table; --force publishes anyway)"
        )
    return None


def check_rejects(extracted: Extracted, threshold: float, force: bool) -> None:
    """Refuse a read whose rejects pass the threshold, unless forced."""
    problem = rejects_problem(extracted, threshold)
    if problem and not force:
        raise RejectsOverThreshold(problem)


PII_KEY_MARK = "pii_key_fingerprint"  # catalog meta: which key the lake's email hashes were made with


def check_pii_key(catalog: Catalog, pii_key: str) -> None:
    """Every email hash in the lake was made with one key, and a night reads only what is new: with another
    key its new hashes would never meet the kept ones, so a read stops before it starts. The first read (or
    the first since this check exists) records the key's fingerprint."""
    mark, kept = key_fingerprint(pii_key), catalog.get(PII_KEY_MARK)
    if kept is None:
        catalog.set(PII_KEY_MARK, mark)
    elif kept != mark:
        raise SourceSetupError(
            f"CHATSALES_PII_KEY is not the key the lake at {catalog.path.parent} was built with (its emails "
            "are hashed with the other one, so they would not match new ones): put the key back, or to rotate "
            "it move the lake aside and publish the history again (docs/operations.md, rotating the PII key)"
        )


def nothing_new(
    source: str, lake: Lake, catalog: Catalog, *, run_id: str | None, started_at: str, touched: pd.DataFrame
) -> Planned:
    """A file source with no new or changed file: nothing read (no file's rejects replaced), the files whose
    stat alone moved recorded."""
    extracted = Extracted(source, 0, concat_rejects([]), {}, empty_changes(), "no new or changed file")
    extracted.details["files"] = []
    return Planned(
        extracted, lambda: commit(lake, catalog, extracted, [], run_id=run_id, started_at=started_at, files=touched)
    )


def plan_chat_platform(
    url: str,
    lake: Lake,
    catalog: Catalog,
    *,
    pii_key: str,
    horizon_days: int,
    window_days: int,
    run_id: str | None = None,
    now: datetime | None = None,
) -> Planned:
    check_pii_key(catalog, pii_key)
    now = now or datetime.now(UTC)
    extracted, upserted = extract_chat(
        url, lake, catalog, pii_key=pii_key, horizon_days=horizon_days, window_days=window_days, now=now, run_id=run_id
    )
    longest = _longest_session_days(upserted["member_sessions"].new)

    def write() -> int:
        done = commit(
            lake,
            catalog,
            extracted,
            list(upserted.values()),
            run_id=run_id,
            started_at=now.isoformat(),
            scope_since=extracted.scope,
            chat_keys={table: upserted[table].new for table in (*KEYED, "visitors", "identity_links")},
            watermark=extracted.details["signature"],
        )
        through = extracted.details["touched_through"]
        if through is not None:  # after the commit: a crash in between only makes the next read wider
            catalog.set(TOUCHED_KEY, through)
        if longest > int(catalog.get(SESSION_DAYS_KEY) or 1):
            catalog.set(SESSION_DAYS_KEY, str(longest))
        return done

    return Planned(extracted, write)


def _longest_session_days(sessions: pd.DataFrame) -> int:
    """Whole days a session may span back from a day (the day facts read sessions started that far back)."""
    if sessions.empty:
        return 1
    return int(((sessions["ended_at"] - sessions["started_at"]).max() / pd.Timedelta(days=1)) // 1) + 1


def plan_file_orders(
    source: str,
    folder: Path,
    pattern: str,
    read: Callable[[set[str]], SourceFrames],
    lake: Lake,
    catalog: Catalog,
    *,
    pii_key: str,
    run_id: str | None = None,
) -> Planned:
    """Orders or receipts from the files of `folder` that are new or changed (`read(names)` reads them)."""
    check_pii_key(catalog, pii_key)
    started = utc_now()
    to_read, touched = changed_files(folder, pattern, catalog.files(source))
    names = set(to_read["name"])
    frames = read(names) if names else None
    if frames is None:
        return nothing_new(source, lake, catalog, run_id=run_id, started_at=started, touched=touched)
    statuses = to_read["status"].value_counts()
    scope = ", ".join(f"{n} {status} file{'s' if n > 1 else ''}" for status, n in statuses.items())
    extracted, plan = extract_orders(frames, source, lake, catalog, pii_key=pii_key, scope=scope)
    rows = _rows_per_file(frames, to_read)
    extracted.details["files"] = sorted(names)
    return Planned(
        extracted,
        lambda: commit(
            lake,
            catalog,
            extracted,
            plan.upserts,
            run_id=run_id,
            started_at=started,
            index=plan.index,
            files=pd.concat([rows, touched], ignore_index=True),
        ),
    )


def _rows_per_file(frames: SourceFrames, files: pd.DataFrame) -> pd.DataFrame:
    # the file of file:line (rpartition gives no columns on an empty read: every row rejected)
    located = frames.frames["orders"]["source_location"].astype("str").str.replace(r":[^:]*$", "", regex=True)
    counts = located.value_counts()
    return files.drop(columns="status").assign(rows=files["name"].map(counts).fillna(0).astype("int64"))


def plan_pulled_orders(
    pull: Callable[[str | None], tuple[SourceFrames, str | None]],
    lake: Lake,
    catalog: Catalog,
    *,
    pii_key: str,
    run_id: str | None = None,
) -> Planned:
    """Live orders (Shopify): those updated since the last pull's newest `updated_at` (`pull(since)` returns
    the frames and the new watermark)."""
    check_pii_key(catalog, pii_key)
    started = utc_now()
    last = catalog.last_extraction("web_orders")
    since = last["watermark"] if last else None
    frames, watermark = pull(since)
    extracted, plan = extract_orders(
        frames,
        "web_orders",
        lake,
        catalog,
        pii_key=pii_key,
        scope=f"orders updated since {since}" if since else "every order",
    )
    return Planned(
        extracted,
        lambda: commit(
            lake,
            catalog,
            extracted,
            plan.upserts,
            run_id=run_id,
            started_at=started,
            index=plan.index,
            watermark=watermark or since,
        ),
    )


STATE_LAYOUT = "state_layout"  # catalog meta: the layout of the state's files
KEYED_LAYOUT = f"by key in row groups of {KEYED_ROWS}, products shown by month"


def regroup_state(lake: Lake, catalog: Catalog) -> str | None:
    """Once, for a lake kept before the state was read by key: rewrite its state files in small row groups
    (same rows), so that a lookup decodes only the groups holding a wanted key, and split the products shown,
    kept whole until then, by month. Returns what was done, for the run's log, or None when nothing had to
    be. Safe to stop and run again: each file is replaced atomically, the old whole file removed last."""
    if catalog.get(STATE_LAYOUT) == KEYED_LAYOUT:
        return None
    split = lake.partitions(WHOLE_PRODUCTS)
    if split:
        lake.replace_all(ROOM_PRODUCT, lake.read(WHOLE_PRODUCTS))
        lake.write(WHOLE_PRODUCTS, split[0], lake.read(WHOLE_PRODUCTS, []))  # an empty frame removes it
    rewritten = {ds.name: lake.regroup(ds) for ds in STATE_DATASETS}
    catalog.set(STATE_LAYOUT, KEYED_LAYOUT)
    done = [f"{n} {name} file(s) rewritten in row groups of {KEYED_ROWS} rows" for name, n in rewritten.items() if n]
    if split:
        done.append("the products shown split by month")
    if not done:
        return None
    facts = rewritten[ROOMS.name] or rewritten[REQUESTS.name]
    return (
        "state files rewritten for reads by key (once, after the upgrade): "
        + ", ".join(done)
        + ("; the next publication builds the chatroom and request facts of every month once" if facts else "")
    )


def refresh_state(
    lake: Lake, catalog: Catalog, *, today: date, window_days: int, rebuild: bool = False, run_id: str | None = None
) -> StateUpdate:
    """The conversation state brought up to date with the chat extractions since its last update."""
    cursor = int(catalog.get(STATE_CURSOR) or 0)
    last, written = catalog.written_since("chat_platform", cursor)
    update, plans = update_state(lake, None if rebuild else written, today=today, window_days=window_days)
    extracted = Extracted(
        STATE_SOURCE,
        sum(update.changed.values()),
        concat_rejects([]),
        update.changed,
        update.changes,
        "rebuilt from the lake" if rebuild else f"chat extractions {cursor}..{last}",
    )
    commit(lake, catalog, extracted, plans, run_id=run_id, started_at=utc_now())
    catalog.set(STATE_CURSOR, str(last))
    return update
