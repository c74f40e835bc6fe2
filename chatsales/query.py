"""The questions people ask the reporting database, answered from what the days published: the KPI catalog
of any period and filters, its chart buckets, and the campaign and segment figures. The CLI and the dashboard
both call these, so they cannot disagree. No Dagster here."""

from __future__ import annotations

from datetime import date, timedelta

from chatsales.reporting.store import ReportingDb


class NothingPublished(LookupError):
    """The reporting database holds no published facts yet (the pipeline has not run)."""


def stored_facts(reporting_url: str, first: date | None = None, last: date | None = None, *, read_only: bool = False):
    """The fact tables of the reporting database (order_lines may be missing in a database published before
    it existed: then no line facts). With first..last, only what a period inside it needs: the history of
    requests and chatrooms, the days around the period of the others (facts.PERIOD_BOUND)."""
    from chatsales.facts import ORDER, PERIOD_BOUND, QUERY_SKIPS, days_to_read, facts_from_stored

    with ReportingDb(reporting_url, read_only=read_only) as db:
        tables = (
            db.read_facts(skip=QUERY_SKIPS)
            if first is None
            else db.read_facts(*days_to_read(first, last), bounded=PERIOD_BOUND, skip=QUERY_SKIPS)
        )
    missing = [n for n in ORDER if n not in tables and n != "order_lines"]
    if missing:
        raise NothingPublished(f"the reporting database has no {missing}: run the pipeline first")
    return facts_from_stored(tables, in_order=True)


def period_kpis(
    reporting_url: str,
    first: date,
    last: date,
    timezone: str,
    *,
    filters: dict | None = None,
    time_slot: str | None = None,
    weekdays: str | None = None,
    facts=None,
    memo: dict | None = None,
):
    """The KPI catalog for any period and filters, from the facts in the reporting database (not by
    adding up days: medians, distinct counts and 'within the period' conditions do not add up)."""
    from chatsales.kpis import compute_kpis
    from chatsales.period import Periods

    facts = stored_facts(reporting_url, first, last) if facts is None else facts
    periods = Periods.range(first, last, timezone, time_slot=time_slot, weekdays=weekdays)
    return compute_kpis(facts, periods, dimensions=("all",), filters=filters or {}, memo=memo)


def period_charts(
    reporting_url: str,
    first: date,
    last: date,
    timezone: str,
    *,
    filters: dict | None = None,
    time_slot: str | None = None,
    weekdays: str | None = None,
    facts=None,
    memo: dict | None = None,
):
    """The chart buckets (Chat-Donut-*, Chat-Bar-*) for any period and filters, from the same facts."""
    from chatsales.kpis.charts import compute_charts
    from chatsales.period import Periods

    facts = stored_facts(reporting_url, first, last) if facts is None else facts
    periods = Periods.range(first, last, timezone, time_slot=time_slot, weekdays=weekdays)
    return compute_charts(facts, periods, dimensions=("all",), filters=filters or {}, memo=memo)


def period_campaigns_and_segments(
    reporting_url: str, first: date, last: date, *, read_only: bool = False
) -> dict[str, object]:
    """Smgo-1..5 for `chatsales kpis`: campaign sales placed in the period (per campaign and per kind),
    and, as of the last nightly run, clicker conversion, segments, revenue trends and the product mix."""
    from chatsales.campaigns import period_campaign_stats
    from chatsales.kpis.catalog import json_records
    from chatsales.segments import segment_counts

    with ReportingDb(reporting_url, read_only=read_only) as db:
        credited = db.read_table("campaign_orders", first_day=first, last_day=last)
        stats = db.read_table("campaign_stats")
        counts = segment_counts(*db.customer_counts())
        mix = db.read_table("product_mix")
    conversion = stats[["level", "campaign_id", "kind", "clickers", "buyers", "conversion"]]
    return {
        "Smgo-1": period_campaign_stats(credited),
        "Smgo-2": json_records(conversion),
        "Smgo-3": {"as_of": counts["as_of"], "customers": counts["segments"]},
        "Smgo-4": {"as_of": counts["as_of"], "customers": counts["trends"]},
        "Smgo-5": json_records(mix.drop(columns=[c for c in ("run_id", "computed_at") if c in mix]).head(50)),
    }


def catalog_of_period(reporting_url: str, period, filters: dict, *, read_only: bool = False) -> dict[str, object]:
    """Every ref for one period (chatsales.kpis.catalog), from the reporting database: the facts of the
    period, the members' names, and, for a period without filters, time slot or weekdays whose days are all
    published, the line charts' points as kpi_daily holds them."""
    from chatsales.kpis.catalog import LINE_REFS, each_day, period_catalog

    first, last = period.first_days[0], period.last_days[0]
    facts = stored_facts(reporting_url, first, last, read_only=read_only)
    with ReportingDb(reporting_url, read_only=read_only) as db:
        members, lines = db.member_names(), None
        if not filters and not period.filtered:
            lines = db.kpi_series(LINE_REFS, ("all", "source"), first, last)
            if set(lines["day"]) != set(each_day(period).first_days):
                lines = None
    return period_catalog(facts, period, filters, members, published_lines=lines)


FILTERS = ("source", "channel", "member", "role")


def _has_reporting_tables(db: ReportingDb) -> bool:
    """Whether the database was ever set up (a URL to a new, empty database answers nothing, and a read must
    not create the schema there)."""
    import sqlalchemy as sa

    return "kpi_daily" in sa.inspect(db.engine).get_table_names()


def _reader(reporting_url: str) -> ReportingDb | None:
    """A read-only connection to an existing reporting database, or None when there is none (a SQLite file
    that does not exist is not created by asking it a question)."""
    import sqlalchemy as sa

    parsed = sa.engine.make_url(reporting_url)
    if parsed.get_backend_name() == "sqlite":
        from pathlib import Path

        if not parsed.database or parsed.database == ":memory:" or not Path(parsed.database).exists():
            return None
    db = ReportingDb(reporting_url, read_only=True)
    if not _has_reporting_tables(db):
        db.dispose()
        return None
    return db


def published_range(reporting_url: str) -> tuple[date, date] | None:
    """The first and last day the reporting database holds KPIs for; None when it holds none (or does not
    exist). Days in between may still be missing: see `unpublished_days`."""
    import sqlalchemy as sa

    from chatsales.reporting import tables as t
    from chatsales.reporting.engine import as_days

    db = _reader(reporting_url)
    if db is None:
        return None
    with db, db.engine.connect() as conn:
        low, high = conn.execute(sa.select(sa.func.min(t.kpi_daily.c.day), sa.func.max(t.kpi_daily.c.day))).one()
    return None if low is None else (as_days([low])[0], as_days([high])[0])


def unpublished_days(reporting_url: str, first: date, last: date) -> list[date]:
    """The days of first..last the reporting database holds no KPIs for."""
    import sqlalchemy as sa

    from chatsales.reporting import tables as t
    from chatsales.reporting.engine import as_days

    wanted = {first + timedelta(days=n) for n in range((last - first).days + 1)}
    db = _reader(reporting_url)
    if db is None:
        return sorted(wanted)
    k = t.kpi_daily.c
    with db, db.engine.connect() as conn:
        found = conn.execute(sa.select(k.day).where(k.day.between(first, last)).distinct()).scalars().all()
    return sorted(wanted - set(as_days(found)))


def filter_values(reporting_url: str) -> dict[str, list[str]]:
    """The values each filter (source, channel, member, role) can take: the breakdown values the published
    days hold in kpi_daily (sorted; empty lists when nothing is published). The CLI refuses any other value,
    and the dashboard offers these."""
    import sqlalchemy as sa

    from chatsales.kpis.presentation import natural_key
    from chatsales.reporting import tables as t

    out: dict[str, list[str]] = {name: [] for name in FILTERS}
    db = _reader(reporting_url)
    if db is None:
        return out
    k = t.kpi_daily.c
    query = sa.select(k.dimension, k.dimension_value).where(k.dimension.in_(FILTERS)).distinct()
    with db, db.engine.connect() as conn:
        for dimension, value in conn.execute(query).all():
            out[dimension].append(str(value))
    return {name: sorted(values, key=natural_key) for name, values in out.items()}
