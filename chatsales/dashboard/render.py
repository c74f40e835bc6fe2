"""The pages: cards, charts and tables drawn from the catalog of the chosen period. Every number is formatted
by chatsales.kpis.presentation, as `chatsales kpis` prints it. Cards are HTML with `data-ref` (the browser
test reads them by ref); everything in them is a number or a registry name, never user text."""

from __future__ import annotations

from html import escape

import altair as alt
import pandas as pd
import streamlit as st

from chatsales.dashboard import data
from chatsales.dashboard.view import View, current
from chatsales.kpis import presentation as fmt
from chatsales.kpis.charts import CHARTS, LINE_SERIES

FLUCTUATING_MARK = fmt.FLUCTUATING_MARK  # the mark `chatsales kpis` prints beside the same cards
FLUCTUATING_HELP = fmt.LEGEND.removeprefix(FLUCTUATING_MARK).strip()
RATE_LINES = {"Chat-Line-5", "Chat-Line-50"}
CSS = """<style>
.cs-grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:10px;margin:4px 0 14px}
.cs-card{border:1px solid #e3e6eb;border-radius:8px;padding:10px 12px;background:#fff}
.cs-name{font-size:.82rem;color:#444;line-height:1.2;min-height:2.1em}
.cs-ref{color:#999;font-size:.7rem}
.cs-f{color:#c77700;font-weight:700;cursor:help}
.cs-value{font-size:1.55rem;font-weight:600;margin:4px 0 2px}
.cs-ratio{font-size:.75rem;color:#666}
.cs-change{font-size:.75rem}
[data-testid="stMainBlockContainer"]{padding-top:2.2rem}
h1{font-size:2.1rem !important;padding-top:0 !important}
.cs-up,.cs-down{color:#3d4a5c;font-weight:600}.cs-flat{color:#888}
</style>"""


def page_header(title: str, view: View) -> None:
    st.markdown(CSS, unsafe_allow_html=True)
    st.title(title)
    previous = view.previous
    st.caption(
        f"{view.label} — change against {previous[0]:%d %b} – {previous[1]:%d %b}"
        if previous
        else f"{view.label} — no previous period of the same length is published"
    )


def card_html(card, previous: dict | None, currency: str) -> str:
    value = fmt.format_value(card.value, card.unit, currency)
    ratio = ""
    if card.denominator is not None:
        num_unit, den_unit = fmt.parts_units(card.ref)
        ratio = (
            f'<div class="cs-ratio">{escape(fmt.format_value(card.numerator, num_unit, currency))} / '
            f"{escape(fmt.format_value(card.denominator, den_unit, currency))}</div>"
        )
    change = ""
    if previous is not None:
        entry = previous.get(card.ref)
        before = fmt.shown_value(card.ref, entry["value"]) if isinstance(entry, dict) and "value" in entry else None
        text = fmt.format_change(card.value, before, card.unit)
        if text != fmt.MISSING:
            # neutral colours: more is good for sales, bad for handling time or requests not handled
            trend = "cs-up" if text.startswith("+") else "cs-down" if text.startswith(("-", "−")) else "cs-flat"
            change = f'<div class="cs-change {trend}">{escape(text)} vs previous</div>'
    mark = (
        f' <span class="cs-f" title="{escape(FLUCTUATING_HELP)}">{FLUCTUATING_MARK}</span>' if card.fluctuating else ""
    )
    return (
        f'<div class="cs-card" data-ref="{escape(card.ref)}"><div class="cs-name">{escape(card.name)}{mark} '
        f'<span class="cs-ref">{escape(card.ref)}</span></div><div class="cs-value">{escape(value)}</div>'
        f"{ratio}{change}</div>"
    )


def draw_cards(cards, previous: dict | None, currency: str) -> None:
    if cards:
        st.markdown(
            '<div class="cs-grid">' + "".join(card_html(c, previous, currency) for c in cards) + "</div>",
            unsafe_allow_html=True,
        )


def draw_chart(ref: str, values: dict) -> None:
    entry = values.get(ref)
    if entry is None:
        return
    if "buckets" in entry:
        chart = CHARTS[ref]
        frame = pd.DataFrame({"bucket": list(entry["buckets"]), "count": list(entry["buckets"].values())})
        base = alt.Chart(frame, title=f"{chart.name} ({ref})")
        if ref.startswith("Chat-Donut"):
            drawn = base.mark_arc(innerRadius=55).encode(
                theta=alt.Theta("count:Q"),
                color=alt.Color("bucket:N", sort=list(chart.buckets), title=None),
                tooltip=["bucket", alt.Tooltip("count:Q", format=",")],
            )
        else:
            drawn = base.mark_bar().encode(
                x=alt.X(
                    "bucket:N", sort=list(chart.buckets), title=None, axis=alt.Axis(labelAngle=-35, labelOverlap=False)
                ),
                y=alt.Y("count:Q", title="count"),
                tooltip=["bucket", alt.Tooltip("count:Q", format=",")],
            )
        st.altair_chart(drawn.properties(height=240), width="stretch")
    elif "days" in entry:
        points = pd.DataFrame(entry["days"])
        if points.empty:
            st.caption(f"{ref}: no day in the period")
            return
        long = points.melt(id_vars="day", var_name="line", value_name="value")
        long["day"] = pd.to_datetime(long["day"])
        axis = alt.Axis(format="%") if ref in RATE_LINES else alt.Axis(format=",.0f")
        drawn = (
            alt.Chart(long, title=f"{ref}, per day")
            .mark_line(point=len(points) < 40)
            .encode(
                x=alt.X("day:T", title=None),
                y=alt.Y("value:Q", axis=axis, title=None),
                color=alt.Color(
                    "line:N",
                    title=None,
                    sort=[s.label for s in LINE_SERIES[ref]],
                    legend=alt.Legend(orient="top", direction="horizontal", columns=2, labelLimit=260),
                ),
                tooltip=[
                    alt.Tooltip("day:T"),
                    "line",
                    alt.Tooltip("value:Q", format=".1%" if ref in RATE_LINES else ","),
                ],
            )
        )
        st.altair_chart(drawn.properties(height=260), width="stretch")


def draw_families(view: View, prefixes: tuple[str, ...]) -> None:
    """The card families whose refs start with `prefixes`, each followed by its charts, two per row."""
    values, previous = view.catalog(), view.previous_cards()
    cards = {c.ref: c for c in fmt.cards(values)}
    for title, refs in fmt.FAMILIES:
        shown = [cards[r] for r in refs if r in cards and r.startswith(prefixes)]
        if not shown:
            continue
        st.subheader(title)
        draw_cards(shown, previous, view.currency)
        charts = [r for r in refs if (r in CHARTS or r in LINE_SERIES) and r in values]
        for start in range(0, len(charts), 2):
            for column, ref in zip(st.columns(2), charts[start : start + 2]):
                with column:
                    draw_chart(ref, values)


def popsell_page() -> None:
    view = current()
    page_header("Conversations and sales", view)
    st.caption(fmt.LEGEND)
    draw_families(view, ("Wlst-", "Hook-", "Chat-", "Amb-"))


def iadvize_page() -> None:
    view = current()
    page_header("iAdvize sales indicators", view)
    st.caption(fmt.LEGEND)
    draw_families(view, ("Iadv-",))


def insights_page() -> None:
    view = current()
    page_header("Sales insights", view)
    st.caption(fmt.LEGEND)
    values = view.catalog()
    draw_families(view, ("Insi-",))
    st.subheader("New vs existing customers (Insi-6)")
    halves = pd.DataFrame(
        [{"customers": half, "orders": h["orders"], "revenue": h["revenue"]} for half, h in values["Insi-6"].items()]
    )
    left, right = st.columns(2)
    for column, measure in ((left, "orders"), (right, "revenue")):
        with column:
            st.altair_chart(
                alt.Chart(halves, title=measure)
                .mark_arc(innerRadius=55)
                .encode(
                    theta=f"{measure}:Q",
                    color=alt.Color("customers:N", title=None),
                    tooltip=["customers", alt.Tooltip(f"{measure}:Q", format=",.2f")],
                )
                .properties(height=220),
                width="stretch",
            )
    st.subheader("Product-wise sales (Insi-7)")
    products = pd.DataFrame(values["Insi-7"]["products"])
    if products.empty:
        st.info("no product was shown or sold in the period")
    else:
        st.dataframe(
            products.sort_values("sales", ascending=False),
            hide_index=True,
            width="stretch",
            column_config={
                "product_id": "product",
                "sales": st.column_config.NumberColumn(f"sales ({view.currency})", format="%.2f"),
            },
        )


def campaigns_page() -> None:
    view = current()
    page_header("Campaigns and segments", view)
    smgo = view.campaigns()
    st.subheader("Campaign sales in the period (Smgo-1)")
    by_kind = pd.DataFrame(smgo["Smgo-1"]["by_kind"]) if smgo["Smgo-1"] else pd.DataFrame()
    if by_kind.empty:
        st.info("no campaign sale in the period")
    else:
        st.dataframe(by_kind, hide_index=True, width="stretch")
        st.dataframe(
            pd.DataFrame(smgo["Smgo-1"]["by_campaign"]).sort_values("sales_sum", ascending=False),
            hide_index=True,
            width="stretch",
        )
    st.subheader("Campaign conversion (Smgo-2, as of the last nightly run)")
    conversion = pd.DataFrame(smgo["Smgo-2"])
    if not conversion.empty:
        st.dataframe(
            conversion,
            hide_index=True,
            width="stretch",
            column_config={"conversion": st.column_config.NumberColumn("conversion", format="percent")},
        )
    as_of = smgo["Smgo-3"]["as_of"]
    st.subheader(f"Purchase segments (Smgo-3){f', as of {as_of}' if as_of else ''}")
    segments = smgo["Smgo-3"]["customers"]
    kinds = list(segments)
    for n, kind in enumerate(kinds):
        if n % 3 == 0:
            columns = st.columns(3)
        frame = pd.DataFrame({"segment": list(segments[kind]), "customers": list(segments[kind].values())})
        with columns[n % 3]:
            st.altair_chart(
                alt.Chart(frame.nlargest(12, "customers"), title=kind)
                .mark_bar()
                .encode(y=alt.Y("segment:N", sort="-x", title=None), x=alt.X("customers:Q"))
                .properties(height=260),
                width="stretch",
            )
    st.subheader("Revenue trend segments (Smgo-4)")
    trends = smgo["Smgo-4"]["customers"]
    st.altair_chart(
        alt.Chart(pd.DataFrame({"trend": list(trends), "customers": list(trends.values())}))
        .mark_arc(innerRadius=55)
        .encode(theta="customers:Q", color=alt.Color("trend:N", title=None), tooltip=["trend", "customers"])
        .properties(height=220),
        width="stretch",
    )
    st.subheader("Channel × location mix (Smgo-5, top 50)")
    st.dataframe(pd.DataFrame(smgo["Smgo-5"]), hide_index=True, width="stretch")


MEMBER_SORTS = {
    "sales_total": "Total sales",
    "sales_count": "Number of sales",
    "active_dialogues": "Active dialogues",
    "conversations_closed": "Conversations closed",
    "average_rating": "Average rating",
    "activity_hours": "Activity time",
}


def members_page() -> None:
    view = current()
    page_header("Members leaderboard (Chat-List-1)", view)
    members = pd.DataFrame(view.catalog()["Chat-List-1"]["members"])
    if members.empty:
        st.info("no member activity in the period")
        return
    members["activity_hours"] = members.pop("activity_seconds") / 3600
    members["name"] = (members["first_name"].fillna("") + " " + members["last_name"].fillna("")).str.strip()
    by = st.selectbox("Rank by", list(MEMBER_SORTS), format_func=MEMBER_SORTS.get, key="members_sort", width=300)
    ranked = members.sort_values([by, "member_id"], ascending=[False, True], na_position="last")
    ranked.insert(0, "rank", range(1, len(ranked) + 1))
    columns = [
        "rank",
        "name",
        "member_id",
        "role",
        "activity_hours",
        "active_dialogues",
        "conversations_closed",
        "average_rating",
        "sales_count",
        "sales_total",
    ]
    st.dataframe(
        ranked[columns],
        hide_index=True,
        width="stretch",
        height=min(38 + 35 * len(ranked), 900),
        column_config={
            "member_id": "id",
            "active_dialogues": "active dialogues",
            "conversations_closed": "closed",
            "activity_hours": st.column_config.NumberColumn("activity (h)", format="%.1f"),
            "average_rating": st.column_config.NumberColumn("rating", format="%.2f"),
            "sales_total": st.column_config.NumberColumn(f"sales ({view.currency})", format="localized"),
            "sales_count": st.column_config.NumberColumn("# sales", format="%d"),
        },
    )
    st.caption("Click a column header to sort by it; the rank follows the 'Rank by' choice.")


def yes_no(flag) -> str:
    return "unknown" if flag is None or pd.isna(flag) else "yes" if flag else "no"


def explorer_page() -> None:
    from chatsales import explorer

    view = current()
    st.markdown(CSS, unsafe_allow_html=True)
    st.title("Attribution explorer")
    st.caption(
        "Type an order or receipt id: whether it is credited to a chat and why, and each change since it "
        "was first published. Read-only; the id is only ever a query parameter."
    )
    samples = data.sample_orders(view.url, view.mark)
    if samples:
        st.caption("Examples: " + ", ".join(f"`{v}` ({k})" for k, v in samples.items()))
    order_id = st.text_input("Order id", key="explorer_order", max_chars=explorer.MAX_ORDER_ID).strip()
    if not order_id:
        return
    found = data.explain(view.url, order_id, view.mark)
    if not found.found:
        st.warning(
            f"no published order or receipt has the id {order_id!r}: it may be on a day not published yet, "
            "or rejected by the data contract (see the rejects table)"
        )
        near = explorer.order_ids_like(view.url, order_id[:-1] if len(order_id) > 1 else order_id, limit=10)
        if near:
            st.caption("ids starting alike: " + ", ".join(f"`{v}`" for v in near))
        return
    for row in found.orders.to_dict("records"):
        verdict = "attributed" if row["attributed"] else f"not attributed — {row['reason']}"
        st.subheader(f"{row['sales_channel']} {row['order_id']}: {verdict}")
        st.markdown(explorer.why(None if row["attributed"] else row["reason"]))
        left, right = st.columns(2)
        left.markdown(
            "\n".join(
                f"- **{label}**: {value}"
                for label, value in (
                    ("placed at", f"{row['placed_at']:%Y-%m-%d %H:%M:%S} UTC"),
                    ("day", row["day"]),
                    ("total", fmt.format_value(row["total"], "currency", view.currency)),
                    ("cancelled", yes_no(row["is_cancelled"])),
                    ("first order of the customer", yes_no(row["is_first_order"])),
                )
            )
        )
        last_message = row["last_message_at"]
        right.markdown(
            "\n".join(
                f"- **{label}**: {'—' if pd.isna(value) else value}"
                for label, value in (
                    ("chatroom", row["chatroom_id"]),
                    ("member", row["member_id"]),
                    ("source", row["source"]),
                    ("touchpoint", row["touchpoint"]),
                    ("match key", row["match_key"]),
                    (
                        "last message",
                        None
                        if pd.isna(last_message)
                        else f"{last_message:%Y-%m-%d %H:%M:%S} UTC, "
                        + fmt.format_value((row["placed_at"] - last_message).total_seconds(), "duration")
                        + " before the order",
                    ),
                    ("window", f"{row['window_days']} days"),
                )
            )
        )
    st.subheader("History in the ledger")
    if found.history.empty:
        st.caption("no ledger row (published before the ledger existed)")
    else:
        st.dataframe(found.history, hide_index=True, width="stretch")
    if not found.reattributions.empty:
        st.subheader("Re-attributions")
        st.dataframe(found.reattributions, hide_index=True, width="stretch")
