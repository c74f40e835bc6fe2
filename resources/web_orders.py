"""Web orders: live from the Shopify Admin GraphQL API when SHOPIFY_SHOP is set, else the JSONL folder."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import dagster as dg
import pandas as pd

from chatsales.contract import SourceFrames
from chatsales.sources.orders import normalise_order_records, read_orders_dir


class WebOrdersResource(dg.ConfigurableResource):
    """The orders folder (CHATSALES_ORDERS_DIR) or the Shopify shop (SHOPIFY_SHOP, SHOPIFY_TOKEN)."""

    orders_dir: str
    shopify_shop: str = ""
    shopify_token: str = ""  # set with dg.EnvVar("SHOPIFY_TOKEN"): never printed, never in run config
    shopify_base_url: str = ""  # another endpoint than https://<shop> (a test server)

    @property
    def live(self) -> bool:
        return bool(self.shopify_shop)

    @property
    def location(self) -> str:
        return f"shopify:{self.shopify_shop}" if self.live else str(self.orders_dir)

    def read_files(self, names: set[str], currency: str, max_amount: float) -> SourceFrames:
        return read_orders_dir(Path(self.orders_dir), currency, only=names, max_amount=max_amount)

    def pull(self, since: str | None, currency: str, max_amount: float) -> tuple[SourceFrames, str | None]:
        """Orders updated at or after `since` (an incremental pull), and the newest updated_at seen."""
        from resources.shopify import ShopifyClient

        client = ShopifyClient(self.shopify_shop, self.shopify_token, base_url=self.shopify_base_url or None)
        records, locations = [], []
        after = datetime.fromisoformat(since) if since else None
        for page in client.iter_pages(after):
            records.extend(page.records)
            locations.extend([page.location] * len(page.records))
        read = normalise_order_records(records, locations, currency, source="web_orders", max_amount=max_amount)
        updated = read.frames["orders"]["updated_at"]
        newest = pd.Timestamp(updated.max()).isoformat() if len(updated) else since
        return read, newest
