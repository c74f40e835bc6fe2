"""How the catalog reads for a person (chatsales.kpis.presentation): families, names, units, formatting."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from chatsales.kpis import REGISTRY
from chatsales.kpis.catalog import MEMBERS_REF
from chatsales.kpis.charts import CHARTS, LINE_SERIES
from chatsales.kpis.presentation import (
    FAMILIES,
    FAMILY_OF,
    UNITS,
    Card,
    cards,
    catalog_text,
    for_json,
    format_change,
    format_value,
    name_of,
    natural_key,
    parts_units,
    unit_of,
)

ROOT = Path(__file__).resolve().parents[1]


def test_every_ref_of_the_catalog_has_one_family_and_a_unit():
    listed = [ref for _, refs in FAMILIES for ref in refs]
    assert len(listed) == len(set(listed))
    expected = (
        set(REGISTRY) | set(CHARTS) | set(LINE_SERIES) | {MEMBERS_REF, "Insi-6"} | {f"Smgo-{n}" for n in range(1, 6)}
    )
    assert set(listed) == expected
    assert all(unit_of(ref) in UNITS for ref in listed)
    assert [title for title, _ in FAMILIES] == [
        "Waiting list",
        "Hook",
        "Dialogues",
        "Ratings",
        "Sales",
        "iAdvize sales indicators",
        "Sales insights",
        "Campaigns and segments",
        "Members",
    ]
    # every ref the project's KPI reference names has a family too
    documented = set(
        re.findall(
            r"\b((?:Wlst|Hook|Chat|Amb)-(?:Card|Line|Bar|Donut|List)-\d+(?:-net)?|Iadv-\d+"
            r"|Insi-\d+|Smgo-\d+)\b",
            (ROOT / "docs" / "kpi-reference.md").read_text(),
        )
    )
    assert documented and documented <= set(FAMILY_OF)


def test_families_follow_the_spec_order():
    family = dict(FAMILIES)
    assert family["Waiting list"] == [
        "Wlst-Card-1",
        "Wlst-Card-2",
        "Wlst-Card-3",
        "Wlst-Card-10",
        "Wlst-Card-11",
        "Wlst-Card-12",
        "Wlst-Card-13",
        "Wlst-Card-14",
        "Wlst-Line-1",
        "Chat-Bar-10",
    ]
    dialogues = family["Dialogues"]
    assert dialogues.index("Chat-Card-2") < dialogues.index("Chat-Card-10")  # natural, not text order
    assert dialogues.index("Chat-Card-22") + 1 == dialogues.index("Amb-Card-23")
    assert dialogues[:3] == ["Chat-Card-0", "Chat-Card-1", "Chat-Card-2"]
    assert family["Ratings"] == ["Chat-Card-71", "Chat-Card-72", "Chat-Card-73"]
    assert family["Sales"][:6] == [
        "Chat-Card-80",
        "Chat-Card-80-net",
        "Chat-Card-81",
        "Chat-Card-82",
        "Chat-Card-85",
        "Chat-Card-86",
    ]
    assert {"Chat-Line-50", "Chat-Bar-13"} <= set(family["Sales"])
    assert family["iAdvize sales indicators"][-1] == "Iadv-10"
    assert family["Members"] == ["Chat-List-1"]
    assert sorted(["Chat-Card-10", "Chat-Card-2", "Chat-Card-1"], key=natural_key) == [
        "Chat-Card-1",
        "Chat-Card-2",
        "Chat-Card-10",
    ]


@pytest.mark.parametrize(
    "ref,unit",
    [
        ("Chat-Card-10", "count"),
        ("Chat-Card-11", "percent"),
        ("Chat-Card-14", "duration"),
        ("Amb-Card-52", "duration"),
        ("Wlst-Card-14", "duration"),
        ("Chat-Card-73", "rating"),
        ("Chat-Card-80", "currency"),
        ("Chat-Card-82", "currency"),
        ("Iadv-9", "currency"),
        ("Iadv-10", "currency"),
        ("Iadv-2-share-web", "percent"),
        ("Iadv-8", "duration"),
        ("Insi-4", "percent"),
        ("Insi-5", "currency"),
        ("Chat-Card-22", "number"),
        ("Chat-Bar-10", "count"),
        ("Chat-Line-5", "percent"),
    ],
)
def test_units(ref, unit):
    assert unit_of(ref) == unit


def test_names():
    assert name_of("Chat-Card-10") == "New dialogues"
    assert name_of("Chat-Bar-10") == "Handling time"
    assert name_of("Chat-List-1") == "Members list"
    assert name_of("Smgo-4") == "Revenue trend segments"
    assert name_of("Nope-1") == "Nope-1"


@pytest.mark.parametrize(
    "value,unit,shown",
    [
        (1588.0, "count", "1,588"),
        (2_875_000.0, "count", "2,875,000"),
        (0.6269, "percent", "62.7 %"),
        (1.5, "percent", "150.0 %"),
        (21280.5, "currency", "21,280.50 EUR"),
        (33_790_000.0, "currency", "33,790,000.00 EUR"),
        (7505.0, "duration", "2 h 05 min"),
        (200.0, "duration", "3 min 20 s"),
        (45.0, "duration", "45 s"),
        (0.4, "duration", "0 s"),
        (3599.6, "duration", "1 h 00 min"),
        (2 * 86400 + 3 * 3600 + 59, "duration", "2 d 03 h"),
        (2_875_000.0, "duration", "33 d 06 h"),
        (4.3249, "rating", "4.32"),
        (12.3456, "number", "12.35"),
        (None, "count", "—"),
        (math.nan, "percent", "—"),
        (math.inf, "currency", "—"),
        (0.0, "currency", "0.00 EUR"),
        (1e-9, "number", "0.00"),
        (1e20, "count", "100,000,000,000,000,000,000"),
        (-90.0, "duration", "-1 min 30 s"),
    ],
)
def test_format_value(value, unit, shown):
    assert format_value(value, unit) == shown
    assert "e+" not in shown and "e-" not in shown


def test_format_value_currency_and_unknown_unit():
    assert format_value(1234.5, "currency", "PLN") == "1,234.50 PLN"
    with pytest.raises(ValueError, match="unknown unit 'kg'"):
        format_value(1.0, "kg")


@pytest.mark.parametrize(
    "current,previous,unit,shown",
    [
        (1125.0, 1000.0, "count", "+12.5 %"),
        (900.0, 1000.0, "currency", "-10.0 %"),
        (0.659, 0.628, "percent", "+3.1 pts"),
        (0.5, 0.5, "percent", "0.0 pts"),
        (10.0, 10.0, "count", "0.0 %"),
        (10.0, 0.0, "count", "—"),
        (10.0, None, "count", "—"),
        (None, 5.0, "count", "—"),
        (0.3, math.nan, "percent", "—"),
        (120.0, 60.0, "duration", "+100.0 %"),
        (-5.0, -10.0, "currency", "+50.0 %"),
    ],
)
def test_format_change(current, previous, unit, shown):
    assert format_change(current, previous, unit) == shown


def test_cards_from_catalog_values():
    values = {
        "Chat-Card-10": {"value": 1588.0, "numerator": None, "denominator": None},
        "Chat-Card-11": {"value": 1588 / 2533, "numerator": 1588.0, "denominator": 2533.0},
        "Chat-Card-2": {"value": 232.0, "numerator": None, "denominator": None},
        "Insi-4": {"value": 62.5, "numerator": 5.0, "denominator": 8.0},
        "Chat-Card-80": {"value": 21280.5, "numerator": None, "denominator": None},
        "Chat-Donut-1": {"buckets": {"direct": 3}},
        "Insi-6": {"new": {"orders": 1, "revenue": 2.0}},
    }
    shown = cards(values)
    assert [c.ref for c in shown] == ["Chat-Card-2", "Chat-Card-10", "Chat-Card-11", "Chat-Card-80", "Insi-4"]
    by_ref = {c.ref: c for c in shown}
    assert by_ref["Chat-Card-11"] == Card(
        "Chat-Card-11", "Dialogue establishment rate (fixed)", "percent", 1588 / 2533, 1588.0, 2533.0, False
    )
    assert by_ref["Chat-Card-11"].text() == "62.7 %"
    assert by_ref["Insi-4"].value == 0.625 and by_ref["Insi-4"].text() == "62.5 %"  # stored ×100
    assert by_ref["Chat-Card-80"].fluctuating and by_ref["Chat-Card-80"].text("USD") == "21,280.50 USD"
    assert by_ref["Chat-Card-10"].text() == "1,588"


@pytest.mark.parametrize(
    "ref,units",
    [
        ("Chat-Card-11", ("count", "count")),
        ("Chat-Card-14", ("duration", "count")),
        ("Chat-Card-82", ("currency", "count")),
        ("Chat-Card-73", ("count", "count")),
        ("Iadv-9", ("currency", "count")),
        ("Iadv-10", ("currency", "number")),
        ("Iadv-2-share-web", ("currency", "currency")),
        ("Iadv-2-share-store", ("currency", "currency")),
        ("Insi-4", ("count", "count")),
    ],
)
def test_numerator_and_denominator_units(ref, units):
    assert parts_units(ref) == units


def test_card_parts_read_in_their_units():
    share = cards({"Iadv-2-share-web": {"value": 0.1006, "numerator": 749.64, "denominator": 7450.83}})[0]
    assert (share.text(), share.parts()) == ("10.1 %", "749.64 EUR / 7,450.83 EUR")
    waiting = cards({"Wlst-Card-13": {"value": 1700.0, "numerator": 30600.0, "denominator": 18.0}})[0]
    assert (waiting.text(), waiting.parts()) == ("28 min 20 s", "8 h 30 min / 18")
    median = cards({"Wlst-Card-14": {"value": 84.0, "numerator": None, "denominator": None}})[0]
    assert (median.text(), median.parts()) == ("1 min 24 s", "")


def test_for_json_names_units_and_integer_counts_in_the_same_shape():
    values = {
        "Chat-Card-10": {"value": 1618.0, "numerator": None, "denominator": None},
        "Chat-Card-11": {"value": 0.5, "numerator": 25.0, "denominator": 50.0},
        "Chat-Card-82": {"value": 113.95, "numerator": 911.6, "denominator": 8.0},
        "Chat-Card-22": {"value": 6.6, "numerator": 33.0, "denominator": 5.0},
        "Chat-Card-12": {"value": None, "numerator": 0.0, "denominator": 0.0},
        "Insi-6": {"new": {"orders": 6.0, "revenue": 318.0}, "existing": {"orders": 2.0, "revenue": 593.59}},
        "Chat-Line-3": {"days": [{"day": "2026-11-28", "Active dialogues": 6.0, "New dialogues": 4.0}]},
        "Chat-Line-5": {"days": [{"day": "2026-11-28", "Dialogue establishment rate (fixed)": 1.0}]},
        "Chat-List-1": {
            "members": [
                {
                    "member_id": "m-1",
                    "active_dialogues": 6.0,
                    "sales_count": 2.0,
                    "activity_seconds": 3600.0,
                    "sales_total": 12.0,
                }
            ]
        },
        "Chat-Donut-1": {"buckets": {"direct": 3}},
    }
    out = for_json(values)
    assert set(out) == set(values)
    assert out["Chat-Card-10"] == {
        "value": 1618,
        "numerator": None,
        "denominator": None,
        "name": "New dialogues",
        "unit": "count",
        "text": "1,618",
    }
    assert out["Chat-Card-11"]["text"] == "50.0 %" and out["Chat-Card-82"]["text"] == "113.95 EUR"
    assert for_json({"Insi-4": {"value": 72.7, "numerator": 8.0, "denominator": 11.0}}, "USD")["Insi-4"] == {
        "value": 72.7,
        "numerator": 8,
        "denominator": 11,
        "name": "Conversion rate",
        "unit": "percent",
        "text": "72.7 %",
    }
    assert type(out["Chat-Card-10"]["value"]) is int
    assert out["Chat-Card-11"]["numerator"] == 25 and type(out["Chat-Card-11"]["numerator"]) is int
    assert type(out["Chat-Card-11"]["value"]) is float
    assert type(out["Chat-Card-82"]["numerator"]) is float and type(out["Chat-Card-82"]["denominator"]) is int
    assert out["Chat-Card-22"]["value"] == 6.6 and type(out["Chat-Card-22"]["numerator"]) is int
    assert out["Chat-Card-12"]["value"] is None and out["Chat-Card-12"]["unit"] == "percent"
    assert out["Insi-6"]["new"] == {"orders": 6, "revenue": 318.0} and type(out["Insi-6"]["new"]["orders"]) is int
    assert type(out["Chat-Line-3"]["days"][0]["New dialogues"]) is int
    assert type(out["Chat-Line-5"]["days"][0]["Dialogue establishment rate (fixed)"]) is float
    member = out["Chat-List-1"]["members"][0]
    assert type(member["sales_count"]) is int and type(member["activity_seconds"]) is float
    assert values["Chat-Card-10"]["value"] == 1618.0 and "name" not in values["Chat-Card-10"]  # not modified


def test_catalog_text_marks_fluctuating_cards_and_hides_charts_unless_asked():
    values = {
        "Chat-Card-10": {"value": 1588.0, "numerator": None, "denominator": None},
        "Chat-Card-80": {"value": 21280.5, "numerator": None, "denominator": None},
        "Chat-Bar-13": {"buckets": {"<1 h": 1200, "1 h–1 day": 3}},
    }
    text = catalog_text(values)
    assert text[0].startswith("~ fluctuating")
    assert "  Chat-Card-10              New dialogues" in "\n".join(text)
    assert any(
        line.startswith("  Chat-Card-80            ~ Total sales") and line.endswith("21,280.50 EUR") for line in text
    )
    assert text[-1] == "(1 chart not shown: add --charts)"
    charted = catalog_text(values, charts=True, currency="USD")
    assert "      <1 h 1,200 · 1 h–1 day 3" in charted and any(line.endswith("21,280.50 USD") for line in charted)
    assert [line for line in charted if line in ("Dialogues", "Sales")] == ["Dialogues", "Sales"]
