"""The one Definitions of chatsales: assets, checks, resources, jobs and schedules, built from the settings."""
from __future__ import annotations

import os

import dagster as dg
import sqlalchemy as sa

from assets_defs.attribution import attribution_assets
from assets_defs.insights import insights_assets
from assets_defs.kpis import kpi_assets
from assets_defs.reporting import reporting_assets
from assets_defs.sources import source_assets
from chatsales.settings import Settings, load_settings
from pipelines.jobs import daily_pipeline_job
from pipelines.partitions import daily_partitions
from pipelines.reattribution import reattribution_job
from pipelines.schedules import nightly_schedule
from pipelines.sensors import late_data_sensor
from resources.insight_settings import InsightSettings
from resources.lake import LakeIOManager
from resources.pipeline_settings import PipelineSettings
from resources.reporting_resource import ReportingDatabase
from resources.sources import ChatDatabase, MarketingTouchpoints, StoreSales, WebOrders


def _secret(name: str, value: str | None):
    """Secrets come from the environment through EnvVar, so Dagster never shows or stores them."""
    return dg.EnvVar(name) if value else ""


def _db_url(name: str, value: str):
    """A database URL with a password goes through EnvVar too (when it comes from the environment): a plain
    value would be stored in the run's job snapshot and shown in the UI's resource config."""
    if sa.engine.make_url(value).password is not None and os.environ.get(name) == value:
        return dg.EnvVar(name)
    return value


def build_resources(settings: Settings) -> dict[str, object]:
    pii_key = dg.EnvVar("CHATSALES_PII_KEY") if not settings.uses_demo_pii_key else settings.pii_key
    return {
        "settings": PipelineSettings(timezone=settings.timezone, currency=settings.currency,
                                     window_days=settings.window_days,
                                     reject_threshold=settings.reject_threshold, pii_key=pii_key),
        "chat_db": ChatDatabase(url=_db_url("CHATSALES_CHAT_DB_URL", settings.chat_db_url)),
        "orders": WebOrders(orders_dir=str(settings.orders_dir), shopify_shop=settings.shopify_shop or "",
                            shopify_token=_secret("SHOPIFY_TOKEN", settings.shopify_token)),
        "pos": StoreSales(store_sales_dir=str(settings.store_sales_dir)),
        "campaigns": MarketingTouchpoints(campaigns_dir=str(settings.campaigns_dir)),
        "reporting": ReportingDatabase(url=_db_url("CHATSALES_REPORTING_DB_URL", settings.reporting_db_url)),
        "lake": LakeIOManager(base_dir=str(settings.home / "lake")),
        "insights": InsightSettings.from_settings(settings),
    }


def build_definitions(settings: Settings) -> dg.Definitions:
    partitions = daily_partitions(settings)
    job = daily_pipeline_job(partitions)
    assets = [*source_assets(partitions), *attribution_assets(partitions), *kpi_assets(partitions),
              *reporting_assets(partitions), *insights_assets(partitions)]
    return dg.Definitions(assets=assets, jobs=[job, reattribution_job(settings)], schedules=[nightly_schedule(job)],
                          sensors=[late_data_sensor(job, settings)],
                          resources=build_resources(settings), executor=dg.in_process_executor)


defs = build_definitions(load_settings())
