"""Identity and attribution assets: who each order's customer is, and which chatroom (if any) gets the credit."""

import dagster as dg

from assets_defs.common import days_label, partitioned, run_days
from chatsales.attribution import attribute
from chatsales.customer_keys import all_orders, order_identities
from chatsales.identity import order_candidates
from chatsales.publication import attributed_order_rows, attribution_summary, rows_of_days
from resources.pipeline_settings import PipelineSettings

ONE_ROW_CHECK = "one_attribution_row_per_order"
SALES_CHECK = "attributed_sales_within_total"


def attribution_assets(partitions: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:

    @dg.asset(**partitioned(partitions, "identity"), kinds={"pandas"},
              description="Each order's identity keys (visitor id, linked visitor, customer id, email hash) and "
                          "the chatrooms they reach. Emails are only kept as keyed hashes.")
    def customer_identities(context: dg.AssetExecutionContext, chat_platform: dict, web_orders: dict,
                            store_sales: dict, settings: PipelineSettings) -> dg.Output:
        orders = all_orders(web_orders["orders"], store_sales["orders"])
        candidates = order_candidates(orders, chat_platform["visitors"], chat_platform["chatrooms"],
                                      chat_platform["identity_links"])
        identities = order_identities(orders, candidates, settings.pii_key)
        return dg.Output(identities, metadata={
            "orders": len(identities),
            "orders_without_identity": int((~identities[["has_visitor_id", "has_customer_id", "has_email"]]
                                            .any(axis=1)).sum()),
            "orders_with_candidates": int((identities["candidate_chatrooms"] > 0).sum()),
        })

    @dg.asset(**partitioned(partitions, "attribution"), kinds={"duckdb"},
              deps=[customer_identities],
              check_specs=[
                  dg.AssetCheckSpec(ONE_ROW_CHECK, asset="order_attribution",
                                    description="Every order and receipt has exactly one attribution row."),
                  dg.AssetCheckSpec(SALES_CHECK, asset="order_attribution",
                                    description="Attributed sales never exceed total sales, per day.")],
              description="One row per order and receipt: the winning chatroom (member, source, touchpoint, "
                          "match key, last message) or the reason it is not attributed, by the rule of "
                          "attribution.md. Recomputed for every order each night: late chat data counts.")
    def order_attribution(context: dg.AssetExecutionContext, chat_platform: dict, web_orders: dict,
                          store_sales: dict, settings: PipelineSettings):
        orders = all_orders(web_orders["orders"], store_sales["orders"])
        attribution = attribute(orders, chat_platform, settings.window_days)
        rows = attributed_order_rows(orders, attribution, timezone=settings.timezone,
                                     pii_key=settings.pii_key)
        days = run_days(context)
        summary = attribution_summary(rows_of_days(rows, days))
        context.log.info(f"attribution {days_label(days)}: {summary}")
        yield dg.Output(rows, metadata={**{k: dg.MetadataValue.float(float(v)) if isinstance(v, float)
                                           else dg.MetadataValue.int(int(v)) for k, v in summary.items()},
                                        "days": days_label(days)})
        duplicated = int(rows.duplicated(["sales_channel", "order_id"]).sum())
        yield dg.AssetCheckResult(check_name=ONE_ROW_CHECK,
                                  passed=duplicated == 0 and len(rows) == len(orders),
                                  metadata={"orders": len(orders), "rows": len(rows), "duplicated": duplicated})
        sales = rows[rows["is_sale"]]
        per_day = (sales.assign(attributed_total=sales["total"].where(sales["attributed"], 0.0))
                   .groupby("day")[["total", "attributed_total"]].sum())
        bad_days = per_day[per_day["attributed_total"] > per_day["total"] + 1e-6]
        yield dg.AssetCheckResult(check_name=SALES_CHECK, passed=bad_days.empty,
                                  metadata={"days_checked": len(per_day), "days_failing": len(bad_days)})

    return [customer_identities, order_attribution]
