"""Waiting list (kpis.md): requests of source waiting_list only; the source filter does not apply, member
and role only where noted (Wlst-Card-10, by the member who handled the request)."""

from __future__ import annotations

from chatsales.kpis.registry import Ctx, count, elapsed_us, kpi, mean_seconds, median_seconds, ratio, shared, value_only

NO_BREAKDOWN: dict[str, str] = {}
HANDLER = {"member": "handled_by", "role": "role"}


@shared
def _waiting(ctx: Ctx):
    """The waiting list's requests (one frame per call, so Ctx.keyed keys them once per date)."""
    requests = ctx.facts.requests
    return requests[requests["source"].eq("waiting_list")]


def _created(ctx: Ctx):
    return ctx.keyed(_waiting(ctx), "created_at", NO_BREAKDOWN)


@kpi(
    "Wlst-Card-1",
    "New requests",
    definition="waiting-list requests created",
    date_basis="created_at",
    kind="count",
    dims=NO_BREAKDOWN,
)
def new_requests(ctx: Ctx):
    return value_only(count(_created(ctx)))


@kpi(
    "Wlst-Card-2",
    "Requests with a question",
    definition="…of those, question_at is set (it may be set later)",
    date_basis="created_at",
    kind="count",
    dims=NO_BREAKDOWN,
    fluctuating=True,
)
def with_question(ctx: Ctx):
    created = _created(ctx)
    return value_only(count(created[created["question_at"].notna()]))


@kpi(
    "Wlst-Card-3",
    "Requests canceled",
    definition="requests canceled",
    date_basis="canceled_at",
    kind="count",
    dims=NO_BREAKDOWN,
)
def canceled(ctx: Ctx):
    return value_only(count(ctx.keyed(_waiting(ctx), "canceled_at", NO_BREAKDOWN)))


def _handled(ctx: Ctx):
    """Requests handled, under the filters of the calling KPI's own dims: Wlst-Card-10's member and role filters
    apply to its total as to its breakdowns; Wlst-Card-12 (no member, role) keeps the unfiltered count."""
    return count(ctx.keyed(_waiting(ctx), "handled_at", ctx.dims))


@kpi(
    "Wlst-Card-10",
    "Requests handled",
    definition="requests handled; member and role filters apply (handled_by)",
    date_basis="handled_at",
    kind="count",
    dims=HANDLER,
)
def handled(ctx: Ctx):
    return value_only(_handled(ctx))


@kpi(
    "Wlst-Card-11",
    "New requests not handled",
    definition="created in the period and not handled within the period (canceled and never-handled requests included)",
    date_basis="created_at",
    kind="count",
    dims=NO_BREAKDOWN,
)
def not_handled(ctx: Ctx):
    """Handled within = handled_at in the created_at's window, slot and weekdays included, as Wlst-Card-10 and 13
    see it. A handled_at before created_at (unchecked by the contract) counts as at creation, so without slot
    or weekdays this stays 'handled before the period's end'."""
    created = _created(ctx)
    handled = created["handled_at"].where(~(created["handled_at"] < created["created_at"]), created["created_at"])
    return value_only(count(created[ctx.periods.label(handled) != created["period"].to_numpy()]))


@kpi(
    "Wlst-Card-12",
    "Handling rate",
    definition="Wlst-Card-10 / Wlst-Card-1 (may exceed 100%)",
    date_basis="handled_at / created_at",
    kind="rate",
    dims=NO_BREAKDOWN,
)
def handling_rate(ctx: Ctx):
    return ratio(_handled(ctx), count(_created(ctx)))


def _handling_times(ctx: Ctx):
    """Requests whose created_at and handled_at both fall in the same window, with the wait in seconds."""
    created = _created(ctx)
    handled_in = ctx.periods.label(created["handled_at"])
    both = created[handled_in == created["period"].to_numpy()]
    return both.assign(wait=elapsed_us(both, "created_at", "handled_at"))


@kpi(
    "Wlst-Card-13",
    "Average handling time",
    definition="mean(handled_at − created_at), both in the period",
    date_basis="created_at and handled_at",
    kind="mean",
    dims=NO_BREAKDOWN,
)
def average_handling(ctx: Ctx):
    return mean_seconds(_handling_times(ctx), "wait")


@kpi(
    "Wlst-Card-14",
    "Median handling time",
    definition="median of the same",
    date_basis="created_at and handled_at",
    kind="median",
    dims=NO_BREAKDOWN,
)
def median_handling(ctx: Ctx):
    return median_seconds(_handling_times(ctx), "wait")
