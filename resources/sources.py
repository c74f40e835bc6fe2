"""The outside systems the pipeline reads, as Dagster resources.

Each resource only knows where its source is; reading and validating against the data contract is done
by `chatsales.sources`, so the same code serves the CLI, the tests and any other orchestrator.
"""
from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd

from chatsales.contract import SourceFrames
from chatsales.sources.campaigns import read_campaigns_dir
from chatsales.sources.chat_db import read_chat_db
from chatsales.sources.orders import normalise_order_records, read_orders_dir
from chatsales.sources.store_sales import read_store_sales_dir


class ChatDatabase(dg.ConfigurableResource):
    """The chat platform's database (CHATSALES_CHAT_DB_URL), any SQLAlchemy URL."""

    url: str

    def read(self) -> SourceFrames:
        return read_chat_db(self.url)


class WebOrders(dg.ConfigurableResource):
    """Web orders: live from Shopify when SHOPIFY_SHOP is set, else the JSONL folder (CHATSALES_ORDERS_DIR)."""

    orders_dir: str
    shopify_shop: str = ""
    shopify_token: str = ""     # set with dg.EnvVar("SHOPIFY_TOKEN"): never printed, never in run config

    @property
    def location(self) -> str:
        return f"shopify:{self.shopify_shop}" if self.shopify_shop else str(self.orders_dir)

    def read(self, currency: str, only: set[str] | None = None) -> SourceFrames:
        """Every order (latest version); `only` limits the file form to those files."""
        if not self.shopify_shop:
            return read_orders_dir(Path(self.orders_dir), currency, only=only)
        return self._pull(currency, None)

    def read_updated_since(self, currency: str, updated_since: str | None) -> pd.DataFrame:
        """Live form: the orders updated at or after `updated_since` (an incremental pull)."""
        since = pd.Timestamp(updated_since).to_pydatetime() if updated_since else None
        return self._pull(currency, since).frames["orders"]

    def _pull(self, currency: str, updated_since) -> SourceFrames:
        from resources.shopify import ShopifyClient

        client = ShopifyClient(self.shopify_shop, self.shopify_token)
        records, locations = [], []
        for page in client.iter_pages(updated_since):
            records.extend(page.records)
            locations.extend([page.location] * len(page.records))
        return normalise_order_records(records, locations, currency, source="shopify")


class StoreSales(dg.ConfigurableResource):
    """In-store receipts: the POS CSV folder (CHATSALES_STORE_SALES_DIR)."""

    store_sales_dir: str

    def read(self, timezone: str, currency: str, only: set[str] | None = None) -> SourceFrames:
        return read_store_sales_dir(Path(self.store_sales_dir), timezone, currency, only=only)


class MarketingTouchpoints(dg.ConfigurableResource):
    """Optional campaigns and clicks (CHATSALES_CAMPAIGNS_DIR); a missing folder means no campaigns."""

    campaigns_dir: str

    def read(self) -> SourceFrames:
        return read_campaigns_dir(Path(self.campaigns_dir))
