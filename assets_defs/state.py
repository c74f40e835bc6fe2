"""The conversation state: chatroom milestones, requests, room days and products shown, brought up to date
with what the chat extractions changed (or rebuilt from the whole lake, from the Launchpad)."""

import dagster as dg
from pydantic import Field

from assets_defs.common import OWNERS
from assets_defs.sources import LAKE_POOL, _changes_table, chat_platform
from chatsales.extract.run import refresh_state, regroup_state
from chatsales.settings import today_in
from resources.lake import LakeResource
from resources.settings import SettingsResource


class StateConfig(dg.Config):
    rebuild: bool = Field(
        default=False,
        description="Derive the whole state again from every message of the "
        "lake, instead of tonight's changes (after a rule change).",
    )


@dg.asset(
    group_name="state",
    kinds={"parquet"},
    owners=OWNERS,
    pool=LAKE_POOL,
    deps=[chat_platform],
    description="One row per chatroom (its attributes and dialogue milestones as of now: first visitor "
    "and member message, establishment, last message, answered within 24 h) and per request, "
    "the days each chatroom was active and when each product was first shown in it. Updated "
    "from the chat rows each extraction changed; what changed becomes day spans for the "
    "late-data sensor.",
)
def conversation_state(
    context: dg.AssetExecutionContext, config: StateConfig, lake: LakeResource, settings: SettingsResource
) -> dg.MaterializeResult:
    regrouped = regroup_state(lake.lake, lake.catalog)
    if regrouped:
        context.log.warning(regrouped)
    update = refresh_state(
        lake.lake,
        lake.catalog,
        today=today_in(settings.timezone),
        window_days=settings.window_days,
        rebuild=config.rebuild,
        run_id=context.run.run_id,
    )
    context.log.info(f"conversation state {'rebuilt' if config.rebuild else 'updated'}: {update.changed}")
    return dg.MaterializeResult(
        metadata={
            **{f"changed_{k}": v for k, v in update.changed.items()},
            "rebuilt": config.rebuild,
            "kinds_of_change": dg.MetadataValue.md(_changes_table(update.changes)),
        }
    )
