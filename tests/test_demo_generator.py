"""The demo generator writes the data contract's shapes, byte-identical for a seed, with every case the
attribution rule and the KPIs distinguish (read back with plain sqlite3 / json / csv, not the pipeline)."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import sqlite3
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from chatsales.demo import generate_demo
from chatsales.demo.generator import build_demo, plan_demo
from chatsales.demo.profile import DEMO_PROFILE
from chatsales.schema import (
    CHANNELS,
    CHAT_KEYS,
    CHAT_TABLES,
    HOOK_EVENTS,
    MESSAGE_KINDS,
    ORDER_STATUSES,
    REQUEST_SOURCES,
    SENDERS,
)

FIRST = date(2026, 10, 20)  # 10 days over the autumn DST change (Sunday 2026-10-25, 25 hours in Paris)
POS_HEADER = [
    "receipt_id",
    "store_id",
    "store_name",
    "store_city",
    "sold_at",
    "customer_email",
    "loyalty_id",
    "product_id",
    "category",
    "quantity",
    "line_amount",
    "currency",
]
ORDER_KEYS = [
    "order_id",
    "placed_at",
    "updated_at",
    "email",
    "customer_id",
    "visitor_id",
    "currency",
    "total",
    "status",
    "cancelled_at",
    "refunded",
    "is_first_order",
    "lines",
]
DB_TS = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)?$")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return generate_demo(
        tmp_path_factory.mktemp("gen") / "demo", FIRST, days=10, scale=0.05, seed=3, withhold_late_store_file=True
    )


def _sql(demo, query):
    with sqlite3.connect(demo.chat_db_path) as conn:
        return conn.execute(query).fetchall()


def _orders(demo) -> list[dict]:
    return [json.loads(line) for f in sorted(demo.orders_dir.glob("*.jsonl")) for line in f.read_text().splitlines()]


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _latest(demo) -> dict[str, dict]:
    latest: dict[str, dict] = {}
    for o in _orders(demo):  # the contract's rule: a strictly newer updated_at replaces
        if o["order_id"] not in latest or _instant(o["updated_at"]) > _instant(latest[o["order_id"]]["updated_at"]):
            latest[o["order_id"]] = o
    return latest


def _pos_rows(folder: Path) -> list[dict]:
    rows = []
    for f in sorted(folder.glob("*.csv")):
        with open(f, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            assert reader.fieldnames == POS_HEADER, f
            rows += [dict(r, file=f.name) for r in reader]
    return rows


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# --- the contract ---------------------------------------------------------------------------------------
def test_chat_db_has_the_contract_tables_columns_and_types(demo):
    with sqlite3.connect(demo.chat_db_path) as conn:
        tables = {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}
        assert tables == set(CHAT_TABLES)
        for table, columns in CHAT_TABLES.items():
            info = conn.execute(f"pragma table_info({table})").fetchall()
            assert [c[1] for c in info] == list(columns), table
            for _, name, declared, _, _, _ in info:
                dtype = columns[name]
                expected = (
                    "TIMESTAMP"
                    if dtype.startswith("datetime")
                    else "BOOLEAN"
                    if dtype == "bool"
                    else "INTEGER"
                    if dtype in ("int64", "Int64")
                    else "TEXT"
                )
                assert declared == expected, (table, name)
            assert tuple(c[1] for c in info if c[5]) == (CHAT_KEYS[table] or ()), table
    assert _sql(demo, "select count(*) from messages")[0][0] == demo.counts["messages"] > 0
    # enum values, booleans as 0/1, timestamps as UTC text with microseconds
    assert {r[0] for r in _sql(demo, "select distinct source from chatrooms")} == set(REQUEST_SOURCES)
    assert {r[0] for r in _sql(demo, "select distinct channel from chatrooms")} == set(CHANNELS)
    assert {r[0] for r in _sql(demo, "select distinct sender from messages")} == set(SENDERS)
    assert {r[0] for r in _sql(demo, "select distinct kind from messages")} == set(MESSAGE_KINDS)
    assert {r[0] for r in _sql(demo, "select distinct event from hook_events")} == set(HOOK_EVENTS)
    assert {r[0] for r in _sql(demo, "select distinct is_internal from chatrooms")} == {0, 1}
    assert _sql(demo, "select count(*) from ratings where score not between 1 and 5")[0][0] == 0
    stamps = _sql(
        demo,
        "select sent_at from messages union all select email_filled_at from messages "
        "where email_filled_at is not null union all select created_at from visitors",
    )
    assert all(DB_TS.match(s) for (s,) in stamps)
    assert _sql(demo, "select count(*) from messages where typeof(is_automatic) != 'integer'")[0][0] == 0
    # references hold: every chatroom's member and visitor exist, every message's chatroom exists
    assert (
        _sql(
            demo,
            "select count(*) from chatrooms where member_id not in (select member_id from members) "
            "or visitor_id not in (select visitor_id from visitors)",
        )[0][0]
        == 0
    )
    assert (
        _sql(demo, "select count(*) from messages where chatroom_id not in (select chatroom_id from chatrooms)")[0][0]
        == 0
    )
    # nothing happens after the generated period's end (the database is a snapshot at that instant)
    assert _sql(demo, "select max(sent_at) from messages")[0][0] < "2026-10-29 23:00:00"


def test_orders_follow_the_json_shape(demo):
    orders = _orders(demo)
    assert len(orders) == demo.counts["order_versions"]
    assert len({o["order_id"] for o in orders}) == demo.counts["web_orders"]
    for o in orders:
        assert [k for k in ORDER_KEYS if k in o] == list(o), o["order_id"]
        assert ISO.match(o["placed_at"]) and ISO.match(o["updated_at"]) and o["currency"] == "EUR"
        assert o["status"] in ORDER_STATUSES and re.fullmatch(r"\d+\.\d\d", o["total"])
        lines_total = sum(round(float(line["unit_price"]) * 100) * line["quantity"] for line in o["lines"])
        assert lines_total == round(float(o["total"]) * 100)
        assert set(o["lines"][0]) == {"product_id", "sku", "title", "category", "quantity", "unit_price"}
    assert any(o["placed_at"].endswith("Z") for o in orders) and any("+" in o["placed_at"] for o in orders)
    # one file per local day of placement, first versions sorting before the later ones
    names = sorted(p.name for p in demo.orders_dir.iterdir())
    assert names[0] == "orders-2026-10-20.jsonl" and names[-1].startswith("updates-")
    assert sum(n.startswith("orders-") for n in names) == 10
    for line in (demo.orders_dir / "orders-2026-10-25.jsonl").read_text().splitlines():
        placed = _instant(json.loads(line)["placed_at"])
        assert placed.astimezone(ZoneInfo("Europe/Paris")).date() == date(2026, 10, 25)


def test_store_files_and_campaigns_follow_the_csv_shape(demo):
    rows = _pos_rows(demo.store_sales_dir)
    assert all(re.fullmatch(r"store-st-\d\d-2026-10-\d\d\.csv", r["file"]) for r in rows)
    assert all(ISO.match(r["sold_at"]) and r["currency"] == "EUR" for r in rows)
    assert all(r["file"] == f"store-{r['store_id']}-{r['sold_at'][:10]}.csv" for r in rows if len(r["sold_at"]) == 19)
    with open(demo.campaigns_dir / "campaigns.csv", newline="") as f:
        campaigns = list(csv.DictReader(f))
    assert list(campaigns[0]) == ["campaign_id", "name", "kind", "sent_at"]
    assert {c["kind"] for c in campaigns} == {"mailing", "automation"}
    with open(demo.campaigns_dir / "campaign_clicks.csv", newline="") as f:
        clicks = list(csv.DictReader(f))
    assert list(clicks[0]) == ["campaign_id", "email", "clicked_at"] and len(clicks) == demo.counts["campaign_clicks"]
    sent = {c["campaign_id"]: _instant(c["sent_at"]) for c in campaigns}
    assert all(_instant(c["clicked_at"]) >= sent[c["campaign_id"]] for c in clicks)


def test_only_reserved_email_domains(demo):
    emails = [r[0] for r in _sql(demo, "select email from visitors where email is not null")]
    emails += [o["email"] for o in _orders(demo) if o["email"]]
    emails += [r["customer_email"] for r in _pos_rows(demo.store_sales_dir) if r["customer_email"]]
    assert emails and all(
        e.strip().lower().rsplit("@", 1)[1] in {"example.com", "example.org", "example.net"} for e in emails
    )


# --- determinism and the late file ----------------------------------------------------------------------
def test_same_seed_same_bytes_and_the_folder_is_replaced(demo, tmp_path):
    again = generate_demo(tmp_path / "again", FIRST, days=10, scale=0.05, seed=3, withhold_late_store_file=True)
    assert _digest(again.out_dir) == _digest(demo.out_dir)
    (again.out_dir / "stale.txt").write_text("from an older demo")
    other = generate_demo(tmp_path / "again", FIRST, days=10, scale=0.05, seed=4)
    assert not (other.out_dir / "stale.txt").exists()
    assert _digest(other.out_dir)["chat.db"] != _digest(demo.out_dir)["chat.db"]
    assert [p.name for p in tmp_path.iterdir()] == ["again"]  # no staging folder left behind


def test_the_late_store_file_is_withheld_and_then_delivered(demo, tmp_path):
    late = demo.late_store_file
    assert late == demo.out_dir / "late" / "store-st-00-2026-10-26.csv"  # day X = last day - 3
    assert late.exists() and not (demo.store_sales_dir / late.name).exists()
    assert {r["sold_at"][:10] for r in _pos_rows(late.parent)} == {"2026-10-26"}
    delivered = generate_demo(tmp_path / "d", FIRST, days=10, scale=0.05, seed=3)
    assert delivered.late_store_file == delivered.store_sales_dir / late.name
    assert delivered.late_store_file.read_bytes() == late.read_bytes()
    assert not any((delivered.out_dir / "late").iterdir())


# --- every case is present ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "case,query",
    [
        (
            "waiting list handled within a minute",
            "select count(*) from conversation_requests where source='waiting_list' "
            "and julianday(handled_at) - julianday(created_at) < 1.0/1440",
        ),
        (
            "waiting list handled hours later",
            "select count(*) from conversation_requests where source='waiting_list' "
            "and julianday(handled_at) - julianday(created_at) between 1.0/24 and 0.5",
        ),
        (
            "waiting list handled days later",
            "select count(*) from conversation_requests where source='waiting_list' "
            "and julianday(handled_at) - julianday(created_at) > 1",
        ),
        (
            "waiting list never handled",
            "select count(*) from conversation_requests where source='waiting_list' "
            "and handled_at is null and canceled_at is null",
        ),
        (
            "canceled requests",
            "select count(*) from conversation_requests where canceled_at is not null and handled_at is null",
        ),
        (
            "other sources handled at creation",
            "select count(*) = sum(handled_at = created_at) from conversation_requests where source != 'waiting_list'",
        ),
        ("request without question", "select count(*) from conversation_requests where question_at is null"),
        (
            "question asked later",
            "select count(*) from conversation_requests where julianday(question_at) - julianday(created_at) > 1.0/24",
        ),
        (
            "dialogue established days later",
            "select count(*) from chatrooms c where (select min(sent_at) from messages m "
            "where m.chatroom_id = c.chatroom_id and sender='member' and not is_automatic) > datetime((select min(sent_at) "
            "from messages m where m.chatroom_id = c.chatroom_id and sender='visitor'), '+1 day')",
        ),
        (
            "visitor-only room",
            "select count(*) from chatrooms c where not is_internal and exists (select 1 from messages m "
            "where m.chatroom_id=c.chatroom_id and sender='visitor') and not exists (select 1 from messages m "
            "where m.chatroom_id=c.chatroom_id and sender='member' and not is_automatic)",
        ),
        (
            "member-only room",
            "select count(*) from chatrooms c where not is_internal and exists (select 1 from messages m "
            "where m.chatroom_id=c.chatroom_id and sender='member' and not is_automatic) and not exists "
            "(select 1 from messages m where m.chatroom_id=c.chatroom_id and sender='visitor')",
        ),
        (
            "room without counted message",
            "select count(*) from chatrooms c where not exists (select 1 from messages m "
            "where m.chatroom_id=c.chatroom_id and sender != 'system' and not is_automatic)",
        ),
        ("automatic member messages", "select count(*) from messages where is_automatic and sender='member'"),
        ("system messages", "select count(*) from messages where sender='system'"),
        ("products from the catalog", "select count(*) from messages where kind='product' and product_id like 'p-%'"),
        (
            "only product messages carry a product",
            "select count(*) = 0 from messages where (kind='product') != (product_id is not null)",
        ),
        (
            "email filled minutes later",
            "select count(*) from messages where kind='email_request' "
            "and julianday(email_filled_at) - julianday(sent_at) < 1.0/24",
        ),
        (
            "email filled days later",
            "select count(*) from messages where julianday(email_filled_at) - julianday(sent_at) > 1",
        ),
        ("email never filled", "select count(*) from messages where kind='email_request' and email_filled_at is null"),
        (
            "rating given within minutes",
            "select count(*) from ratings where julianday(given_at) - julianday(requested_at) < 1.0/12",
        ),
        (
            "rating given days later",
            "select count(*) from ratings where julianday(given_at) - julianday(requested_at) > 1",
        ),
        ("rating never given", "select count(*) from ratings where given_at is null and score is null"),
        ("rating request messages", "select count(*) from messages where kind='rating_request'"),
        (
            "hook clicked by a visitor",
            "select count(*) from hook_events where event='clicked' and visitor_id is not null",
        ),
        (
            "hook displayed, never clicked",
            "select count(*) from hook_events d where event='displayed' and not exists "
            "(select 1 from hook_events c where c.event='clicked' and c.visitor_id=d.visitor_id and c.member_id=d.member_id)",
        ),
        (
            "overlapping sessions of one member",
            "select count(*) from member_sessions a join member_sessions b "
            "on a.member_id=b.member_id and a.rowid < b.rowid and b.started_at < a.ended_at and a.started_at < b.ended_at",
        ),
        (
            "session crossing local midnight",
            "select count(*) from member_sessions where date(started_at, '+2 hours') != date(ended_at, '+1 hours')",
        ),
        ("internal chatrooms", "select count(*) from chatrooms where is_internal and request_id is null"),
        ("blocked chatrooms", "select count(*) from chatrooms where is_blocked"),
        ("five roles among five members", "select count(distinct role) = 5 from members"),
        ("members of a store", "select count(*) from members where store_id is not null"),
        ("members without store", "select count(*) from members where store_id is null"),
        (
            "offsite identity links",
            "select count(*) from identity_links l join chatrooms c on c.visitor_id = l.visitor_id "
            "where c.channel in ('messenger','whatsapp','sms')",
        ),
        ("visitor with a clean email", "select count(*) from visitors where email = lower(trim(email))"),
        ("logged-in visitor", "select count(*) from visitors where customer_id is not null"),
    ],
)
def test_every_chat_case_is_present(demo, case, query):
    assert _sql(demo, query)[0][0] > 0, case


def test_every_order_case_is_present(demo):
    orders = list(_latest(demo).values())
    assert {"paid", "pending", "cancelled", "refunded", "partially_refunded"} <= {o["status"] for o in orders}
    assert all(o["cancelled_at"] for o in orders if o["status"] == "cancelled")
    assert all(float(o["refunded"]) == float(o["total"]) for o in orders if o["status"] == "refunded")
    assert all(0 < float(o["refunded"]) < float(o["total"]) for o in orders if o["status"] == "partially_refunded")
    with_flag = sum("is_first_order" in o for o in orders)
    assert with_flag > 0.8 * len(orders) and with_flag < len(orders)
    emails = [o["email"] for o in orders if o["email"]]
    assert any(e != e.strip() for e in emails) and any(e != e.lower() for e in emails)
    assert any(not (o["email"] or o["customer_id"] or o["visitor_id"]) for o in orders)
    linked = {r[0] for r in _sql(demo, "select linked_visitor_id from identity_links")}
    via_link = [o for o in orders if o["visitor_id"] in linked]
    assert via_link and all(o["email"] is None for o in via_link)
    visitors = {r[0]: r[1:] for r in _sql(demo, "select visitor_id, email, customer_id from visitors")}
    assert any(o["visitor_id"] in visitors and o["visitor_id"] not in linked for o in orders)
    customers = {v[1] for v in visitors.values() if v[1]}
    assert any(o["customer_id"] in customers for o in orders)
    chat_emails = {v[0] for v in visitors.values() if v[0]}
    by_email = [o for o in orders if o["email"] and o["email"].strip().lower() in chat_emails]
    assert by_email and any(o["email"] not in chat_emails for o in by_email)  # dirty but matchable
    # share of orders from customers who chatted (any key reaches a chat visitor)
    chatted = sum(
        bool(
            o["visitor_id"] in visitors
            or o["customer_id"] in customers
            or (o["email"] and o["email"].strip().lower() in chat_emails)
        )
        for o in orders
    )
    assert 0.15 <= chatted / len(orders) <= 0.35


def test_orders_fall_before_inside_and_outside_the_window(demo):
    """Orders by email of chat visitors, placed before the visitor's first counted message, within 14 days
    after its last one, and more than 14 days after it."""
    spans = {
        r[0]: r[1:]
        for r in _sql(
            demo,
            "select v.email, min(m.sent_at), max(m.sent_at) from messages m "
            "join chatrooms c using (chatroom_id) join visitors v using (visitor_id) "
            "where m.sender != 'system' and not m.is_automatic "
            "and v.email is not null group by v.email",
        )
    }
    utc = ZoneInfo("UTC")
    cases = {"before": 0, "inside": 0, "outside": 0}
    for o in _latest(demo).values():
        email = (o["email"] or "").strip().lower()
        if email not in spans:
            continue
        placed = _instant(o["placed_at"])
        first, last = (datetime.fromisoformat(s).replace(tzinfo=utc) for s in spans[email])
        if placed < first:
            cases["before"] += 1
        elif placed - last <= timedelta(days=14):
            cases["inside"] += 1
        else:
            cases["outside"] += 1
    assert all(cases.values()), cases


def test_every_store_case_is_present(demo):
    rows = _pos_rows(demo.store_sales_dir) + _pos_rows(demo.late_store_file.parent)
    assert any(int(r["quantity"]) < 0 and float(r["line_amount"]) < 0 for r in rows)  # returns
    assert any(r["customer_email"] == "" for r in rows)
    assert any(r["customer_email"] != r["customer_email"].strip() for r in rows)
    lines: dict[str, int] = {}
    for r in rows:
        lines[r["receipt_id"]] = lines.get(r["receipt_id"], 0) + 1
    assert max(lines.values()) > 1 and min(lines.values()) == 1
    assert any(len(r["sold_at"]) == 19 for r in rows) and any(len(r["sold_at"]) == 25 for r in rows)
    chat_emails = {r[0] for r in _sql(demo, "select email from visitors where email is not null")}
    assert any(r["customer_email"].strip().lower() in chat_emails for r in rows)
    # the autumn DST night: local times without offset around the change, the repeated hour with its offset
    night = {r["receipt_id"]: r["sold_at"] for r in rows if r["receipt_id"].startswith(("R-dst", "R-night"))}
    assert night == {
        "R-night-1": "2026-10-25T01:30:00",
        "R-dst-1": "2026-10-25T02:15:00",
        "R-dst-2": "2026-10-25T02:39:36",
        "R-dst-3": "2026-10-25T02:30:00+01:00",
        "R-night-2": "2026-10-25T03:30:00",
    }


def test_spring_dst_night_has_local_times_around_the_gap(tmp_path):
    demo = generate_demo(tmp_path / "spring", date(2026, 3, 26), days=5, scale=0.02, seed=1)
    night = {
        r["receipt_id"]: r["sold_at"]
        for r in _pos_rows(demo.store_sales_dir)
        if r["receipt_id"].startswith(("R-dst", "R-night"))
    }
    assert night == {
        "R-dst-1": "2026-03-29T01:30:00",
        "R-dst-2": "2026-03-29T03:15:00",
        "R-dst-3": "2026-03-29T03:45:00+02:00",
        "R-night-1": "2026-03-29T01:45:00",
        "R-night-2": "2026-03-29T03:30:00",
    }


def test_campaign_clicks_before_orders_within_and_after_a_week_and_never(demo):
    with open(demo.campaigns_dir / "campaign_clicks.csv", newline="") as f:
        clicks = list(csv.DictReader(f))
    placed: dict[str, list[datetime]] = {}
    for o in _latest(demo).values():
        if o["email"]:
            placed.setdefault(o["email"].strip().lower(), []).append(_instant(o["placed_at"]))
    lags = []
    for c in clicks:
        after = [p - _instant(c["clicked_at"]) for p in placed.get(c["email"], []) if p > _instant(c["clicked_at"])]
        lags.append(min(after) if after else None)
    assert any(lag is not None and lag <= timedelta(days=7) for lag in lags)
    assert any(lag is not None and lag >= timedelta(days=8) for lag in lags)
    assert any(lag is None for lag in lags)


def test_too_short_a_range_is_refused(tmp_path):
    with pytest.raises(ValueError, match="at least 4 days"):
        generate_demo(tmp_path / "short", FIRST, days=3, scale=0.05)
    assert not any(tmp_path.iterdir())


# --- size ------------------------------------------------------------------------------------------------
def test_scale_one_sizes_without_writing():
    plan = plan_demo(90, 1.0)
    assert (plan.members, plan.web_orders, plan.receipts) == (40, 40_000, 10_000)
    assert plan_demo(90, 0.05).members == 5 and plan_demo(90, 2.0).web_orders == 80_000
    clock, world, _, orders, receipts, _, _, _ = build_demo(date(2026, 9, 1), 90, 1.0, 7, "Europe/Paris")
    rooms = world.columns["chatrooms"]["started_at"]
    assert 25_000 <= ((rooms >= clock.start) & (rooms < clock.end)).sum() <= 35_000
    assert 250_000 <= world.columns["messages"]["message_id"][1] <= 400_000
    assert len(orders.placed) == 40_000
    assert 9_500 <= len(set(receipts.receipt_id.to_pylist())) <= 10_100


# --- profile ---------------------------------------------------------------------------------------------
def test_the_profile_cuts_each_fate_where_the_generator_always_did():
    """A fate's shares sum to the very floats the draws were compared with before they had names (in binary
    0.70 + 0.08 is 0.7799999999999999, not 0.78): a cut one ulp off would move the demo's counts."""
    chat, commerce = DEMO_PROFILE.chat, DEMO_PROFILE.commerce
    assert chat.waiting_list.cuts().tolist() == [0.06, 0.12, 0.18, 0.21]
    assert chat.question.cuts().tolist() == [0.70, 0.78]
    assert chat.rating_given.cuts().tolist() == [0.45, 0.6]
    assert chat.messages.email_filled.cuts().tolist() == [0.55, 0.7]
    assert commerce.typed_emails.cuts().tolist() == [0.08, 0.16, 0.26]
    assert commerce.orders.fates.cuts().tolist() == [0.04, 0.07, 0.11]
    split = chat.question.split(np.array([0.0, 0.7, 0.77, 0.78, 0.99]))
    assert split["asked_at_once"].tolist() == [True, False, False, False, False]
    assert split["asked_later"].tolist() == [False, True, True, False, False]


def test_the_generator_draws_with_the_profile_it_is_given():
    profile = replace(
        DEMO_PROFILE,
        chat=replace(DEMO_PROFILE.chat, request_sources=(0.0, 1.0, 0.0, 0.0)),
        commerce=replace(DEMO_PROFILE.commerce, receipts=replace(DEMO_PROFILE.commerce.receipts, returns=0.0)),
    )
    _, world, _, _, receipts, _, _, _ = build_demo(FIRST, 10, 0.05, 5, "Europe/Paris", profile)
    assert set(world.columns["conversation_requests"]["source"].to_pylist()) == {"direct"}
    assert (receipts.qty < 0).sum() == 1  # exact_share keeps one return even at share 0
