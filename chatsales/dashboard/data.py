"""What the pages read, cached per reporting database, period, filters and publication: a rerun (a click on
another page, a sort) costs nothing, a new publication is read at the next rerun after it (the mark).
Everything goes through chatsales.query, the functions `chatsales kpis` calls, read-only."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
import streamlit as st

from chatsales import explorer, query
from chatsales.period import Periods
from chatsales.reporting import tables as t
from chatsales.reporting.store import ReportingDb


@st.cache_data(ttl=30, show_spinner=False)
def published_mark(url: str) -> str:
    """Changes with every publication (days and nightly snapshots): part of every cache key below. A database
    that does not exist yet, or holds nothing, is not opened further (nor created)."""
    published = query.published_range(url)
    if published is None:
        return "nothing published"
    with ReportingDb(url, read_only=True) as db, db.engine.connect() as conn:
        days = conn.execute(sa.select(sa.func.max(t.pipeline_days.c.computed_at))).scalar()
        snapshots = conn.execute(sa.select(sa.func.max(t.campaign_stats.c.computed_at))).scalar()
    return f"{published}|{days}|{snapshots}"


@st.cache_data(show_spinner=False, max_entries=8)
def published_range(url: str, mark: str) -> tuple[date, date] | None:
    return query.published_range(url)


@st.cache_data(show_spinner=False, max_entries=8)
def filter_values(url: str, mark: str) -> dict[str, list[str]]:
    return query.filter_values(url)


@st.cache_data(show_spinner=False, max_entries=8)
def member_labels(url: str, mark: str) -> dict[str, str]:
    """member id → 'First Last (id)', for the member filter."""
    with ReportingDb(url, read_only=True) as db:
        names = db.member_names()
    full = (names["first_name"].fillna("") + " " + names["last_name"].fillna("")).str.strip()
    return dict(zip(names["member_id"], full.where(full != "", names["member_id"]) + " (" + names["member_id"] + ")"))


@st.cache_data(show_spinner=False, max_entries=64)
def catalog(
    url: str,
    timezone: str,
    first: date,
    last: date,
    filters: tuple[tuple[str, str], ...],
    time_slot: str | None,
    weekdays: str | None,
    mark: str,
) -> dict:
    """`chatsales kpis --json`'s catalog for the period (without the campaign figures)."""
    period = Periods.range(first, last, timezone, time_slot=time_slot, weekdays=weekdays)
    return query.catalog_of_period(url, period, dict(filters), read_only=True)


@st.cache_data(show_spinner=False, max_entries=64)
def card_values(
    url: str,
    timezone: str,
    first: date,
    last: date,
    filters: tuple[tuple[str, str], ...],
    time_slot: str | None,
    weekdays: str | None,
    mark: str,
) -> dict[str, dict]:
    """Only the cards of a period (what the change against the previous period needs): a third of the
    catalog's work, by the same function."""
    facts = query.stored_facts(url, first, last, read_only=True)
    frame = query.period_kpis(
        url, first, last, timezone, filters=dict(filters), time_slot=time_slot, weekdays=weekdays, facts=facts
    )
    values = frame["value"].astype(object).where(frame["value"].notna(), None)
    return {ref: {"value": v} for ref, v in zip(frame["kpi"], values)}


@st.cache_data(show_spinner=False, max_entries=16)
def campaigns(url: str, first: date, last: date, mark: str) -> dict:
    return query.period_campaigns_and_segments(url, first, last, read_only=True)


@st.cache_data(show_spinner=False, max_entries=64)
def explain(url: str, order_id: str, mark: str) -> explorer.Explanation:
    return explorer.explain_order(url, order_id)


@st.cache_data(show_spinner=False, max_entries=8)
def sample_orders(url: str, mark: str) -> dict[str, str]:
    return explorer.sample_orders(url)
