"""The conversation hook (kpis.md): triggered by members, displayed to visitors, clicked. The source filter
does not apply; member and role do (the member who triggered it)."""

from __future__ import annotations

from chatsales.kpis.registry import MEMBER_DIMS, Ctx, count, kpi, ratio, shared, value_only


@shared
def _events(ctx: Ctx, event: str):
    hooks = ctx.facts.hook_events
    return ctx.keyed(hooks[hooks["event"].eq(event)], "at", MEMBER_DIMS)


@kpi(
    "Hook-Card-2",
    "Members using the hook",
    definition="distinct members with a triggered event",
    date_basis="at",
    kind="count",
    dims=MEMBER_DIMS,
)
def members_using(ctx: Ctx):
    return value_only(count(_events(ctx, "triggered"), distinct="member_id"))


@kpi("Hook-Card-3", "Hook triggers", definition="triggered events", date_basis="at", kind="count", dims=MEMBER_DIMS)
def triggers(ctx: Ctx):
    return value_only(count(_events(ctx, "triggered")))


@shared
def _displayed(ctx: Ctx):
    shown = _events(ctx, "displayed")
    return count(shown[shown["visitor_id"].notna()], distinct="visitor_id")


@kpi(
    "Hook-Card-4",
    "Hooks displayed",
    definition="distinct visitors shown the bubble (displayed events with a visitor)",
    date_basis="at",
    kind="count",
    dims=MEMBER_DIMS,
)
def displayed(ctx: Ctx):
    return value_only(_displayed(ctx))


@kpi("Hook-Card-5", "Clicks on the hook", definition="clicked events", date_basis="at", kind="count", dims=MEMBER_DIMS)
def clicks(ctx: Ctx):
    return value_only(count(_events(ctx, "clicked")))


@kpi(
    "Hook-Card-10",
    "Hook conversation rate",
    definition="Hook-Card-5 / Hook-Card-4",
    date_basis="at",
    kind="rate",
    dims=MEMBER_DIMS,
)
def conversion(ctx: Ctx):
    return ratio(count(_events(ctx, "clicked")), _displayed(ctx))
