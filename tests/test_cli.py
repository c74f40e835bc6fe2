"""The commands a user types, in real subprocesses: `chatsales demo`, `chatsales backfill`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest

from chatsales.kpis import REGISTRY
from chatsales.kpis.charts import CHARTS, LINE_SERIES
from chatsales.reporting.store import ReportingDb as ReportingStore

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "pipelines.cli"]


def _run(args, home: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATSALES_", "DAGSTER_"))}
    env["CHATSALES_HOME"] = str(home)
    return subprocess.run(CLI + args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A published 6-day demo home (built once for this module: a demo takes a minute); the tests that share
    it only read it, except test_demo_then_backfill, which re-runs two days to the same values."""
    home = tmp_path_factory.mktemp("home")
    run = _run(["demo", "--days", "6", "--scale", "0.02"], home)
    assert run.returncode == 0, run.stderr[-3000:]
    store = ReportingStore(f"sqlite:///{home / 'reporting.db'}")
    days = sorted(set(store.read_table("kpi_daily")["day"]))
    store.dispose()
    return home, run, days


def test_demo_then_backfill(demo):
    tmp_path, demo, _ = demo
    out = demo.stdout
    for expected in (
        "orders and receipts:",
        "attributed share:",
        "sales after a conversation:",
        "top members:",
        f"reporting database: sqlite:///{tmp_path / 'reporting.db'}",
        f"DAGSTER_HOME={tmp_path / 'dagster'}",
    ):
        assert expected in out
    assert (tmp_path / "dagster" / "dagster.yaml").read_text() == (ROOT / "dagster.yaml").read_text()
    store = ReportingStore(f"sqlite:///{tmp_path / 'reporting.db'}")
    days = sorted(set(store.read_table("kpi_daily")["day"]))
    assert len(days) == 6
    before = store.read_table("kpi_daily").drop(columns=["run_id", "computed_at"])

    # a rebuild of two days (the state derived again from the whole lake) publishes the same numbers; other
    # tests run `chatsales backfill` through the CLI, which differs from it by this one run config
    backfill = _run(["rebuild", "--from", str(days[1]), "--to", str(days[2])], tmp_path)
    assert backfill.returncode == 0, backfill.stderr[-3000:]
    assert f"succeeded for {days[1]}..{days[2]}" in backfill.stdout
    after = store.read_table("kpi_daily")
    assert after.groupby("day")["run_id"].nunique().max() == 1
    assert after[after["day"].isin(days[1:3])]["run_id"].nunique() == 1
    assert after[~after["day"].isin(days[1:3])]["run_id"].nunique() == 1
    key = ["day", "kpi", "dimension", "dimension_value"]
    assert (
        before.sort_values(key)
        .reset_index(drop=True)
        .equals(after.drop(columns=["run_id", "computed_at"]).sort_values(key).reset_index(drop=True))
    )

    period = _run(["kpis", "--from", str(days[0]), "--to", str(days[-1]), "--json"], tmp_path)
    assert period.returncode == 0, period.stderr[-3000:]
    values = json.loads(period.stdout)
    # every ref of the project's own KPI reference, by its own name: cards, charts, the members list, Insi-6,
    # Smgo-1..5 (docs/kpi-reference.md, generated from the registry and kept fresh by test_readme)
    spec_refs = set(
        re.findall(
            r"\b((?:Wlst|Hook|Chat|Amb)-(?:Card|Line|Bar|Donut|List)-\d+(?:-net)?|Iadv-\d+|Insi-\d+"
            r"|Smgo-\d+)\b",
            (ROOT / "docs" / "kpi-reference.md").read_text(),
        )
    )
    assert len(spec_refs) == 88 and spec_refs <= set(values), spec_refs - set(values)
    smgo = {f"Smgo-{n}" for n in range(1, 6)}
    assert set(values) == set(REGISTRY) | smgo | set(CHARTS) | set(LINE_SERIES) | {"Chat-List-1", "Insi-6"}
    assert {h: values["Insi-6"][h]["orders"] for h in ("new", "existing")} == {
        h: values[f"Insi-6-{h}-orders"]["value"] for h in ("new", "existing")
    }
    members = {m["member_id"]: m for m in values["Chat-List-1"]["members"]}
    assert round(sum(m["sales_total"] for m in members.values()), 2) == round(values["Chat-Card-80"]["value"], 2)
    assert all(m["last_name"] and m["role"] is not None for m in members.values())
    line = values["Wlst-Line-1"]["days"]  # a point per day of the period, each that day's kpi_daily value
    assert [p["day"] for p in line] == [str(d) for d in days]
    handled = after[(after["kpi"] == "Wlst-Card-10") & (after["dimension"] == "all")].set_index("day")["value"]
    assert [p["Requests handled"] for p in line] == [handled[d] for d in days]
    # campaign sales of the period, per kind, equal the campaign_orders rows placed in it
    credited = store.read_table("campaign_orders")
    by_kind = {r["kind"]: r for r in values["Smgo-1"]["by_kind"]}
    assert sum(r["orders"] for r in by_kind.values()) == len(credited) > 0
    assert round(sum(r["sales_sum"] for r in by_kind.values()), 2) == round(credited["total"].sum(), 2)
    trends = store.read_table("customer_trends")["trend"].value_counts().to_dict()
    assert values["Smgo-4"]["customers"] == trends
    segments = store.read_table("customer_segments")
    per_band = segments[segments["segment_type"] == "price_band"].groupby("segment")["customer_hash"].nunique()
    assert values["Smgo-3"]["customers"]["price_band"] == per_band.to_dict() and per_band.sum() > 0
    assert values["Smgo-3"]["as_of"] == str(segments["as_of"].max())
    daily_sales = after[(after["kpi"] == "Chat-Card-81") & (after["dimension"] == "all")]["value"].sum()
    assert values["Chat-Card-81"]["value"] == daily_sales  # a count of sales does add up over days
    # Insi-7's product table comes with the catalog; its units add up to the recommendation conversion's
    products = values["Insi-7"]["products"]
    assert products and set(products[0]) == {"product_id", "shown", "units_sold", "sales", "units_sold_after_shown"}
    assert round(sum(p["units_sold"] for p in products), 6) == round(values["Insi-7"]["denominator"], 6)
    assert {
        "product_daily",
        "campaign_orders",
        "campaign_stats",
        "customer_segments",
        "customer_trends",
        "product_mix",
    } <= set(store.table_names())
    assert len(store.read_table("campaign_stats")) > 0 and len(store.read_table("customer_segments")) > 0
    web = _run(
        [
            "kpis",
            "--from",
            str(days[0]),
            "--to",
            str(days[-1]),
            "--json",
            "--channel",
            "web",
            "--time-slot",
            "09:00-19:00",
            "--days",
            "mon,tue,wed,thu,fri",
        ],
        tmp_path,
    )
    assert web.returncode == 0 and json.loads(web.stdout)["Chat-Card-81"]["value"] <= daily_sales

    assert list(values["Chat-Bar-10"]["buckets"]) == list(CHARTS["Chat-Bar-10"].buckets)
    assert sum(values["Chat-Donut-1"]["buckets"].values()) == values["Chat-Card-1"]["value"]
    assert sum(values["Chat-Bar-11"]["buckets"].values()) == values["Chat-Card-10"]["value"]
    published = store.read_table("kpi_buckets_daily")  # new conversations by start day: days add up
    donut = published[(published["chart"] == "Chat-Donut-1") & (published["dimension"] == "all")]
    assert values["Chat-Donut-1"]["buckets"] == donut.groupby("bucket")["count"].sum().to_dict()

    text = _run(["kpis", "--from", str(days[0]), "--to", str(days[-1]), "--charts"], tmp_path)
    assert text.returncode == 0, text.stderr[-3000:]
    for expected in (
        "Chat-Card-81",
        "Number of sales",
        "Insi-6-new-orders",
        "Chat-List-1",
        "Members list",
        "Chat-Bar-10",
        "Handling time",
        f"\n      {days[0]}  ",
        "Smgo-1",
        "Campaign sales placed",
    ):
        assert expected in text.stdout, expected
    bad_slot = _run(["kpis", "--from", str(days[0]), "--to", str(days[-1]), "--time-slot", "9-17"], tmp_path)
    assert bad_slot.returncode == 2 and "time slot '9-17' is not HH:MM-HH:MM" in bad_slot.stderr
    assert len(bad_slot.stderr.strip().splitlines()) == 1

    wrong = _run(["backfill", "--from", str(days[2]), "--to", str(days[1])], tmp_path)
    assert wrong.returncode == 2 and "is before --from" in wrong.stderr


def test_backfill_outside_the_partitions_is_refused_with_the_range(tmp_path, monkeypatch, capsys):
    """Partitions end with the last complete day: a range into the future cannot run, and says why."""
    from pipelines.cli import main

    for name in [k for k in os.environ if k.startswith(("CHATSALES_", "DAGSTER_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CHATSALES_HOME", str(tmp_path))
    monkeypatch.setenv("CHATSALES_START_DATE", "2026-01-01")
    assert main(["backfill", "--from", "2026-01-01", "--to", "2999-01-01"]) == 2
    message = capsys.readouterr().err
    assert "outside the daily partitions 2026-01-01.." in message and "2999-01-01" in message


# --- a command line an analyst can read (issue 13 point 4, issue 16 point 8) ---------------------------------

CHATSALES = str(Path(sys.executable).parent / "chatsales")


@pytest.fixture
def home(demo, monkeypatch):
    """The demo home as the environment of an in-process `main([...])`."""
    for name in [k for k in os.environ if k.startswith(("CHATSALES_", "DAGSTER_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CHATSALES_HOME", str(demo[0]))
    return demo


def _main(argv, capsys) -> tuple[int, str, str]:
    """`chatsales argv` in this process: exit code, stdout, stderr (argparse's refusals exit by SystemExit)."""
    from pipelines.cli import main

    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    out = capsys.readouterr()
    return code, out.out, out.err


def _json(days, capsys, *extra) -> dict:
    code, out, err = _main(["kpis", "--from", str(days[0]), "--to", str(days[-1]), "--json", *extra], capsys)
    assert code == 0, err
    return json.loads(out)


def test_kpis_text_is_grouped_named_and_formatted_like_the_dashboard(home, capsys):
    from chatsales.kpis.presentation import FAMILIES, cards, format_value

    _, _, days = home
    values = _json(days, capsys)
    code, out, err = _main(["kpis", "--from", str(days[0]), "--to", str(days[-1])], capsys)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == f"KPIs for {days[0]}..{days[-1]} ({len(days)} days, Europe/Paris); filters: none"
    assert lines[1].startswith("~ fluctuating: can still change")
    titles = [title for title, _ in FAMILIES]
    assert [line for line in lines if line in titles] == titles  # every family, in the spec's order
    assert not re.search(r"\d[eE][+-]?\d", out)  # no scientific notation anywhere
    assert out.index("Chat-Card-2 ") < out.index("Chat-Card-10 ")  # natural order, not text order
    by_ref = {line.split()[0]: line for line in lines if line.startswith("  ") and not line.startswith("    ")}
    shown = {card.ref: card for card in cards(values)}
    for ref, card in shown.items():  # every card, with its name and value
        line = by_ref[ref]
        assert card.name in line and card.text() in line, line
        assert (" ~ " in line) == card.fluctuating, line
    assert "Chat-Card-11" in shown and re.search(
        r"Dialogue establishment rate \(fixed\) +\d+\.\d %   \d[\d,]* / "
        r"\d[\d,]*$",
        by_ref["Chat-Card-11"],
    )
    iadv3 = values["Iadv-3"]["value"]
    assert iadv3 > 1000 and f"{iadv3:,.2f} EUR" in by_ref["Iadv-3"]  # thousands separator, cents, currency
    duration = by_ref["Wlst-Card-13"]
    assert re.search(r"\d+ (d|h|min|s)( \d\d (h|min|s))? ", duration), duration
    assert format_value(values["Chat-Card-10"]["value"], "count") in by_ref["Chat-Card-10"]
    assert "(12 charts not shown: add --charts)" in out


def test_kpis_json_keeps_its_shape_with_names_units_and_integer_counts(home, capsys):
    from chatsales.kpis.presentation import cards, unit_of

    _, _, days = home
    values = _json(days, capsys)
    counts = [ref for ref in REGISTRY if unit_of(ref) == "count"]
    assert len(counts) > 30
    for ref in REGISTRY:
        entry = values[ref]
        assert set(entry) == {"value", "numerator", "denominator", "name", "unit", "text"} | (
            {"products"} if ref == "Insi-7" else set()
        )
        assert entry["name"] == REGISTRY[ref].name and entry["unit"] == unit_of(ref)
        assert entry["text"] == cards({ref: entry})[0].text()
    for ref in counts:
        assert type(values[ref]["value"]) is int, (ref, values[ref])
    assert type(values["Chat-Card-11"]["numerator"]) is int and type(values["Chat-Card-11"]["denominator"]) is int
    assert type(values["Chat-Card-11"]["value"]) is float and values["Chat-Card-11"]["unit"] == "percent"
    assert type(values["Chat-Card-80"]["value"]) is float and values["Chat-Card-80"]["unit"] == "currency"
    assert all(type(values["Insi-6"][h]["orders"]) is int for h in ("new", "existing"))
    assert all(type(p["Requests handled"]) is int for p in values["Wlst-Line-1"]["days"])
    assert all(type(m["sales_count"]) is int for m in values["Chat-List-1"]["members"])
    assert not re.search(
        r'"(value|numerator|denominator)": -?\d+\.0,', json.dumps({ref: values[ref] for ref in counts})
    )


FILTER_ARGS = [("source", "nope"), ("channel", "sms"), ("member", "m-9999"), ("role", "9")]


@pytest.mark.parametrize("name,value", FILTER_ARGS)
def test_an_unknown_filter_value_is_refused_with_the_accepted_ones(home, capsys, name, value):
    from chatsales.query import filter_values

    _, _, days = home
    accepted = filter_values(f"sqlite:///{home[0] / 'reporting.db'}")[name]
    assert len(accepted) >= 2
    code, out, err = _main(["kpis", "--from", str(days[0]), "--to", str(days[-1]), f"--{name}", value], capsys)
    assert code == 2 and out == ""
    assert err == (
        f"chatsales kpis: argument --{name}: {value!r} is not a {name} of the published days: expected "
        f"one of {', '.join(accepted)}\n"
    )
    # a value the published days hold is accepted, and filters
    code, out, err = _main(
        ["kpis", "--from", str(days[0]), "--to", str(days[-1]), f"--{name}", accepted[0], "--json"], capsys
    )
    assert code == 0, err
    assert json.loads(out)["Chat-Card-1"]["value"] <= _json(days, capsys)["Chat-Card-1"]["value"]


def test_filter_values_are_the_breakdowns_the_published_days_hold(home):
    from chatsales.query import filter_values, published_range, unpublished_days

    url = f"sqlite:///{home[0] / 'reporting.db'}"
    store = ReportingStore(url)
    kpis = store.read_table("kpi_daily")
    store.dispose()
    found = filter_values(url)
    for name in ("source", "channel", "member", "role"):
        assert set(found[name]) == set(kpis.loc[kpis["dimension"] == name, "dimension_value"])
    assert found["source"] == sorted(found["source"]) and {"web", "store"} <= set(found["channel"])
    days = home[2]
    assert published_range(url) == (days[0], days[-1])
    assert unpublished_days(url, days[0], days[-1]) == []
    before = days[0] - (days[1] - days[0])
    assert unpublished_days(url, before, days[0]) == [before]


@pytest.mark.parametrize(
    "argv,line",
    [
        (
            ["kpis", "--from", "nope", "--to", "2026-11-08"],
            "chatsales kpis: argument --from: 'nope' is not a day: expected YYYY-MM-DD, e.g. 2026-11-02",
        ),
        (
            ["kpis", "--from", "2026-11-02", "--to", "2026-02-30"],
            "chatsales kpis: argument --to: '2026-02-30' is not a day: expected YYYY-MM-DD",
        ),
        (
            ["backfill", "--from", "updates-2026-12-03", "--to", "2026-12-03"],
            "chatsales backfill: argument --from: 'updates-2026-12-03' is not a day: expected YYYY-MM-DD",
        ),
        (
            ["rebuild", "--from", "2026-12-01", "--to", "20261203"],
            "chatsales rebuild: argument --to: '20261203' is not a day: expected YYYY-MM-DD",
        ),
        (["demo", "--days", "0"], "chatsales demo: argument --days: '0' is not a whole number above 0"),
        (["demo", "--scale", "-1"], "chatsales demo: argument --scale: '-1' is not a number above 0"),
        (["demo", "--scale", "nan"], "chatsales demo: argument --scale: 'nan' is not a number above 0"),
        (["db", "downgrade"], "chatsales db: argument action: invalid choice: 'downgrade' (choose from 'upgrade')"),
        (["docs", "--from", "2026-11-02"], "chatsales: unrecognized arguments: --from 2026-11-02"),
        (
            ["kpis", "--from", "2026-11-02", "--to", "2026-11-08", "--time-slot", "9-17"],
            "chatsales kpis: argument --time-slot: time slot '9-17' is not HH:MM-HH:MM, e.g. 09:00-19:00",
        ),
        (
            ["kpis", "--from", "2026-11-02", "--to", "2026-11-08", "--days", "moon"],
            "chatsales kpis: argument --days: days 'moon': use mon,tue,wed,thu,fri,sat,sun",
        ),
        (["kpis", "--to", "2026-11-08"], "chatsales kpis: the following arguments are required: --from"),
    ],
)
def test_a_malformed_argument_is_refused_in_one_line_in_every_subcommand(argv, line, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("CHATSALES_HOME", str(tmp_path))
    code, out, err = _main(argv, capsys)
    assert code == 2 and out == ""
    assert err.startswith(line) and err.count("\n") == 1 and "Traceback" not in err, err
    assert not (tmp_path / "reporting.db").exists()  # refused before anything was opened


def test_days_never_published_are_refused_with_the_published_range(home, capsys):
    _, _, days = home
    url = f"sqlite:///{home[0] / 'reporting.db'}"
    earlier = days[0] - (days[-1] - days[0]) - (days[1] - days[0])
    for first, last in ((earlier, days[0]), (days[0], days[-1] + (days[1] - days[0])), (earlier, earlier)):
        code, out, err = _main(["kpis", "--from", str(first), "--to", str(last)], capsys)
        assert code == 2 and out == ""
        assert err == (
            f"chatsales kpis: {first}..{last} is not published: the reporting database {url} holds "
            f"{days[0]}..{days[-1]}\n"
        )
    code, _, err = _main(["kpis", "--from", str(days[-1]), "--to", str(days[0])], capsys)
    assert code == 2 and err == f"chatsales kpis: argument --to: {days[0]} is before --from {days[-1]}\n"


def test_refusals_never_show_the_password(pg_url, capsys, monkeypatch, tmp_path):
    """Nothing published, then days outside what is: the URL is named, its password never (PostgreSQL here
    trusts local connections, so a URL with a password connects)."""
    import sqlalchemy as sa

    from chatsales.reporting import tables as t

    secret = "s3cret-pw"
    url = sa.engine.make_url(pg_url).set(password=secret).render_as_string(hide_password=False)
    assert secret in url
    monkeypatch.setenv("CHATSALES_HOME", str(tmp_path))
    monkeypatch.setenv("CHATSALES_REPORTING_DB_URL", url)
    shown = sa.engine.make_url(url).render_as_string(hide_password=True)
    code, out, err = _main(["kpis", "--from", "2026-11-02", "--to", "2026-11-08"], capsys)
    assert code == 1 and out == "" and secret not in err
    assert err == (
        f"chatsales kpis: the reporting database {shown} has no published day yet: run `chatsales demo` "
        "or `chatsales backfill` first\n"
    )
    with ReportingStore(url) as store:
        store.ensure_schema()
        with store.engine.begin() as conn:
            conn.execute(
                t.kpi_daily.insert(),
                [
                    {
                        "day": d,
                        "kpi": "Chat-Card-1",
                        "dimension": "all",
                        "dimension_value": "all",
                        "value": 1.0,
                        "is_fluctuating": False,
                        "run_id": "r",
                        "computed_at": datetime(2026, 11, 9),
                    }
                    for d in (date(2026, 11, 3), date(2026, 11, 4), date(2026, 11, 6))
                ],
            )
    code, out, err = _main(["kpis", "--from", "2026-11-02", "--to", "2026-11-08"], capsys)
    assert code == 2 and secret not in err
    assert (
        err == f"chatsales kpis: 2026-11-02..2026-11-08 is not published: the reporting database {shown} holds "
        "2026-11-03..2026-11-06\n"
    )
    code, out, err = _main(["kpis", "--from", "2026-11-03", "--to", "2026-11-06"], capsys)
    assert code == 2 and secret not in err
    assert err == (
        f"chatsales kpis: 2026-11-03..2026-11-06 is not published on 1 day(s) (2026-11-05): the "
        f"reporting database {shown} holds 2026-11-03..2026-11-06 with gaps\n"
    )


def test_a_closed_pipe_ends_quietly(home):
    """`chatsales kpis … | head -1` in a real shell, then a reader that goes away before the first write."""
    days = home[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATSALES_", "DAGSTER_"))}
    env["CHATSALES_HOME"] = str(home[0])
    args = ["kpis", "--from", str(days[0]), "--to", str(days[-1]), "--json", "--charts"]
    piped = subprocess.run(
        ["bash", "-c", 'set -o pipefail; "$@" | head -1; echo "status ${PIPESTATUS[0]}" >&2', "-", CHATSALES, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert piped.stdout == "{\n"
    assert re.fullmatch(r"status (0|141)\n", piped.stderr), piped.stderr  # nothing else: no traceback

    process = subprocess.Popen([CHATSALES, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # gone before the catalog is computed: the first write breaks
    _, err = process.communicate(timeout=300)
    assert process.returncode == 141 and err == b""
