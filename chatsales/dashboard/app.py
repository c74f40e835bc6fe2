"""The chatsales dashboard (Streamlit): `chatsales dashboard` runs it. The sidebar picks the period and the
filters (kept in the page's address, so a view can be shared); the pages draw the catalog of that period,
computed by chatsales.query as `chatsales kpis` computes it, from a read-only connection."""

from __future__ import annotations

import os
from datetime import date

import streamlit as st

from chatsales.dashboard import data
from chatsales.dashboard.periods import DEFAULT_PRESET, PRESETS, preset_range
from chatsales.dashboard.view import KEY, View
from chatsales.period import WEEKDAYS, Periods
from chatsales.query import NothingPublished
from chatsales.settings import load_settings

FILTERS = ("source", "channel", "member", "role")
ANY = ""
PAGES = (
    ("views/popsell.py", "Conversations and sales", ":material/forum:"),
    ("views/iadvize.py", "iAdvize indicators", ":material/shopping_cart:"),
    ("views/insights.py", "Sales insights", ":material/insights:"),
    ("views/campaigns.py", "Campaigns and segments", ":material/campaign:"),
    ("views/members.py", "Members leaderboard", ":material/leaderboard:"),
    ("views/explorer.py", "Attribution explorer", ":material/search:"),
)


def from_address(key: str, default):
    """A widget's first value: the page address's (?period=last_7_days&channel=web…), else the default."""
    if key not in st.session_state:
        st.session_state[key] = st.query_params.get(key, default)


def sidebar(url: str, timezone: str, mark: str, published: tuple[date, date]) -> View | None:
    first_published, last_published = published
    st.sidebar.markdown(f"**Published days** {first_published} – {last_published}")
    from_address("period", DEFAULT_PRESET)
    if st.session_state["period"] not in PRESETS:
        st.session_state["period"] = DEFAULT_PRESET
    preset = st.sidebar.selectbox("Period", list(PRESETS), format_func=PRESETS.get, key="period")
    custom = None
    if preset == "custom":
        if "custom_range" not in st.session_state:
            try:
                start = date.fromisoformat(st.query_params.get("from", ""))
                end = date.fromisoformat(st.query_params.get("to", ""))
            except ValueError:
                start, end = max(first_published, last_published.replace(day=1)), last_published
            st.session_state["custom_range"] = (start, end)
        chosen = st.sidebar.date_input(
            "From – to", key="custom_range", min_value=first_published, max_value=last_published
        )
        if len(chosen) != 2:
            st.sidebar.info("pick the last day too")
            return None
        custom = (chosen[0], chosen[1])
    first, last = preset_range(preset, last_published, first_published, custom)

    options = data.filter_values(url, mark)
    members = data.member_labels(url, mark)
    labels = {"member": lambda v: members.get(v, v), "role": lambda v: f"role {v}"}
    filters = {}
    for name in FILTERS:
        values = [str(v) for v in options.get(name, [])]
        from_address(name, ANY)
        if st.session_state[name] not in values:
            st.session_state[name] = ANY
        show = labels.get(name, str)
        chosen = st.sidebar.selectbox(
            name.capitalize(), [ANY, *values], key=name, format_func=lambda v, show=show: "All" if v == ANY else show(v)
        )
        if chosen != ANY:
            filters[name] = chosen
    from_address("slot", "")
    time_slot = st.sidebar.text_input(
        "Time slot",
        key="slot",
        placeholder="09:00-19:00",
        help="HH:MM-HH:MM, local time; wraps midnight when it ends before it starts",
    )
    if "days" not in st.session_state:
        given = st.query_params.get("days", "")
        st.session_state["days"] = [d for d in given.split(",") if d in WEEKDAYS]
    weekdays = st.sidebar.multiselect("Days of the week", list(WEEKDAYS), key="days")
    days = ",".join(d for d in WEEKDAYS if d in weekdays) if 0 < len(weekdays) < 7 else None
    try:  # the same checks as `chatsales kpis`: Periods.range refuses a bad slot with its reason
        Periods.range(first, last, timezone, time_slot=time_slot.strip() or None, weekdays=days)
    except ValueError as error:
        st.sidebar.error(str(error))
        return None

    address = {"period": preset, **filters}
    if custom:
        address.update({"from": str(first), "to": str(last)})
    if time_slot.strip():
        address["slot"] = time_slot.strip()
    if days:
        address["days"] = days
    if dict(st.query_params) != address:
        st.query_params.from_dict(address)
    return View(url, timezone, "", mark, first, last, published, filters, time_slot.strip() or None, days)


def main() -> None:
    st.set_page_config(page_title="chatsales", page_icon=":material/forum:", layout="wide")
    settings = load_settings()
    url = os.environ.get("CHATSALES_REPORTING_DB_URL") or settings.reporting_db_url
    pages = [st.Page(path, title=title, icon=icon, default=n == 0) for n, (path, title, icon) in enumerate(PAGES)]
    navigation = st.navigation(pages)
    try:
        mark = data.published_mark(url)
        published = data.published_range(url, mark)
    except Exception as error:  # noqa: BLE001 - the person needs the reason, not a traceback
        st.error(f"cannot read the reporting database: {error}")
        st.stop()
    if published is None:
        st.warning("Nothing is published yet: run `chatsales demo`, or the pipeline, then reload this page.")
        st.stop()
    view = sidebar(url, settings.timezone, mark, published)
    if view is None:
        st.stop()
    view.currency = settings.currency
    st.session_state[KEY] = view
    try:
        navigation.run()
    except NothingPublished as error:
        st.warning(f"{error}")


main()
