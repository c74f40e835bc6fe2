"""The Dagster definitions as a person meets them in the UI: one graph, described, grouped, checked."""
from __future__ import annotations

import dagster as dg

from chatsales.settings import load_settings
from pipelines.definitions import build_definitions

EXPECTED_GROUPS = {
    "chat_platform": "sources", "web_orders": "sources", "store_sales": "sources",
    "marketing_touchpoints": "sources", "customer_identities": "identity", "order_attribution": "attribution",
    "conversation_facts": "facts", "kpi_daily": "kpis", "reporting_db": "reporting",
    "product_sales": "insights", "campaign_attribution": "insights", "customer_segments": "insights",
}


def _defs(tmp_path, **env):
    return build_definitions(load_settings({"CHATSALES_HOME": str(tmp_path), "CHATSALES_START_DATE": "2026-03-01",
                                            "CHATSALES_TIMEZONE": "Europe/Paris", **env}))


def test_assets_are_one_described_grouped_graph(tmp_path):
    defs = _defs(tmp_path)
    graph = defs.resolve_asset_graph()
    specs = {key.to_user_string(): spec for key, spec in ((s.key, s) for s in defs.resolve_all_asset_specs())}
    assert {k: s.group_name for k, s in specs.items()} == EXPECTED_GROUPS
    assert all(len(s.description or "") > 60 for s in specs.values())
    assert all(s.owners == ["team:data"] for s in specs.values())
    # one graph: every asset but the sources has an upstream, the publication has all of them upstream
    upstream = graph.get(dg.AssetKey("reporting_db")).parent_keys
    assert {k.to_user_string() for k in upstream} == {"order_attribution", "conversation_facts", "kpi_daily"}
    checks = {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys}
    assert checks == {("chat_platform", "rejects_under_threshold"), ("web_orders", "rejects_under_threshold"),
                      ("store_sales", "rejects_under_threshold"), ("marketing_touchpoints", "rejects_under_threshold"),
                      ("order_attribution", "one_attribution_row_per_order"),
                      ("order_attribution", "attributed_sales_within_total"), ("reporting_db", "every_day_published")}


def test_daily_partitions_single_run_backfills_job_and_nightly_schedule(tmp_path):
    defs = _defs(tmp_path)
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.partitions_def.timezone == "Europe/Paris"
        assert node.partitions_def.start.date().isoformat() == "2026-03-01"
        assert node.backfill_policy == dg.BackfillPolicy.single_run()
    job = defs.resolve_job_def("daily_pipeline")
    assert job.executor_def.name == "in_process"
    schedule = defs.resolve_schedule_def("nightly")
    assert schedule.job_name == "daily_pipeline"
    assert schedule.cron_schedule == "0 3 * * *" and schedule.execution_timezone == "Europe/Paris"


def test_secrets_reach_dagster_as_env_vars_not_values(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOPIFY_TOKEN", "shpat_secret_value")
    monkeypatch.setenv("CHATSALES_PII_KEY", "a-real-secret-key")
    defs = _defs(tmp_path, SHOPIFY_SHOP="demo.myshopify.com", SHOPIFY_TOKEN="shpat_secret_value",
                 CHATSALES_PII_KEY="a-real-secret-key")
    resources = defs.resources
    assert isinstance(resources["orders"].shopify_token, dg.EnvVar)
    assert isinstance(resources["settings"].pii_key, dg.EnvVar)
    assert "shpat_secret_value" not in repr(resources["orders"])


def test_definitions_load_as_the_webserver_loads_them():
    """The webserver validates the whole repository (unique op/graph names...), not only what a test runs."""
    import dagster as dg

    from pipelines.definitions import defs
    dg.Definitions.validate_loadable(defs)
    repository = defs.get_repository_def()
    assert {"daily_pipeline", "reattribute"} <= {job.name for job in repository.get_all_jobs()}
    assert repository.get_sensor_def("late_data").default_status == dg.DefaultSensorStatus.RUNNING
