"""The one Definitions of chatsales: every asset and check, the jobs, the schedule, the sensors and the
resources, built from the settings (pipelines.config)."""

import os
import warnings

import dagster as dg

# The beta parameters our definitions choose on purpose (one run per backfill range, partition mappings that
# reach before the first day) warn once per asset when the code location loads: `dagster dev` printed a
# dozen lines a user can do nothing about. Only these messages are silenced; any other beta or preview
# warning still shows. Before the asset modules are imported: they warn while being defined.
OUR_BETA_PARAMETERS = ("backfill_policy", "allow_nonexistent_upstream_partitions")
for _category in (dg.BetaWarning, dg.PreviewWarning):
    warnings.filterwarnings(
        "ignore", category=_category, message=rf"Parameter `({'|'.join(OUR_BETA_PARAMETERS)})` of .* is currently in"
    )

from assets_defs import activity, attribution, campaigns, facts, identity, kpis, reporting, snapshots, sources, state
from chatsales.settings import Settings
from pipelines.config import SETTINGS
from pipelines.jobs import customer_snapshots, daily_pipeline, extract_sources
from pipelines.reattribution import reattribute
from pipelines.schedules import nightly, snapshots_schedule
from pipelines.sensors import late_data
from resources.chat_platform import ChatPlatformResource
from resources.lake import LakeIOManager, LakeResource
from resources.marketing_touchpoints import MarketingTouchpointsResource
from resources.reporting_db import ReportingDbResource
from resources.settings import SettingsResource
from resources.store_sales import StoreSalesResource
from resources.web_orders import WebOrdersResource

ASSET_MODULES = [sources, state, activity, identity, attribution, facts, kpis, campaigns, reporting, snapshots]


def _from_env(name: str, value: str | None):
    """A secret, or a URL with a password, reaches Dagster as an EnvVar when it comes from the environment:
    a plain value would be stored in the run's snapshot and shown in the UI."""
    return dg.EnvVar(name) if value and os.environ.get(name) == value else (value or "")


def resources_for(settings: Settings) -> dict[str, object]:
    """Every resource of the definitions, from one settings object."""
    from chatsales.settings import variable

    def secret_url(field: str):
        value = getattr(settings, field)
        return _from_env(variable(field), value) if "@" in value or ":" in value.split("//")[-1] else value

    pii_key = settings.pii_key if settings.uses_demo_pii_key else _from_env("CHATSALES_PII_KEY", settings.pii_key)
    return {
        "settings": SettingsResource.from_settings(settings, pii_key),
        "chat_platform": ChatPlatformResource(url=secret_url("chat_db_url")),
        "web_orders": WebOrdersResource(
            orders_dir=str(settings.orders_dir),
            shopify_shop=settings.shopify_shop or "",
            shopify_token=_from_env("SHOPIFY_TOKEN", settings.shopify_token),
        ),
        "store_sales": StoreSalesResource(store_sales_dir=str(settings.store_sales_dir)),
        "marketing_touchpoints": MarketingTouchpointsResource(campaigns_dir=str(settings.campaigns_dir)),
        "reporting_db": ReportingDbResource(url=secret_url("reporting_db_url")),
        "lake": LakeResource(lake_dir=str(settings.lake_dir), timezone=settings.timezone),
        "lake_io_manager": LakeIOManager(lake_dir=str(settings.lake_dir)),
    }


def definitions_for(settings: Settings) -> dg.Definitions:
    """The definitions with the resources of `settings` (the assets, partitions and jobs are the module's)."""
    return dg.Definitions(
        assets=dg.load_assets_from_modules(ASSET_MODULES),
        jobs=[daily_pipeline, extract_sources, customer_snapshots, reattribute],
        schedules=[nightly, snapshots_schedule],
        sensors=[late_data],
        resources=resources_for(settings),
        executor=dg.in_process_executor,
    )


defs = definitions_for(SETTINGS)
