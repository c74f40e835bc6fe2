"""A night costs one day: the history published night by night (each night the nightly partition, then the
late-data sensor's re-runs) equals one backfill of the same data, table by table, fact by fact.

The demo's sources are replayed as they stood at the end of each night (chatsales.demo.arrivals): ratings
answered days later, questions asked late, requests handled late or canceled, email fills, new messages in
old chatrooms, dialogues established days after their start, refunds and cancellations in later exports, a
store file three days late, offsite link clicks, sales credited to dialogues of earlier days, campaign clicks.
On top: a message inserted late with an old timestamp, and a POS file delivered again with a correction."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import timedelta

import dagster as dg
import pandas as pd
import pytest

from chatsales.demo import generate_demo
from chatsales.settings import today_in
from pipelines.definitions import definitions_for
from pipelines.jobs import SNAPSHOTS_JOB
from tests.nights import nights, published, run, settings_for

TZ = "Europe/Paris"
DAYS = 10
LAST = today_in(TZ) - timedelta(days=1)
FIRST = LAST - timedelta(days=DAYS - 1)


def _late_message(night, sources):
    """From the 7th night on, the platform holds a member message sent three days before that night, in the
    first chatroom where only the visitor had written so far: inserted late, it establishes a dialogue on an
    already published day."""
    due = FIRST + timedelta(days=6)
    if night < due:
        return
    conn = sqlite3.connect(sources["chat_db"])
    try:
        sent = (pd.Timestamp(due - timedelta(days=3)).tz_localize(TZ) + pd.Timedelta(hours=15)).tz_convert("UTC")
        stamp = sent.strftime("%Y-%m-%d %H:%M:%S")
        room = conn.execute(
            "SELECT m.chatroom_id FROM messages m JOIN chatrooms c USING (chatroom_id) WHERE NOT c.is_internal "
            "GROUP BY m.chatroom_id HAVING sum(m.sender = 'member' AND NOT m.is_automatic) = 0 "
            "AND min(CASE WHEN m.sender = 'visitor' AND NOT m.is_automatic THEN m.sent_at END) < ? "
            "ORDER BY m.chatroom_id LIMIT 1",
            (stamp,),
        ).fetchone()[0]
        conn.execute("INSERT INTO messages VALUES ('late-msg-1', ?, 'member', ?, 0, 'text', NULL, NULL)", (room, stamp))
        conn.commit()
    finally:
        conn.close()


def _corrected_store_file(night, sources):
    """On the 9th night a POS file of the 6th day is delivered again, one line's amount corrected."""
    if night != FIRST + timedelta(days=8):
        return
    day = FIRST + timedelta(days=5)
    path = sorted(sources["store_sales"].glob(f"store-*-{day}.csv"))[0]
    lines = path.read_text().splitlines()
    head, first = lines[0].split(","), lines[1].split(",")
    amount, quantity = head.index("line_amount"), head.index("quantity")
    first[amount] = f"{float(first[amount]) + 7.5 * int(first[quantity]):.2f}"
    path.write_text("\n".join([lines[0], ",".join(first), *lines[2:]]) + "\n")


def _inject(night, sources):
    _late_message(night, sources)
    _corrected_store_file(night, sources)


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    root = tmp_path_factory.mktemp("nights")
    demo = generate_demo(root / "demo", FIRST, days=DAYS, scale=0.03, seed=21, withhold_late_store_file=True)
    settings, defs, instance, requested = nights(demo, root / "nightly", TZ, FIRST, LAST, inject=_inject)
    return root, settings, requested


def test_night_by_night_equals_one_backfill(history):
    root, nightly, requested = history
    full_home = root / "full"
    sources = {
        "chat_db": full_home / "chat.db",
        "orders": full_home / "orders",
        "store_sales": full_home / "store_sales",
        "campaigns": full_home / "campaigns",
    }
    shutil.copytree(nightly.home / "sources", full_home)
    full = settings_for(full_home, sources)
    defs, instance = definitions_for(full), dg.DagsterInstance.ephemeral()
    run(defs, instance, first=FIRST, last=LAST)
    run(defs, instance, job=SNAPSHOTS_JOB)
    got, want = published(nightly.reporting_db_url), published(full.reporting_db_url)
    assert set(got) == set(want)
    for name in want:
        pd.testing.assert_frame_equal(got[name], want[name], check_dtype=False, obj=name)
    # a rebuild of the range from the lake (state derived again, every month of the state facts rebuilt)
    # restores what was lost behind the publication's back, and changes nothing else
    with sqlite3.connect(nightly.reporting_db_url.removeprefix("sqlite:///")) as conn:
        conn.execute("DELETE FROM fact_streams WHERE fact = 'chatrooms' AND day = ?", (str(FIRST),))
    rebuild = {"ops": {"conversation_state": {"config": {"rebuild": True}}}}
    run(definitions_for(nightly), dg.DagsterInstance.ephemeral(), first=FIRST, last=LAST, run_config=rebuild)
    rebuilt = published(nightly.reporting_db_url)
    for name in want:
        pd.testing.assert_frame_equal(rebuilt[name], want[name], check_dtype=False, obj=f"rebuilt {name}")
    # the nights did re-run past days, each for a reason
    reasons = {r.tags.get("chatsales/late_data", "") for night in requested.values() for r in night}
    joined = " ".join(reasons)
    for kind in (
        "late_rating",
        "new_receipt",
        "corrected_receipt",
        "order_update",
        "sale_on_older_dialogue",
        "new_message",
        "dialogue_established",
        "late_question",
        "request_canceled_late",
        "member_session",
    ):
        assert kind in joined, (kind, reasons)
