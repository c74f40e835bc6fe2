"""Bad rows, fuzz-style (hypothesis, derandomised so every run checks the same cases): each reader gets
valid rows mixed with rows that break the contract in every way the contract names. Valid rows go through
exactly, each bad row lands in rejects with a reason naming its problem, and nothing else is raised.

How each protection was checked to fail when removed: the readers' checks were already tested one by one
in test_sources.py; these tests were written against the readers as they were and found gaps (noted on
each test), fixed in chatsales/; reverting each reader to its previous version fails its tests (checked).
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from pathlib import Path

import dagster as dg
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatsales.demo.generator import CHAT_DDL
from chatsales.sources.campaigns import read_campaigns_dir
from chatsales.sources.chat_db import read_chat_db
from chatsales.sources.orders import read_orders_dir
from chatsales.sources.store_sales import COLUMNS, read_store_sales_dir

FUZZ = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _key(value):
    return None if value is None or pd.isna(value) else value


def assert_split(read, frame: str, key: str, good: list[str], bad: dict[str, str]):
    """`good` keys are read, `bad` locations are rejected with a reason starting as given."""
    assert sorted(read.frames[frame][key]) == sorted(good)
    got = dict(zip(read.rejects["location"], read.rejects["reason"]))
    assert set(got) == set(bad), (got, bad)
    for location, reason in bad.items():
        assert got[location].startswith(reason), (location, got[location], reason)
    assert not any("example" in reason for reason in got.values()), got  # a raw value is never quoted


# --- web orders (JSONL) ----------------------------------------------------------------------------------


def _order(n: int, **change) -> dict:
    record = {
        "order_id": f"o{n}",
        "placed_at": "2026-03-02T18:04:11+01:00",
        "updated_at": "2026-03-05T09:00:00Z",
        "email": f"buyer{n}@example.com",
        "customer_id": f"c{n}",
        "visitor_id": None,
        "currency": "EUR",
        "total": f"{n}.50",
        "status": "paid",
        "cancelled_at": None,
        "refunded": "0.00",
        "lines": [
            {"product_id": "p", "sku": "s", "title": "t", "category": "c", "quantity": 1, "unit_price": f"{n}.50"}
        ],
    }
    record.update(change)
    return {k: v for k, v in record.items() if v != "<absent>"}


LINE = {"product_id": "p", "quantity": 1, "unit_price": "2.00"}
ORDER_FAULTS = {  # name: (how the line is made from order n, reason)
    "bad placed_at": (lambda n: _order(n, placed_at="2026-13-45T99:00"), "placed_at: not a valid ISO 8601 timestamp"),
    "no updated_at": (lambda n: _order(n, updated_at="<absent>"), "updated_at: missing"),
    "unknown status": (lambda n: _order(n, status="shipped"), "status: unknown value 'xxxxxxx'"),
    "negative total": (lambda n: _order(n, total="-3.00"), "total: below 0 '-9.99'"),
    "text total": (lambda n: _order(n, total="12,50"), "total: not a number '99,99'"),
    "boolean total": (lambda n: _order(n, total=True), "total: not a number 'xxxx'"),
    "infinite total": (lambda n: _order(n, total="Infinity"), "total: not a number"),
    # issue 17: a sentinel date overflowed the day arithmetic (OverflowError, no row named); 1e308 made Inf sums
    "year 9999": (
        lambda n: _order(n, placed_at="9999-12-31T23:59:59Z"),
        "placed_at: outside the sane range 2000-01-01..",
    ),
    "before 2000": (lambda n: _order(n, updated_at="1999-12-31T23:59:59Z"), "updated_at: outside the sane range"),
    "huge total": (lambda n: _order(n, total="1e308"), "total: above CHATSALES_MAX_AMOUNT=1e+06"),
    "huge unit price": (
        lambda n: _order(n, lines=[{**LINE, "unit_price": "2e6"}]),
        "lines: unit_price: above CHATSALES_MAX_AMOUNT=1e+06",
    ),
    "email as status": (lambda n: _order(n, status=f"buyer{n}@example.com"), "status: unknown value 'xxxxx"),
    "wrong currency": (lambda n: _order(n, currency="USD"), "currency: not the reporting currency EUR 'xxx'"),
    "no currency": (lambda n: _order(n, currency=None), "currency: missing"),
    "no order_id": (lambda n: _order(n, order_id="<absent>"), "order_id: missing"),
    "blank order_id": (lambda n: _order(n, order_id="  "), "order_id: missing"),
    "object order_id": (lambda n: _order(n, order_id={"id": n}), "order_id: not a text or a whole number"),
    "negative refund": (lambda n: _order(n, refunded="-1"), "refunded: below 0 '-9'"),
    "text first order": (lambda n: _order(n, is_first_order="yes"), "is_first_order: not a boolean 'xxx'"),
    "lines not a list": (lambda n: _order(n, lines="two"), "lines: not a list"),
    "line not an object": (lambda n: _order(n, lines=[LINE, 7]), "lines: an item is not an object"),
    "text quantity": (
        lambda n: _order(n, lines=[LINE, {**LINE, "quantity": "two"}]),
        "lines: quantity: not a number 'xxx'",
    ),
    "text unit price": (
        lambda n: _order(n, lines=[{**LINE, "unit_price": "free"}]),
        "lines: unit_price: not a number 'xxxx'",
    ),
    "not JSON": (lambda n: f'{{"order_id": "o{n}", "total": ', "not a JSON order"),
    "JSON array": (lambda n: json.dumps([_order(n)]), "not a JSON order: not a JSON object"),
    "not UTF-8": (lambda n: b'{"order_id": "o%d", "email": "\xe9t\xe9@example.com"}' % n, "not a JSON order"),
}


@FUZZ
@given(st.lists(st.sampled_from([None, *ORDER_FAULTS]), min_size=1, max_size=12))
def test_orders_reader_splits_valid_and_bad_lines(kinds):
    """Found: `lines` items that are not objects and a non-boolean is_first_order raised TypeError; a JSON
    `true` total was read as 1.0; text quantities/prices made NaN amounts; an object order_id was read.
    Checked by removal: reverting chatsales/sources/orders.py to its version before issue #6 fails it."""
    with tempfile.TemporaryDirectory() as folder:
        lines, good, bad = [], [], {}
        for n, kind in enumerate(kinds):
            made = _order(n) if kind is None else ORDER_FAULTS[kind][0](n)
            lines.append(
                made if isinstance(made, bytes) else (made if isinstance(made, str) else json.dumps(made)).encode()
            )
            if kind is None:
                good.append(f"o{n}")
            else:
                bad[f"day.jsonl:{n + 1}"] = ORDER_FAULTS[kind][1]
        (Path(folder) / "day.jsonl").write_bytes(b"\n".join(lines) + b"\n")
        read = read_orders_dir(Path(folder), "EUR")
    assert_split(read, "orders", "order_id", good, bad)
    assert (read.rejects["source"] == "web_orders").all()
    assert sorted(set(read.frames["order_lines"]["order_id"])) == sorted(good)
    assert read.frames["order_lines"]["line_amount"].notna().all()
    totals = read.frames["orders"].set_index("order_id")["total"]
    assert all(totals[f"o{n}"] == n + 0.5 for n, kind in enumerate(kinds) if kind is None)


def test_orders_duplicate_ids_follow_the_version_rule_and_an_empty_file_is_no_orders(tmp_path):
    """Duplicate order ids are versions, not rejects (data-contract.md §2): the strictly newer updated_at
    wins, on a tie the first read stays. An empty .jsonl holds zero orders: nothing read, nothing rejected."""
    (tmp_path / "a.jsonl").write_text(
        json.dumps(_order(1, total="1.00"))
        + "\n"
        + json.dumps(_order(1, total="2.00"))
        + "\n"
        + json.dumps(_order(2, total="3.00"))
        + "\n"
    )
    (tmp_path / "b.jsonl").write_text(json.dumps(_order(2, total="4.00", updated_at="2026-03-06T00:00:00Z")) + "\n")
    (tmp_path / "c.jsonl").write_bytes(b"")
    read = read_orders_dir(tmp_path, "EUR")
    assert read.frames["orders"].set_index("order_id")["total"].to_dict() == {"o1": 1.0, "o2": 4.0}
    assert read.rejects.empty


# --- in-store sales (POS CSV) -------------------------------------------------------------------------


def _pos(receipt: str, **change) -> list[str]:
    row = {
        "receipt_id": receipt,
        "store_id": "S1",
        "store_name": "Opera",
        "store_city": "Paris",
        "sold_at": "2026-03-02T10:00:00",
        "customer_email": "",
        "loyalty_id": "",
        "product_id": "p",
        "category": "c",
        "quantity": "1",
        "line_amount": "10.00",
        "currency": "EUR",
    }
    row.update(change)
    return [row[c] for c in COLUMNS]


POS_FAULTS = {  # name: (fields or raw bytes for receipt r, reason)
    "bad sold_at": (lambda r: _pos(r, sold_at="02/03/2026 10h"), "sold_at: not a valid ISO 8601 timestamp"),
    "no sold_at": (lambda r: _pos(r, sold_at=""), "sold_at: missing"),
    "spring gap": (lambda r: _pos(r, sold_at="2026-03-29T02:30:00"), "sold_at: not a valid ISO 8601 timestamp"),
    "text quantity": (lambda r: _pos(r, quantity="one"), "quantity: not a number 'xxx'"),
    "text amount": (lambda r: _pos(r, line_amount="10€"), "line_amount: not a number '99€'"),
    "no amount": (lambda r: _pos(r, line_amount=""), "line_amount: missing"),
    "year 9999": (lambda r: _pos(r, sold_at="9999-12-31T23:59:59"), "sold_at: outside the sane range"),
    "huge amount": (lambda r: _pos(r, line_amount="1e308"), "line_amount: above CHATSALES_MAX_AMOUNT"),
    "wrong currency": (lambda r: _pos(r, currency="GBP"), "currency: not the reporting currency EUR 'xxx'"),
    "no receipt_id": (lambda r: _pos("", store_name=r), "receipt_id: missing"),
    "no store_id": (lambda r: _pos(r, store_id=""), "store_id: missing"),
    "sign mismatch": (lambda r: _pos(r, quantity="-1", line_amount="10.00"), "line_amount: sign differs"),
    "extra field": (lambda r: _pos(r) + ["surplus"], "line has 13 fields, the header has 12"),
    "missing fields": (lambda r: _pos(r)[:5], "line has 5 fields, the header has 12"),
    "not UTF-8": (
        lambda r: ",".join(_pos(r, store_name="Op\udce9ra")).encode("utf-8", "surrogateescape"),
        "line is not valid UTF-8",
    ),
}
# a line without a receipt id cannot be tied to a receipt; a ragged or undecodable line whose receipt_id can be
# read takes its whole receipt along (a partial receipt is never published)
SIBLING_SURVIVES = ("no receipt_id",)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from([None, *POS_FAULTS]), st.booleans()), min_size=1, max_size=10))
def test_pos_reader_splits_valid_and_bad_lines(rows):
    """Each receipt has one line, or two with a valid sibling after it (its sibling is rejected too: a
    partial receipt is never reported). Returns (negative quantity and amount) are valid.
    Found: a line with more fields than the header raised pandas ParserError for the whole folder, and a
    quantity/amount sign mismatch was read. Checked by removal: reverting store_sales.py to its version
    before issue #6 fails it."""
    with tempfile.TemporaryDirectory() as folder:
        out, good, bad = [",".join(COLUMNS).encode()], [], {}
        for n, (kind, two_lines) in enumerate(rows):
            receipt = f"R{n}"
            made = (
                _pos(receipt, quantity="-1", line_amount="-4.00")
                if kind is None and n % 3 == 0
                else (_pos(receipt) if kind is None else POS_FAULTS[kind][0](receipt))
            )
            out.append(made if isinstance(made, bytes) else ",".join(made).encode())
            if kind is None:
                good.append(receipt)
            else:
                bad[f"pos.csv:{len(out)}"] = POS_FAULTS[kind][1]
            if two_lines:
                out.append(",".join(_pos(receipt, product_id="p2")).encode())
                if kind is not None and kind not in SIBLING_SURVIVES:
                    bad[f"pos.csv:{len(out)}"] = "receipt has a rejected line"
        (Path(folder) / "pos.csv").write_bytes(b"\n".join(out) + b"\n")
        read = read_store_sales_dir(Path(folder), "Europe/Paris", "EUR")
    survivors = {f"R{n}" for n, (kind, two) in enumerate(rows) if two and kind in SIBLING_SURVIVES}
    assert_split(read, "orders", "order_id", sorted(set(good) | survivors), bad)
    assert (read.rejects["source"] == "store_sales").all()


def test_pos_file_level_problems_are_rejects_naming_the_file_and_other_files_are_read(tmp_path):
    """A missing column, an empty or blank file, an unclosed quote (the csv module reads the rest of the
    file into one field, so that line has too few fields) and a file that is not text at all are rejects
    named by the file, never an exception; the good file beside them is read. Found: whitespace-only, binary
    and unclosed-quote files raised pandas errors. Checked by removal as above."""
    header = ",".join(COLUMNS)
    (tmp_path / "1-good.csv").write_text(header + "\n" + ",".join(_pos("R1")) + "\n")
    (tmp_path / "2-no-currency.csv").write_text(",".join(COLUMNS[:-1]) + "\n" + ",".join(_pos("R2")[:-1]) + "\n")
    (tmp_path / "3-empty.csv").write_bytes(b"")
    (tmp_path / "4-blank.csv").write_text("  \n\n")
    (tmp_path / "5-quote.csv").write_text(
        header + "\n" + ",".join(_pos("R5", store_name='"Opera')) + "\n" + ",".join(_pos("R6")) + "\n"
    )
    (tmp_path / "6-binary.csv").write_bytes(bytes(range(256)) * 4)
    read = read_store_sales_dir(tmp_path, "Europe/Paris", "EUR")
    assert read.frames["orders"]["order_id"].tolist() == ["R1"]
    got = read.rejects[["location", "reason"]].values.tolist()
    assert got == [
        ["2-no-currency.csv", "file lacks columns ['currency']: none of its rows were read"],
        ["3-empty.csv", "empty file"],
        ["4-blank.csv", "empty file"],
        ["5-quote.csv:2", "line has 3 fields, the header has 12"],
        ["6-binary.csv", f"file lacks columns {COLUMNS}: none of its rows were read"],
    ]


# --- chat platform database --------------------------------------------------------------------------

ROOM = ("cr-1", None, "v-1", "m-1", "direct", "web", "2026-03-01 10:05:00", 0, 0)


def _message(n: int, **change):
    row = {
        "message_id": f"ms-{n}",
        "chatroom_id": "cr-1",
        "sender": "visitor",
        "sent_at": "2026-03-01 10:06:00",
        "is_automatic": 0,
        "kind": "text",
        "product_id": None,
        "email_filled_at": None,
    }
    row.update(change)
    return tuple(row.values())


MESSAGE_FAULTS = {
    "bad sent_at": (lambda n: _message(n, sent_at="at ten"), "sent_at: not a valid ISO 8601 timestamp 'xx xxx'"),
    "number sent_at": (lambda n: _message(n, sent_at=1772359560), "sent_at: not a valid ISO 8601 timestamp"),
    "no sent_at": (lambda n: _message(n, sent_at=None), "sent_at: missing"),
    "year 9999": (lambda n: _message(n, sent_at="9999-12-31 23:59:59"), "sent_at: outside the sane range"),
    "year 1970": (lambda n: _message(n, sent_at="1970-01-01 00:00:00"), "sent_at: outside the sane range"),
    "unknown sender": (lambda n: _message(n, sender="bot"), "sender: unknown value 'xxx'"),
    "unknown kind": (lambda n: _message(n, kind="sticker"), "kind: unknown value 'xxxxxxx'"),
    "bad boolean": (lambda n: _message(n, is_automatic="maybe"), "is_automatic: not a boolean 'xxxxx'"),
    "no chatroom": (lambda n: _message(n, chatroom_id=None), "chatroom_id: missing"),
    "unknown chatroom": (lambda n: _message(n, chatroom_id="cr-404"), "chatroom_id: unknown chatroom 'xx-999'"),
    "binary kind": (lambda n: _message(n, kind=b"\xff\xfe"), "kind: not valid UTF-8 text"),
    "not UTF-8 text": (lambda n: _message(n, product_id="<not utf-8>"), "product_id: not valid UTF-8 text"),
    "duplicate id": (lambda n: _message(0), "duplicate message_id"),
}


@FUZZ
@given(st.lists(st.sampled_from([None, *MESSAGE_FAULTS]), min_size=1, max_size=12))
def test_chat_reader_splits_valid_and_bad_messages(kinds):
    """Message rows of every fault beside valid ones (message 0 is always valid, so a duplicate of it is a
    duplicate). Found: a BLOB value raised UnicodeDecodeError, and one TEXT value that is not UTF-8 failed
    the whole source (SourceError). Checked by removal: reverting chat_db.py to its version before issue #6
    fails it."""
    kinds = [None, *kinds]
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/chat.db"
        good, bad = [], {}
        with sqlite3.connect(f"{folder}/chat.db") as conn:
            for table, ddl in CHAT_DDL.items():
                conn.execute(f"CREATE TABLE {table} ({ddl.replace('PRIMARY KEY', '')})")
            conn.execute("INSERT INTO members VALUES ('m-1', 'Ann', 'Lee', 1, NULL)")
            conn.execute("INSERT INTO visitors VALUES ('v-1', NULL, NULL, '2026-03-01 09:00:00')")
            conn.execute(f"INSERT INTO chatrooms VALUES ({','.join('?' * len(ROOM))})", ROOM)
            for n, kind in enumerate(kinds):
                row = _message(n) if kind is None else MESSAGE_FAULTS[kind][0](n)
                if kind == "not UTF-8 text":
                    conn.execute(
                        "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, CAST(x'c328' AS TEXT), ?)", row[:6] + row[7:]
                    )
                else:
                    conn.execute("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)
                if kind is None:
                    good.append(f"ms-{n}")
                else:
                    bad[n] = MESSAGE_FAULTS[kind][1]
        read = read_chat_db(url)
    assert sorted(read.frames["messages"]["message_id"]) == sorted(good)
    rejects = read.rejects
    assert (rejects["location"] == "table messages").all() and (rejects["source"] == "chat_platform").all()
    expected_keys = sorted("ms-0" if kind == "duplicate id" else f"ms-{n}" for n, kind in enumerate(kinds) if kind)
    assert sorted(rejects["record_key"].map(_key)) == expected_keys
    matched = [
        max((e for e in set(bad.values()) if reason.startswith(e)), key=len, default=reason)
        for reason in rejects["reason"]
    ]
    assert sorted(matched) == sorted(bad.values())
    assert read.frames["chatrooms"]["chatroom_id"].tolist() == ["cr-1"]


def test_chat_reader_other_tables_missing_keys_and_ranges(tmp_path):
    """Missing primary keys, out-of-range roles and scores, duplicate keys, in tables other than messages."""
    with sqlite3.connect(tmp_path / "chat.db") as conn:
        for table, ddl in CHAT_DDL.items():
            conn.execute(f"CREATE TABLE {table} ({ddl.replace('PRIMARY KEY', '')})")
        conn.executemany(
            "INSERT INTO members VALUES (?, ?, ?, ?, ?)",
            [
                ("m-1", "Ann", "Lee", 1, None),
                (None, "No", "Id", 1, None),
                ("m-2", "A", "B", "boss", None),
                ("m-3", "A", "B", 2.5, None),
                ("m-1", "Again", "Lee", 1, None),
            ],
        )
        conn.execute("INSERT INTO visitors VALUES ('v-1', NULL, NULL, '2026-03-01 09:00:00')")
        conn.execute(f"INSERT INTO chatrooms VALUES ({','.join('?' * len(ROOM))})", ROOM)
        conn.executemany(
            "INSERT INTO ratings VALUES (?, ?, ?, ?, ?, ?)",
            [
                ("ra-1", "cr-1", "m-1", "2026-03-01 12:00:00", None, None),
                ("ra-2", "cr-1", "m-1", "2026-03-01 12:00:00", "2026-03-01 13:00:00", 7),
                ("ra-3", "cr-1", "m-1", "2026-03-01 12:00:00", "2026-03-01 13:00:00", "five"),
            ],
        )
        conn.execute("INSERT INTO hook_events VALUES ('h-1', 'm-1', NULL, 'exploded', '2026-03-01 10:00:00')")
    read = read_chat_db(f"sqlite:///{tmp_path / 'chat.db'}")
    assert read.frames["members"]["first_name"].tolist() == ["Ann"]
    assert read.frames["ratings"]["rating_id"].tolist() == ["ra-1"]
    got = read.rejects[["location", "record_key", "reason"]].values
    assert [[location, _key(key), reason] for location, key, reason in got] == [
        ["table members", None, "member_id: missing"],
        ["table members", "m-2", "role: not a number 'xxxx'"],
        ["table members", "m-3", "role: not a whole number '9.9'"],
        ["table members", "m-1", "duplicate member_id (the first one read is kept)"],
        ["table ratings", "ra-2", "score: above 5 '9'"],
        ["table ratings", "ra-3", "score: not a number 'xxxx'"],
        ["table hook_events", "h-1", "event: unknown value 'xxxxxxxx'"],
    ]


def test_a_sentinel_session_end_is_one_reject_naming_table_and_key(tmp_path):
    """Issue 17: a member_sessions.ended_at of 9999-12-31 raised OverflowError for the whole night (rc 1, no row
    named); now it is one reject naming the table and its key, and the other sessions are read."""
    with sqlite3.connect(tmp_path / "chat.db") as conn:
        for table, ddl in CHAT_DDL.items():
            conn.execute(f"CREATE TABLE {table} ({ddl.replace('PRIMARY KEY', '')})")
        conn.execute("INSERT INTO members VALUES ('m-1', 'Ann', 'Lee', 1, NULL)")
        conn.executemany(
            "INSERT INTO member_sessions VALUES (?, ?, ?)",
            [
                ("m-1", "2026-03-01 08:00:00", "2026-03-01 12:00:00"),
                ("m-1", "2026-03-02 08:00:00", "9999-12-31 23:59:59"),
                ("m-1", "1999-12-31 08:00:00", "2026-03-03 12:00:00"),
            ],
        )
    read = read_chat_db(f"sqlite:///{tmp_path / 'chat.db'}")
    assert read.frames["member_sessions"]["started_at"].astype(str).tolist() == ["2026-03-01 08:00:00+00:00"]
    got = read.rejects[["location", "record_key", "reason"]].values.tolist()
    assert [[loc, key, reason.split("..")[0]] for loc, key, reason in got] == [
        ["table member_sessions", "m-1/2026-03-02 08:00:00", "ended_at: outside the sane range 2000-01-01"],
        ["table member_sessions", "m-1/1999-12-31 08:00:00", "started_at: outside the sane range 2000-01-01"],
    ]


def test_a_pos_file_rejected_whole_counts_by_its_rows(tmp_path):
    """Issue 17: a POS file rejected whole counted as ONE reject, so the threshold passed while its receipts
    vanished; it now counts by its rows."""
    from chatsales.extract import Extracted, empty_changes

    header = ",".join(c for c in COLUMNS if c != "currency")
    lines = [",".join(_pos(f"R{n}")[:-1]) for n in range(3)]
    (tmp_path / "no-currency.csv").write_text("\n".join([header, *lines, ""]) + "\n")
    read = read_store_sales_dir(tmp_path, "Europe/Paris", "EUR")
    assert read.rejects[["location", "rows"]].values.tolist() == [["no-currency.csv", 3]]
    extracted = Extracted(
        "store_sales", read_rows=97, rejects=read.rejects, changed={}, changes=empty_changes(), scope="1 file"
    )
    assert extracted.reject_rows == 3 and extracted.reject_share == 0.03


# --- marketing touchpoints (campaigns CSV) -------------------------------------------------------------

CAMPAIGN_FAULTS = {
    "unknown kind": (lambda n: f"c{n},Spring,fax,2026-03-01T08:00:00Z", "kind: unknown value 'xxx'"),
    "bad sent_at": (lambda n: f"c{n},Spring,mailing,1st of March", "sent_at: not a valid ISO 8601 timestamp"),
    "no id": (lambda n: f",Spring {n},mailing,2026-03-01T08:00:00Z", "campaign_id: missing"),
    "duplicate id": (lambda n: "c0,Again,mailing,2026-03-01T08:00:00Z", "duplicate campaign_id"),
    "extra field": (lambda n: f"c{n},Spring,mailing,2026-03-01T08:00:00Z,x", "line has 5 fields, the header has 4"),
    "not UTF-8": (lambda n: f"c{n},Printemps \udce9t\udce9,mailing,2026-03-01T08:00:00Z", "line is not valid UTF-8"),
}


@FUZZ
@given(st.lists(st.sampled_from([None, *CAMPAIGN_FAULTS]), min_size=1, max_size=8))
def test_campaigns_reader_splits_valid_and_bad_lines(kinds):
    """Found: a line with an extra field raised NotImplementedError from pandas and a latin-1 byte raised
    UnicodeDecodeError. Checked by removal: reverting campaigns.py to its version before issue #6 fails it."""
    kinds = [None, *kinds]
    with tempfile.TemporaryDirectory() as folder:
        lines, good, bad = ["campaign_id,name,kind,sent_at"], [], {}
        for n, kind in enumerate(kinds):
            lines.append(f"c{n},Spring,mailing,2026-03-01T08:00:00Z" if kind is None else CAMPAIGN_FAULTS[kind][0](n))
            if kind is None:
                good.append(f"c{n}")
            else:
                bad[f"campaigns.csv:{len(lines)}"] = CAMPAIGN_FAULTS[kind][1]
        (Path(folder) / "campaigns.csv").write_bytes("\n".join(lines).encode("utf-8", "surrogateescape") + b"\n")
        (Path(folder) / "campaign_clicks.csv").write_text(
            "campaign_id,email,clicked_at\n"
            "c0,a@example.com,2026-03-02T08:00:00Z\n"
            "c0,,2026-03-02T08:00:00Z\n"
            "c0,b@example.com,later\n"
            "zz,c@example.com,2026-03-02T08:00:00Z\n"
        )
        read = read_campaigns_dir(Path(folder))
    bad.update(
        {
            "campaign_clicks.csv:3": "email: missing",
            "campaign_clicks.csv:4": "clicked_at: not a valid ISO 8601 timestamp 'xxxxx'",
            "campaign_clicks.csv:5": "campaign_id: unknown campaign 'xx'",
        }
    )
    assert_split(read, "campaigns", "campaign_id", good, bad)
    assert read.frames["campaign_clicks"]["email"].tolist() == ["a@example.com"]


def test_campaign_files_empty_or_lacking_a_column_are_rejects_naming_the_file(tmp_path):
    """Found: an empty campaigns.csv raised EmptyDataError. A missing column rejects the file, like POS."""
    (tmp_path / "campaigns.csv").write_bytes(b"")
    (tmp_path / "campaign_clicks.csv").write_text("campaign_id,clicked_at\nc1,2026-03-02T08:00:00Z\n")
    read = read_campaigns_dir(tmp_path)
    assert read.frames["campaigns"].empty and read.frames["campaign_clicks"].empty
    assert read.rejects[["location", "reason"]].values.tolist() == [
        ["campaigns.csv", "empty file"],
        ["campaign_clicks.csv", "file lacks columns ['email']: none of its rows were read"],
    ]


# --- the asset check reports them ------------------------------------------------------------------------


def test_rejects_over_the_threshold_stop_the_source_and_write_nothing(tmp_path):
    """The store_sales source asset materialised with dagster's materialize() on a tiny folder: the rejects
    reach the reporting database's `rejects` table; above the threshold the blocking rejects_under_threshold
    check fails, the step fails with one line naming the source, the count and the setting, and the lake
    gets nothing; under it the receipts are in the lake. Checked by removal: with the check's `passed=True`
    in assets_defs/sources.finish, the first assertion on the evaluation fails."""
    from assets_defs.sources import REJECTS_CHECK, store_sales
    from chatsales.lake.datasets import ORDER_DATASETS
    from chatsales.reporting.store import ReportingDb
    from resources.lake import LakeResource
    from resources.reporting_db import ReportingDbResource
    from resources.settings import SettingsResource
    from resources.store_sales import StoreSalesResource

    pos = tmp_path / "pos"
    pos.mkdir()
    rows = [",".join(_pos(f"R{n}")) for n in range(9)] + [",".join(_pos("R9", currency="USD"))]
    (pos / "day.csv").write_text(",".join(COLUMNS) + "\n" + "\n".join(rows) + "\n")
    url = f"sqlite:///{tmp_path / 'reporting.db'}"
    lake = LakeResource(lake_dir=str(tmp_path / "lake"), timezone="Europe/Paris")

    def run(threshold: float):
        resources = {
            "store_sales": StoreSalesResource(store_sales_dir=str(pos)),
            "reporting_db": ReportingDbResource(url=url),
            "lake": lake,
            "settings": SettingsResource(pii_key="k", reject_threshold=threshold),
        }
        result = dg.materialize(
            [store_sales], resources=resources, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
        )
        [evaluation] = result.get_asset_check_evaluations()
        assert evaluation.check_name == REJECTS_CHECK
        return result, evaluation

    # 1 rejected line; the share is taken over every row read: 9 receipts + 9 lines + 1 reject
    result, failed = run(0.05)
    assert not failed.passed and not result.success
    assert {k: v.value for k, v in failed.metadata.items()} == {
        "rejects": 1,
        "reject_share": round(1 / 19, 6),
        "threshold": 0.05,
    }
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert failure.event_specific_data.user_failure_data.description.startswith(
        "store_sales: 1 of 19 rows rejected (5.3%), above CHATSALES_REJECT_THRESHOLD=0.05; nothing of this "
        "source was written"
    )
    assert lake.lake.read(ORDER_DATASETS["store_sales"]["orders"]).empty
    with ReportingDb(url) as db:
        rejects = db.read_table("rejects")
    assert rejects[["source", "location", "record_key"]].values.tolist() == [["store_sales", "day.csv:11", "R9"]]
    assert rejects["reason"].iloc[0].startswith("currency: not the reporting currency EUR")
    result, passed = run(0.1)
    assert passed.passed and result.success
    assert sorted(lake.lake.read(ORDER_DATASETS["store_sales"]["orders"])["order_id"]) == [f"R{n}" for n in range(9)]
