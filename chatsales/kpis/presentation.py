"""How the catalog reads for a person: families in the spec's order, names, units and formatted values.

`chatsales kpis` (text) and the dashboard both show figures through this module, so a card reads the same
in both. Everything is derived from the registry (chatsales.kpis.registry), the charts (charts.py) and the
catalog's extra refs; nothing here computes a figure. No Dagster, no Streamlit.

Units: a count; a percent (rates are stored as fractions, so 0.627 shows as "62.7 %"; Insi-4 alone is
stored ×100, as its definition says, and `cards` hands it over as a fraction like the others); a currency
amount; a duration (KPIs in seconds); a rating (mean score); a plain number.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from chatsales.kpis import REGISTRY
from chatsales.kpis.catalog import MEMBERS_REF
from chatsales.kpis.charts import CHARTS, LINE_SERIES

UNITS = ("count", "percent", "currency", "duration", "rating", "number")
MISSING = "—"
SMGO_REFS = tuple(f"Smgo-{n}" for n in range(1, 6))
INSI_6 = "Insi-6"

# the spec's sections (kpis.md), in its order; `_family_of` says which refs each one holds
WAITING, HOOK, DIALOGUES, RATINGS, SALES = "Waiting list", "Hook", "Dialogues", "Ratings", "Sales"
IADVIZE, INSIGHTS, CAMPAIGNS, MEMBERS = (
    "iAdvize sales indicators",
    "Sales insights",
    "Campaigns and segments",
    "Members",
)
FAMILY_ORDER = (WAITING, HOOK, DIALOGUES, RATINGS, SALES, IADVIZE, INSIGHTS, CAMPAIGNS, MEMBERS)

_REF = re.compile(r"\b(?:Wlst|Hook|Chat|Amb)-Card-\d+(?:-net)?\b")
_ANY_REF = re.compile(r"\b(?:Wlst|Hook|Chat|Amb)-Card-\d+(?:-net)?\b|\bIadv-\d+\b|\bInsi-\d+\b")
_MONEY = re.compile(r"turnover|revenue|sales amount|\bAOV\b|\bsales\b", re.IGNORECASE)
_MONEY_PER = re.compile(r"(turnover|revenue) per", re.IGNORECASE)
_DURATION = re.compile(r"\btime\b|duration", re.IGNORECASE)


def natural_key(ref: str) -> tuple:
    """Chat-Card-2 before Chat-Card-10: the digits of a ref compare as numbers."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", ref))


def _card_family(ref: str) -> str:
    """The spec's section of a card, from its ref: Chat-Card-71..73 are the ratings, 80 and above the sales,
    the other Chat-Card and Amb-Card refs the conversations and dialogues."""
    prefix = ref.split("-", 1)[0]
    if prefix in ("Wlst", "Hook", "Iadv", "Insi"):
        return {"Wlst": WAITING, "Hook": HOOK, "Iadv": IADVIZE, "Insi": INSIGHTS}[prefix]
    number = int(ref.split("-")[2])
    return RATINGS if 71 <= number <= 73 else SALES if number >= 80 else DIALOGUES


def _chart_family(ref: str) -> str:
    """A line chart belongs with its first line's KPI; a bucket chart with the KPI its definition names, else
    with the waiting list or the dialogues, as its definition says."""
    if ref in LINE_SERIES:
        return _card_family(LINE_SERIES[ref][0].ref)
    definition = CHARTS[ref].definition
    named = _REF.findall(definition)
    if named:
        return _card_family(named[0])
    return WAITING if "waiting-list" in definition else DIALOGUES


_CHART_KIND = {"Donut": 0, "Line": 1, "Bar": 2}  # the spec's Charts table: donuts, lines, bars


def _families() -> list[tuple[str, list[str]]]:
    members: dict[str, list[str]] = {title: [] for title in FAMILY_ORDER}
    registered = {ref: n for n, ref in enumerate(REGISTRY)}
    # within a family by number (Amb-Card-23 after Chat-Card-22, as in the spec), then as registered
    # (Chat-Card-80 before Chat-Card-80-net, Insi-6's new customers before the existing ones)
    for ref in sorted(REGISTRY, key=lambda r: (tuple(int(n) for n in re.findall(r"\d+", r)), registered[r])):
        members[_card_family(ref)].append(ref)
    insights = members[INSIGHTS]
    insights.insert(next(i for i, r in enumerate(insights) if r.startswith("Insi-6")), INSI_6)
    charts = sorted([*CHARTS, *LINE_SERIES], key=lambda r: (_CHART_KIND.get(r.split("-")[1], 3), natural_key(r)))
    for ref in charts:
        members[_chart_family(ref)].append(ref)
    members[CAMPAIGNS] += list(SMGO_REFS)
    members[MEMBERS].append(MEMBERS_REF)
    return [(title, refs) for title, refs in members.items()]


FAMILIES: list[tuple[str, list[str]]] = _families()
FAMILY_OF: dict[str, str] = {ref: title for title, refs in FAMILIES for ref in refs}

_OTHER_NAMES = {
    INSI_6: "New vs existing customers",
    MEMBERS_REF: "Members list",
    "Smgo-1": "Campaign transaction stats",
    "Smgo-2": "Campaign conversion",
    "Smgo-3": "Purchase segments",
    "Smgo-4": "Revenue trend segments",
    "Smgo-5": "Channel × location mix",
}


def name_of(ref: str) -> str:
    """The ref's name as the spec gives it (cards, charts, the members list, Insi-6, Smgo-*); the ref itself
    for anything unknown."""
    if ref in REGISTRY:
        return REGISTRY[ref].name
    if ref in CHARTS:
        return CHARTS[ref].name
    if ref in LINE_SERIES:
        return " / ".join(s.label for s in LINE_SERIES[ref])
    return _OTHER_NAMES.get(ref, ref)


def _percent_scale(ref: str) -> float:
    """What the stored value of a percent is multiplied by: 100 for a rate defined '× 100' (Insi-4)."""
    return 100.0 if "× 100" in REGISTRY[ref].definition else 1.0


def unit_of(ref: str) -> str:
    """The unit a ref's value is shown in, from its kind, name and definition: durations are the times and
    durations (seconds), money the sales, turnover, revenue and AOV, rates percents; a bucket chart counts."""
    kpi = REGISTRY.get(ref)
    if kpi is None:
        if ref in LINE_SERIES:
            return unit_of(LINE_SERIES[ref][0].ref)
        return "count" if ref in CHARTS else "number"
    if kpi.kind == "count":
        return "count"
    if _DURATION.search(kpi.name):
        return "duration"
    if kpi.kind == "mean" and "rating" in kpi.name.lower():
        return "rating"
    if kpi.kind == "rate":  # a share is a percent; turnover per contact or per hour is money
        return "currency" if _MONEY_PER.search(kpi.name) else "percent"
    if kpi.kind == "sum" or _MONEY.search(kpi.name):
        return "currency"
    return "number"


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def _duration(seconds: float) -> str:
    total = round(abs(seconds))
    sign = "-" if seconds < 0 and total else ""
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days:,} d {hours:02d} h"
    if hours:
        return f"{sign}{hours} h {minutes:02d} min"
    if minutes:
        return f"{sign}{minutes} min {secs:02d} s"
    return f"{sign}{secs} s"


def format_value(value, unit: str, currency: str = "EUR") -> str:
    """A value as a person reads it: '1,588', '62.7 %' (from a fraction), '21,280.50 EUR', '2 h 05 min',
    '4.32'; missing (None, NaN) is '—'. Never scientific notation."""
    if _missing(value):
        return MISSING
    value = float(value)
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "percent":
        return f"{value * 100:,.1f} %"
    if unit == "currency":
        return f"{value:,.2f} {currency}"
    if unit == "duration":
        return _duration(value)
    if unit in ("rating", "number"):
        return f"{value:,.2f}"
    raise ValueError(f"unknown unit {unit!r}: expected one of {', '.join(UNITS)}")


def format_change(current, previous, unit: str) -> str:
    """The change against the previous period: in points for a percent ('+3.1 pts'), relative otherwise
    ('+12.5 %'); '—' when either is missing or the previous one is 0."""
    if _missing(current) or _missing(previous):
        return MISSING
    current, previous = float(current), float(previous)
    if unit == "percent":
        text = f"{(current - previous) * 100:+,.1f}"
        return ("0.0" if text in ("+0.0", "-0.0") else text) + " pts"
    if previous == 0:
        return MISSING
    text = f"{(current - previous) / abs(previous) * 100:+,.1f}"
    return ("0.0" if text in ("+0.0", "-0.0") else text) + " %"


@dataclass(frozen=True)
class Card:
    """One card: `value` is what format_value(value, unit) shows (a percent as a fraction, Insi-4's too);
    `numerator` and `denominator` are as published (None for counts and medians)."""

    ref: str
    name: str
    unit: str
    value: float | None
    numerator: float | None
    denominator: float | None
    fluctuating: bool
    numerator_unit: str = "count"
    denominator_unit: str = "count"

    def text(self, currency: str = "EUR") -> str:
        return format_value(self.value, self.unit, currency)

    def parts(self, currency: str = "EUR") -> str:
        """'numerator / denominator' in their units ('' for a card that has none: counts, sums, medians)."""
        if _missing(self.denominator):
            return ""
        return (
            f"{format_value(self.numerator, self.numerator_unit, currency)} / "
            f"{format_value(self.denominator, self.denominator_unit, currency)}"
        )


def parts_units(ref: str) -> tuple[str, str]:
    """The units of a card's numerator and denominator. A mean adds up values of its own unit (seconds,
    money; scores and dialogues count) over a count; a rate 'A / B' takes the units of the refs its
    definition names on each side, a count where it names none, money over money for a share of money
    (Iadv-2-share-*), and hours (Iadv-10's production hours) as a plain number."""
    kpi = REGISTRY[ref]
    unit = unit_of(ref)
    if kpi.kind in ("mean", "median"):
        return (unit if unit in ("currency", "duration") else "count"), "count"
    if kpi.kind != "rate" or " / " not in kpi.definition:
        return "count", "count"
    sides = kpi.definition.split(" / ", 1)
    found = []
    for side in sides:
        named = [r for r in _ANY_REF.findall(side) if r in REGISTRY]
        side_unit = "number" if "hours" in side else unit_of(named[0]) if named else "count"
        found.append("count" if side_unit == "percent" else side_unit)
    if unit == "percent" and found[0] == "currency":  # a share of money is money over money
        found[1] = "currency"
    return found[0], found[1]


def shown_value(ref: str, value):
    """The stored value of `ref` as format_value takes it (Insi-4, stored ×100, as a fraction)."""
    if _missing(value) or ref not in REGISTRY or unit_of(ref) != "percent":
        return value
    return float(value) / _percent_scale(ref)


def cards(values: dict) -> list[Card]:
    """The registry's cards present in `values` (chatsales.query.catalog_of_period's dict), in the families'
    order."""
    out = []
    for _, refs in FAMILIES:
        for ref in refs:
            entry = values.get(ref)
            if ref not in REGISTRY or not isinstance(entry, dict) or "value" not in entry:
                continue
            kpi = REGISTRY[ref]
            out.append(
                Card(
                    ref,
                    kpi.name,
                    unit_of(ref),
                    shown_value(ref, entry["value"]),
                    entry.get("numerator"),
                    entry.get("denominator"),
                    kpi.fluctuating,
                    *parts_units(ref),
                )
            )
    return out


# counts outside the cards: the members list's, Insi-7's product table's, Smgo-5's
_COUNT_COLUMNS = {
    MEMBERS_REF: ("members", ("active_dialogues", "conversations_closed", "sales_count")),
    "Insi-7": ("products", ("shown", "units_sold", "units_sold_after_shown")),
}


def _whole(x):
    """A count as an int (JSON 1618, not 1618.0); a missing or fractional one as it is."""
    if isinstance(x, float) and math.isfinite(x) and x.is_integer():
        return int(x)
    return x


def for_json(values: dict, currency: str = "EUR") -> dict:
    """The catalog as `chatsales kpis --json` prints it: the same shape, each card with its name, unit and
    text (the value as the text output and the dashboard show it: '62.7 %') beside value, numerator and
    denominator, and every count an integer (cards, Insi-6's orders, the count lines, the members list's and
    the product table's counts, Smgo-5's units). A percent's value stays the stored fraction (Insi-4's the
    stored ×100); its text is the same for both."""
    out = dict(values)
    for ref, entry in values.items():
        if ref in REGISTRY and isinstance(entry, dict) and "value" in entry:
            unit = unit_of(ref)
            shown = {
                **entry,
                "name": REGISTRY[ref].name,
                "unit": unit,
                "text": format_value(shown_value(ref, entry["value"]), unit, currency),
            }
            num_unit, den_unit = parts_units(ref)
            for key, key_unit in (("value", unit), ("numerator", num_unit), ("denominator", den_unit)):
                if key_unit == "count":
                    shown[key] = _whole(entry.get(key))
            out[ref] = shown
        elif ref in LINE_SERIES and isinstance(entry, dict) and "days" in entry:
            counted = [s.label for s in LINE_SERIES[ref] if unit_of(s.ref) == "count"]
            out[ref] = {
                **entry,
                "days": [{**p, **{k: _whole(p.get(k)) for k in counted if k in p}} for p in entry["days"]],
            }
    if isinstance(values.get(INSI_6), dict):
        out[INSI_6] = {
            half: {**h, "orders": _whole(h.get("orders"))} if isinstance(h, dict) else h
            for half, h in values[INSI_6].items()
        }
    for ref, (key, columns) in _COUNT_COLUMNS.items():
        entry = values.get(ref)
        if isinstance(entry, dict) and isinstance(entry.get(key), list):
            out[ref] = {
                **out[ref],
                key: [{**row, **{c: _whole(row.get(c)) for c in columns if c in row}} for row in entry[key]],
            }
    if isinstance(values.get("Smgo-5"), list):
        out["Smgo-5"] = [
            {**row, "units": _whole(row.get("units"))} if "units" in row else row for row in values["Smgo-5"]
        ]
    return out


FLUCTUATING_MARK = "~"
LEGEND = (
    f"{FLUCTUATING_MARK} fluctuating: can still change when late events arrive (a late question, rating, "
    "dialogue, sale, email fill or refund)"
)
TOP_PRODUCTS = 15
TOP_MIX = 10


def _card_line(card: Card, currency: str) -> str:
    mark = FLUCTUATING_MARK if card.fluctuating else " "
    parts = card.parts(currency)
    return (
        f"  {card.ref:<23} {mark} {card.name:<48} {card.text(currency):>18}" + (f"   {parts}" if parts else "")
    ).rstrip()


def _chart_lines(ref: str, entry: dict, currency: str) -> list[str]:
    lines = [f"  {ref:<23}   {name_of(ref)}"]
    if "buckets" in entry:
        lines.append(
            "      " + " · ".join(f"{bucket} {format_value(n, 'count')}" for bucket, n in entry["buckets"].items())
        )
        return lines
    units = {s.label: unit_of(s.ref) for s in LINE_SERIES[ref]}
    widths = {label: max(len(label), 12) + 2 for label in units}
    lines.append("      " + f"{'day':<12}" + "".join(f"{label:>{w}}" for label, w in widths.items()))
    for point in entry["days"]:
        lines.append(
            "      "
            + f"{point['day']:<12}"
            + "".join(f"{format_value(point.get(label), units[label], currency):>{w}}" for label, w in widths.items())
        )
    return lines


def _products(entry: dict, currency: str) -> list[str]:
    products = sorted(entry.get("products") or [], key=lambda p: -(p.get("sales") or 0.0))
    if not products:
        return []
    lines = [f"      {'product':<14} {'shown':>8} {'units sold':>11} {'sales':>18} {'units sold after shown':>23}"]
    for p in products[:TOP_PRODUCTS]:
        lines.append(
            f"      {p['product_id']!s:<14} {format_value(p['shown'], 'count'):>8} "
            f"{format_value(p['units_sold'], 'count'):>11} "
            f"{format_value(p['sales'], 'currency', currency):>18} "
            f"{format_value(p['units_sold_after_shown'], 'count'):>23}"
        )
    if len(products) > TOP_PRODUCTS:
        lines.append(f"      … {len(products) - TOP_PRODUCTS:,} more products (--json has them all)")
    return lines


def _members(entry: dict, currency: str) -> list[str]:
    members = sorted(entry.get("members") or [], key=lambda m: (-(m.get("sales_total") or 0.0), str(m["member_id"])))
    lines = [
        f"  {MEMBERS_REF:<23}   {name_of(MEMBERS_REF)}, by total sales",
        f"      {'member':<10} {'name':<24} {'role':>4} {'activity':>12} {'active dial.':>12} {'closed':>7} "
        f"{'rating':>6} {'sales':>6} {'total sales':>18}",
    ]
    for m in members:
        name = " ".join(x for x in (m.get("first_name"), m.get("last_name")) if x)
        lines.append(
            f"      {m['member_id']!s:<10} {name:<24} {'—' if m.get('role') is None else m['role']!s:>4} "
            f"{format_value(m.get('activity_seconds'), 'duration'):>12} "
            f"{format_value(m.get('active_dialogues'), 'count'):>12} "
            f"{format_value(m.get('conversations_closed'), 'count'):>7} "
            f"{format_value(m.get('average_rating'), 'rating'):>6} "
            f"{format_value(m.get('sales_count'), 'count'):>6} "
            f"{format_value(m.get('sales_total'), 'currency', currency):>18}"
        )
    return lines


def _campaigns(values: dict, currency: str) -> list[str]:
    lines = []
    stats = values.get("Smgo-1")
    if isinstance(stats, dict):
        lines.append(f"  {'Smgo-1':<23}   Campaign sales placed in the period, per kind and per campaign")
        for row in [*stats.get("by_kind", []), *stats.get("by_campaign", [])]:
            label = row.get("campaign_name") or row.get("campaign_id") or f"every {row.get('kind')}"
            lines.append(
                f"      {label!s:<24} {row.get('kind')!s:<11} "
                f"{format_value(row['orders'], 'count'):>7} orders "
                f"{format_value(row['sales_sum'], 'currency', currency):>18}   mean "
                f"{format_value(row.get('sales_mean'), 'currency', currency)}, overlap with chat "
                f"{format_value(row.get('overlap_orders'), 'count')}"
            )
    conversion = values.get("Smgo-2")
    if isinstance(conversion, list):
        lines.append(f"  {'Smgo-2':<23}   {name_of('Smgo-2')} (clickers who bought within the window), per kind")
        for row in conversion:
            if row.get("level") == "kind":
                lines.append(
                    f"      {row['kind']!s:<24} {format_value(row.get('conversion'), 'percent'):>9}   "
                    f"{format_value(row.get('buyers'), 'count')} / "
                    f"{format_value(row.get('clickers'), 'count')}"
                )
    for ref in ("Smgo-3", "Smgo-4"):
        entry = values.get(ref)
        if isinstance(entry, dict):
            lines.append(f"  {ref:<23}   {name_of(ref)}, customers as of {entry.get('as_of') or '—'}")
            customers = entry.get("customers") or {}
            groups = customers.items() if ref == "Smgo-3" else [("trend", customers)]
            for group, counts in groups:
                if len(counts) > TOP_MIX:
                    lines.append(f"      {group:<14} {len(counts):,} values (--json has them)")
                else:
                    lines.append(
                        f"      {group:<14} " + " · ".join(f"{k} {format_value(n, 'count')}" for k, n in counts.items())
                    )
    mix = values.get("Smgo-5")
    if isinstance(mix, list):
        lines.append(f"  {'Smgo-5':<23}   {name_of('Smgo-5')}: best sellers per channel and store (first {TOP_MIX})")
        for row in mix[:TOP_MIX]:
            where = " ".join(str(x) for x in (row.get("sales_channel"), row.get("store_city")) if x)
            lines.append(
                f"      {where:<16} #{row.get('rank')!s:<3} {row.get('product_id')!s:<12} "
                f"{format_value(row.get('units'), 'count'):>6} units "
                f"{format_value(row.get('sales'), 'currency', currency):>18}"
            )
    return lines


def catalog_text(values: dict, *, charts: bool = False, currency: str = "EUR") -> list[str]:
    """The catalog for a person, line by line: each family in the spec's order with its cards (name beside
    ref, value in its unit, numerator / denominator, '~' on fluctuating ones), Insi-7's best products, the
    campaign figures and the members list; with `charts` the chart buckets and the line charts' days."""
    lines = [LEGEND]
    by_ref = {card.ref: card for card in cards(values)}
    hidden = 0
    for title, refs in FAMILIES:
        block = []
        for ref in refs:
            entry = values.get(ref)
            if ref in by_ref:
                block.append(_card_line(by_ref[ref], currency))
                if ref == "Insi-7" and isinstance(entry, dict):
                    block += _products(entry, currency)
            elif ref in CHARTS or ref in LINE_SERIES:
                if not isinstance(entry, dict):
                    continue
                if charts:
                    block += _chart_lines(ref, entry, currency)
                else:
                    hidden += 1
            elif ref == MEMBERS_REF and isinstance(entry, dict):
                block += _members(entry, currency)
        if title == CAMPAIGNS:
            block += _campaigns(values, currency)
        if block:
            lines += ["", title, *block]
    if hidden:
        lines += ["", f"({hidden} chart{'' if hidden == 1 else 's'} not shown: add --charts)"]
    return lines
