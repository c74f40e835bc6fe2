"""Runs left behind by a dead process: found and closed, so that no later run waits forever for the pool slot
a killed run still holds.

The daemon's run monitoring does this for the runs it launched (`run_monitoring` in dagster.yaml). A run
started by `chatsales` in its own process carries its host and pid (tags chatsales/host, chatsales/pid): when
that process is gone, the run is marked failed and its pool slots freed before the next command starts. A
run still alive, or from another host, is left alone and named, with how to free it.
"""

from __future__ import annotations

import os
import socket

import dagster as dg

from chatsales.processes import is_running

ACTIVE = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.CANCELING]


def free_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed the runs of dead `chatsales` processes of this host and free their slots; returns them."""
    host = socket.gethostname()
    freed = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=ACTIVE)):
        tags = run.tags
        if tags.get("chatsales/host") != host or not tags.get("chatsales/pid", "").isdigit():
            continue
        if is_running(int(tags["chatsales/pid"])) and int(tags["chatsales/pid"]) != os.getpid():
            continue
        instance.report_run_failed(run, message=f"its process {tags['chatsales/pid']} on {host} is gone")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        freed.append(run.run_id)
    return freed


def slot_holders(instance: dg.DagsterInstance, pool: str) -> list[str]:
    """The runs holding a slot of `pool` (what a stuck launch would wait for)."""
    info = instance.event_log_storage.get_concurrency_info(pool)
    return sorted({slot.run_id for slot in info.claimed_slots})
