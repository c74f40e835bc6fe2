"""The re-attribution job launched as the Launchpad's Launch button does, through a real dagster-webserver on
127.0.0.1: a bad window or range is refused at launch with one line and no run is created; a good one is
queued. (The Launchpad's live "No errors" check only knows the config's types: Dagster's config schema has
no bounds, so the bound is checked by the job's config mapping, which the launch runs.)"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import date, timedelta

import requests

from tests.test_e2e_dagster import BIN, ROOT, Dagster, _default_signals, _free_port, _stop, _wait

SELECTOR = {"repositoryLocationName": "chatsales", "repositoryName": "__repository__", "jobName": "reattribute"}
LAUNCH = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) { __typename
    ... on PythonError { message } ... on RunConfigValidationInvalid { errors { message } }
    ... on LaunchRunSuccess { run { runId } } } }"""


def _launch(client: Dagster, **config) -> dict:
    values = {"from_day": "2026-06-01", "to_day": "2026-06-03", "window_days": 7, "dry_run": True, **config}
    # a refused launch answers HTTP 500 with the error as data, which the UI shows in a dialog
    answer = requests.post(
        f"{client.url}/graphql",
        timeout=60,
        json={
            "query": LAUNCH,
            "variables": {
                "params": {"selector": SELECTOR, "runConfigData": {"ops": {"reattribute_orders": {"config": values}}}}
            },
        },
    )
    return answer.json()["data"]["launchRun"]


def test_a_bad_reattribution_is_refused_at_launch_and_a_good_one_is_queued(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "PYTHONPATH": str(ROOT),
        "CHATSALES_HOME": str(tmp_path),
        "CHATSALES_START_DATE": "2026-06-01",
    }
    port = _free_port()
    with open(tmp_path / "webserver.log", "w") as log:
        webserver = subprocess.Popen(
            [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", str(ROOT / "workspace.yaml")],
            cwd=ROOT,
            env=env,
            preexec_fn=_default_signals,
            start_new_session=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        client = Dagster(f"http://127.0.0.1:{port}")
        try:

            def loaded():
                assert webserver.poll() is None, (tmp_path / "webserver.log").read_text()[-3000:]
                try:
                    entries = client.graphql("""{ workspaceOrError { ... on Workspace { locationEntries {
                        loadStatus locationOrLoadError { __typename } } } } }""")["workspaceOrError"]["locationEntries"]
                except (requests.ConnectionError, AssertionError):  # not answering yet
                    return False
                return entries and all(e["loadStatus"] == "LOADED" and e["locationOrLoadError"] for e in entries)

            _wait("the webserver and its code location", loaded, timeout=120, every=1)

            def refusal(answer: dict) -> str:
                assert answer["__typename"] == "PythonError", answer
                assert len(answer["message"].strip().splitlines()) == 1, answer
                return answer["message"].strip()

            assert refusal(_launch(client, window_days=-3)).endswith(
                "re-attribution: window_days=-3: must be at least 1"
            )
            assert refusal(_launch(client, from_day="2026-06-05")).endswith(
                "re-attribution: to_day 2026-06-03 is before from_day 2026-06-05"
            )
            tomorrow = str(date.today() + timedelta(days=2))
            assert f"re-attribution: to_day {tomorrow} is not a complete day yet" in refusal(
                _launch(client, to_day=tomorrow)
            )
            runs = """{ runsOrError(filter: {pipelineName: "reattribute"}) { ... on Runs { results { runId } } } }"""
            assert client.graphql(runs)["runsOrError"]["results"] == []  # nothing was created
            queued = _launch(client)
            assert queued["__typename"] == "LaunchRunSuccess", queued
            assert [r["runId"] for r in client.graphql(runs)["runsOrError"]["results"]] == [queued["run"]["runId"]]
        finally:
            _stop(webserver)
