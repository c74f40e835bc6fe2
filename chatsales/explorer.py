"""The attribution explorer's questions: why an order is (not) credited to a chat, and how that changed.

Answers "why doesn't my number match?" without SQL: an order's row of `attributed_orders` (its reason code,
chatroom, member, match key, last message and window) and its `attribution_ledger` history. The order id a
person types is only ever a bound parameter, never SQL text. No Streamlit here (the dashboard shows it).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from chatsales.reporting import tables as t
from chatsales.reporting.engine import read_rows
from chatsales.reporting.store import ReportingDb

# attribution.md's reason codes, with what each one means for the person asking
REASONS = {
    None: "attributed: a dialogue with a counted message before the order, inside the window",
    "no_identity": "the order has no visitor id, no customer id and no email: it can never be attributed",
    "no_conversation": "no chatroom is reached by its keys: the customer never chatted, or the keys do not match",
    "conversation_after_order": "chatrooms reach it, but none has a counted message before the order",
    "no_dialogue": "counted messages before the order, but in no chatroom did both parties write",
    "outside_window": "the winning dialogue's last counted message is older than the attribution window",
}
ORDER_COLUMNS = (
    "order_id",
    "sales_channel",
    "placed_at",
    "day",
    "total",
    "net_total",
    "currency",
    "is_cancelled",
    "is_first_order",
    "attributed",
    "reason",
    "chatroom_id",
    "member_id",
    "source",
    "touchpoint",
    "match_key",
    "last_message_at",
    "window_days",
    "store_id",
    "run_id",
    "computed_at",
)
LEDGER_COLUMNS = (
    "change",
    "changed_at",
    "old_chatroom_id",
    "new_chatroom_id",
    "old_member_id",
    "new_member_id",
    "old_reason",
    "new_reason",
    "window_days",
    "sales_channel",
    "day",
    "run_id",
)
MAX_ORDER_ID = 200


@dataclass(frozen=True)
class Explanation:
    """One order id's published rows (a web order and a store receipt may share an id: one row each) and
    its ledger history, oldest change first."""

    order_id: str
    orders: pd.DataFrame
    history: pd.DataFrame
    reattributions: pd.DataFrame

    @property
    def found(self) -> bool:
        return len(self.orders) > 0


def why(reason: str | None) -> str:
    """The sentence behind a reason code (null: attributed)."""
    return REASONS.get(reason, f"reason {reason!r}")


def explain_order(reporting_url: str, order_id: str) -> Explanation:
    """What the reporting database says about `order_id`, read through a read-only connection."""
    order_id = order_id.strip()
    if not order_id or len(order_id) > MAX_ORDER_ID:
        raise ValueError(f"order id: give 1 to {MAX_ORDER_ID} characters")
    o, ledger = t.attributed_orders, t.attribution_ledger
    with ReportingDb(reporting_url, read_only=True) as db, db.engine.connect() as conn:
        orders = read_rows(
            conn,
            o,
            sa.select(*(o.c[c] for c in ORDER_COLUMNS))
            .where(o.c.order_id == sa.bindparam("order_id", order_id))
            .order_by(o.c.sales_channel),
        )
        history = read_rows(
            conn,
            ledger,
            sa.select(*(ledger.c[c] for c in LEDGER_COLUMNS))
            .where(ledger.c.order_id == sa.bindparam("order_id", order_id))
            .order_by(ledger.c.changed_at, ledger.c.sales_channel),
        )
        re = t.reattribution_changes
        if sa.inspect(conn).has_table(re.name):
            reattributions = read_rows(
                conn,
                re,
                sa.select(re).where(re.c.order_id == sa.bindparam("order_id", order_id)).order_by(re.c.computed_at),
            )
        else:
            reattributions = pd.DataFrame(columns=[c.name for c in re.columns])
    return Explanation(order_id, orders, history, reattributions)


def order_ids_like(reporting_url: str, prefix: str, limit: int = 20) -> list[str]:
    """A few order ids that start with `prefix` (the prefix is a bound parameter; LIKE wildcards in it are
    escaped, so '%' finds a literal percent sign)."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    o = t.attributed_orders.c
    query = (
        sa.select(o.order_id)
        .where(o.order_id.like(sa.bindparam("prefix", escaped + "%"), escape="\\"))
        .distinct()
        .order_by(o.order_id)
        .limit(limit)
    )
    with ReportingDb(reporting_url, read_only=True) as db, db.engine.connect() as conn:
        return [str(v) for v in conn.execute(query).scalars()]


def sample_orders(reporting_url: str) -> dict[str, str]:
    """One recent order id per outcome (attributed, or each reason code found): examples to start from."""
    o = t.attributed_orders.c
    outcome = sa.func.coalesce(o.reason, "attributed")
    latest = (
        sa.select(outcome.label("outcome"), sa.func.max(o.order_id).label("order_id"))
        .group_by(outcome)
        .order_by(outcome)
    )
    with ReportingDb(reporting_url, read_only=True) as db, db.engine.connect() as conn:
        return {str(k): str(v) for k, v in conn.execute(latest).all()}
