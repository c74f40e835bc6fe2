"""Order-line facts for the sales insights (kpis.md, Insi-7): what was sold in attributed sales, and whether
the product had been shown in the credited chatroom before the order (recommendation conversion)."""

from __future__ import annotations

import pandas as pd

from chatsales import schema

KEY = ["sales_channel", "order_id"]
LINE_FACT_COLUMNS: dict[str, str] = {
    "sales_channel": "str",
    "order_id": "str",
    "line_no": "int64",
    "product_id": "str",
    "category": "str",
    "quantity": "float64",
    "line_amount": "float64",
    "placed_at": schema.TS,
    "day": "object",
    "chatroom_id": "str",
    "source": "str",
    "touchpoint": "str",
    "member_id": "str",
    "role": "Int64",
    "first_shown_at": schema.TS,
    "shown_before": "bool",
}


def first_shown(messages: pd.DataFrame) -> pd.DataFrame:
    """Per chatroom and product: the first counted `product` message that shared it."""
    shown = messages.loc[
        messages["kind"].eq("product") & messages["product_id"].notna(), ["chatroom_id", "product_id", "sent_at"]
    ]
    return (
        shown.groupby(["chatroom_id", "product_id"], sort=False)["sent_at"].min().rename("first_shown_at").reset_index()
    )


def order_line_facts(
    orders: pd.DataFrame,
    order_lines: pd.DataFrame,
    messages: pd.DataFrame | None = None,
    shown: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per line of an attributed sale, with the order's day, placed_at and breakdown columns.

    `orders` is the orders fact (attributed_orders rows with `role`); the first shares come from `shown`
    (chatroom_id, product_id, first_shown_at) or, for the whole history in memory, from the counted `messages`.
    `shown_before`: the line's product was shared by a counted `product` message in the credited chatroom
    strictly before the order was placed (any time before: the attribution window limits the chatroom's
    last message, not when the product was shown).
    """
    sales = orders.loc[
        orders["attributed"].astype(bool) & orders["is_sale"].astype(bool),
        [*KEY, "placed_at", "day", "chatroom_id", "source", "touchpoint", "member_id", "role"],
    ]
    lines = order_lines[[*KEY, "line_no", "product_id", "category", "quantity", "line_amount"]]
    out = lines.merge(sales, on=KEY, how="inner", validate="many_to_one")
    shown = first_shown(messages) if shown is None else shown  # the state's room_products, day-local
    out = out.merge(shown, on=["chatroom_id", "product_id"], how="left", validate="many_to_one")
    out["first_shown_at"] = out["first_shown_at"].astype(schema.TS)
    out["shown_before"] = (out["first_shown_at"] < out["placed_at"]).fillna(False).astype(bool)
    out = out[list(LINE_FACT_COLUMNS)].astype({c: t for c, t in LINE_FACT_COLUMNS.items() if c != "day"})
    return out.sort_values([*KEY, "line_no"], kind="stable").reset_index(drop=True)
