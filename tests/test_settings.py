"""Settings refused at load, and faults named where they are, through the real `chatsales` command (issue 17,
"Why" 6). Seen before the fix: each bad value below ended in a traceback (exit code 1) whose last line was
`chatsales.settings.SettingsError: …`, a malformed port raised `ValueError: invalid literal for int()`, and a
reporting database that cannot be reached ended as `run …: FAILED for …` naming no step (a resource's
failure is no step failure)."""

from __future__ import annotations

import shutil
from datetime import date, timedelta

import pytest

from tests.test_never_worse import published_demo, run_cli  # noqa: F401  (a fixture)

FUTURE = str(date.today() + timedelta(days=200))


@pytest.mark.parametrize(
    "variable, value, expected",
    [
        (
            "CHATSALES_TIMEZONE",
            "Mars/Olympus",
            "CHATSALES_TIMEZONE='Mars/Olympus': not an IANA time zone such as Europe/Paris",
        ),
        ("CHATSALES_WINDOW_DAYS", "abc", "CHATSALES_WINDOW_DAYS='abc': not a whole number"),
        ("CHATSALES_WINDOW_DAYS", "0", "CHATSALES_WINDOW_DAYS='0': must be at least 1"),
        ("CHATSALES_START_DATE", FUTURE, f"CHATSALES_START_DATE: {FUTURE} is after today"),
        ("CHATSALES_REJECT_THRESHOLD", "abc", "CHATSALES_REJECT_THRESHOLD='abc': not a number"),
        ("CHATSALES_MAX_AMOUNT", "-5", "CHATSALES_MAX_AMOUNT='-5': must be above 0"),
        (
            "CHATSALES_REPORTING_DB_URL",
            "postgresql+psycopg2://u:s3cret@db:bad:port/x",
            "CHATSALES_REPORTING_DB_URL='<not a URL>': not a database URL such as postgresql+psycopg2://",
        ),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_variable_and_exit_code_2(tmp_path, variable, value, expected):
    result = run_cli(["backfill", "--from", "2026-01-01", "--to", "2026-01-02"], tmp_path, **{variable: value})
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().startswith(f"chatsales backfill: {expected}"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert "s3cret" not in result.stdout + result.stderr


def test_a_chat_url_to_a_missing_sqlite_file_fails_the_run_and_creates_nothing(published_demo, tmp_path):
    home, days = published_demo
    copy = tmp_path / "home"
    shutil.copytree(home, copy)
    missing = tmp_path / "nowhere" / "chat.db"
    (tmp_path / "nowhere").mkdir()
    result = run_cli(
        ["backfill", "--from", days[0], "--to", days[-1]], copy, CHATSALES_CHAT_DB_URL=f"sqlite:///{missing}"
    )
    assert result.returncode == 1
    last = result.stdout.strip().splitlines()[-1]
    assert last.endswith(f"FAILED at chat_platform: chat_platform: the SQLite database {missing} does not exist"), last
    assert not missing.exists()


def test_a_reporting_database_fault_is_reported_under_reporting_db_with_its_password_hidden(tmp_path):
    """Nothing listens on port 1: the run fails at reporting_db (not at the first step that uses the database),
    in one line with the URL's password hidden."""
    url = "postgresql+psycopg2://chatsales:s3cret@127.0.0.1:1/reporting"
    result = run_cli(
        ["backfill", "--from", "2026-01-01", "--to", "2026-01-02"], tmp_path, CHATSALES_REPORTING_DB_URL=url
    )
    assert result.returncode == 1
    last = result.stdout.strip().splitlines()[-1]
    assert (
        last.startswith("run ")
        and (
            ": FAILED at reporting_db: the reporting database "
            "postgresql+psycopg2://chatsales:***@127.0.0.1:1/reporting cannot be used: "
            "OperationalError: "
        )
        in last
    ), last
    assert "s3cret" not in result.stdout + result.stderr


def test_an_instance_that_cannot_be_opened_fails_the_backfill_in_one_line(tmp_path):
    """The Dagster instance's PostgreSQL storage is unreachable: `run not started: FAILED at launch: …`, exit
    code 1, its password hidden (before: a traceback from DagsterInstance.get)."""
    from pathlib import Path

    home = tmp_path / "dagster"
    home.mkdir()
    root = Path(__file__).resolve().parents[1]
    (home / "dagster.yaml").write_text((root / "dagster-postgres.yaml").read_text())
    result = run_cli(
        ["backfill", "--from", "2026-01-01", "--to", "2026-01-02"],
        tmp_path / "home",
        DAGSTER_HOME=str(home),
        DAGSTER_PG_URL="postgresql+psycopg2://dagster:s3cret@127.0.0.1:1/dagster",
    )
    assert result.returncode == 1, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1].startswith("run not started: FAILED at launch: ")
    assert "Traceback" not in result.stderr and "s3cret" not in result.stdout + result.stderr
