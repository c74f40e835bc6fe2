"""In-store receipts: the POS CSV folder (CHATSALES_STORE_SALES_DIR)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from chatsales.contract import SourceFrames
from chatsales.sources.store_sales import read_store_sales_dir


class StoreSalesResource(dg.ConfigurableResource):
    """Where the POS exports land."""

    store_sales_dir: str

    def read_files(self, names: set[str], timezone: str, currency: str, max_amount: float) -> SourceFrames:
        return read_store_sales_dir(Path(self.store_sales_dir), timezone, currency, only=names, max_amount=max_amount)
