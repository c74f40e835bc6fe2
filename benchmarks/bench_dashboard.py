"""How fast the dashboard answers (issue 13's targets: first page under 3 s, a filter change under 2 s on the 1x
demo's 90 days), measured as a person sees it: `chatsales dashboard` on a published home, headless Chromium,
until every card and chart of the page is drawn and Streamlit is idle.

    python benchmarks/bench_dashboard.py --home ~/.chatsales            # a home `chatsales demo` published
    python benchmarks/bench_dashboard.py --days 90 --scale 1            # publishes a demo in a temporary home
    ... --write-docs [--docs-section bench-dashboard-10x]                 # the table into docs/dashboard.md
    ... --screenshots docs                                               # and the docs' two screenshots
    python benchmarks/bench_dashboard.py --home /path/p10x365 --target-s 15 --repeat 1   # the 10x year
        (a home prepared by `bench_period.py --scale 10 --days 365 --direct --chunk-days 31 --workdir ...`)

Measured: the first page from a server just started (its first run imports the app and fills the caches),
the same page in a second browser session (cached), then filter changes that each need new figures: a
channel, a source, the period (last 30 days) and a time slot, then a link to every published day (a custom
period in the page's address); then the same steps without a browser (Streamlit's AppTest in this process),
which is what the server spends.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "pipelines.cli"]
DOC = ROOT / "docs" / "dashboard.md"
SECTION = "bench-dashboard"  # docs/dashboard.md holds each table between <!-- SECTION:start/end --> marks
PREFIXES = ("Wlst-", "Hook-", "Chat-", "Amb-")


def env_for(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATSALES_", "DAGSTER_"))}
    env["CHATSALES_HOME"] = str(home)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(home: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        CLI + ["dashboard", "--port", str(port)],
        cwd=ROOT,
        env=env_for(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    process.terminate()
    raise SystemExit("the dashboard did not listen within 60 s")


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


STATE_JS = """
const cards = {};
for (const c of document.querySelectorAll('.cs-card')) {
  const v = c.querySelector('.cs-value'); cards[c.dataset.ref] = v ? v.textContent : null;
}
const charts = document.querySelectorAll(
  "[data-testid='stVegaLiteChart'] canvas, [data-testid='stVegaLiteChart'] svg.marks").length;
return [cards, charts, document.querySelectorAll("[data-testid='stStatusWidget']").length > 0];
"""


def state(driver) -> tuple[dict[str, str], int, bool]:
    """The cards (ref → value), the charts drawn, and whether Streamlit is still running the script: one
    round trip to the browser (reading each card through WebDriver took a second per poll)."""
    cards, charts, running = driver.execute_script(STATE_JS)
    return cards, charts, running


def wait_complete(
    driver, cards_expected: int, charts_expected: int, before: dict | None = None, timeout: float = 120
) -> float:
    """Seconds until the page shows every card (changed from `before`, when given) and chart, idle."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        try:
            cards, charts, running = state(driver)
        except Exception:  # noqa: BLE001, S112 - an element replaced while reading it: read again
            continue
        if (
            len(cards) == cards_expected
            and charts >= charts_expected
            and not running
            and (before is None or cards != before)
        ):
            return time.perf_counter() - started
        time.sleep(0.02)
    raise SystemExit(f"the page was not complete within {timeout} s")


def pick(driver, label: str, option: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, f"[data-testid='stSidebar'] input[aria-label='{label}']").click()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = [o for o in driver.find_elements(By.CSS_SELECTOR, "[role='option']") if o.text.strip() == option]
        if found:
            found[0].click()
            return
        time.sleep(0.05)
    raise SystemExit(f"no option {option!r} in {label}")


def type_slot(driver, text: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    field = driver.find_element(By.CSS_SELECTOR, "[data-testid='stSidebar'] input[aria-label='Time slot']")
    field.send_keys(text, Keys.ENTER)


def measure(home: Path) -> list[tuple[str, float]]:
    from chatsales.kpis import REGISTRY
    from chatsales.kpis.charts import CHARTS, LINE_SERIES

    cards = sum(ref.startswith(PREFIXES) for ref in REGISTRY)
    charts = len(CHARTS) + len(LINE_SERIES)
    results = []
    process, url = start_server(home)
    try:
        driver = browser()
        try:
            started = time.perf_counter()
            driver.get(url)
            wait_complete(driver, cards, charts)
            results.append(("first page, server just started (last 7 days)", time.perf_counter() - started))
            second = browser()
            try:
                started = time.perf_counter()
                second.get(url)
                wait_complete(second, cards, charts)
                results.append(("first page, another session (cached)", time.perf_counter() - started))
            finally:
                second.quit()
            for what, change in (
                ("filter change: channel web", lambda: pick(driver, "Channel", "web")),
                ("filter change: source direct", lambda: pick(driver, "Source", "direct")),
                ("period change: last 30 days", lambda: pick(driver, "Period", "Last 30 days")),
                ("filter change: time slot 09:00-19:00", lambda: type_slot(driver, "09:00-19:00")),
            ):
                before = state(driver)[0]
                started = time.perf_counter()
                change()
                wait_complete(driver, cards, charts, before)
                results.append((what, time.perf_counter() - started))
            first, last = published(home)
            before = state(driver)[0]
            started = time.perf_counter()
            driver.get(f"{url}/?period=custom&from={first}&to={last}")  # a link someone shared
            wait_complete(driver, cards, charts, before)
            results.append((f"a link to every published day ({first}..{last})", time.perf_counter() - started))
        finally:
            driver.quit()
    finally:
        process.terminate()
        process.wait(timeout=30)
    return results


def screenshots(home: Path, folder: Path) -> list[Path]:
    """docs/dashboard-*.png: the conversations page and the members leaderboard, 1280x900, as a person
    opening them sees the top of the page."""
    process, url = start_server(home)
    saved = []
    try:
        driver = browser()
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False},
        )
        try:
            for path, name in (
                ("?period=last_7_days", "dashboard-conversations.png"),
                ("members?period=last_30_days", "dashboard-members.png"),
            ):
                driver.get(f"{url}/{path}")
                time.sleep(1)
                while state(driver)[2] or not driver.find_elements("css selector", "h1"):
                    time.sleep(0.2)
                time.sleep(2)  # the charts' and the table's drawing
                saved.append(folder / name)
                driver.save_screenshot(str(saved[-1]))
        finally:
            driver.quit()
    finally:
        process.terminate()
        process.wait(timeout=30)
    return saved


def published(home: Path) -> tuple:
    """The first and last day the home's reporting database holds."""
    from chatsales.query import published_range
    from chatsales.settings import load_settings

    return published_range(load_settings({"CHATSALES_HOME": str(home)}).reporting_db_url)


def measure_script(home: Path) -> list[tuple[str, float]]:
    """The same steps as Streamlit's AppTest runs them in this process, without a browser: what the server
    spends (the catalogs and the page's elements), apart from the browser's drawing."""
    from streamlit.testing.v1 import AppTest

    from chatsales.settings import load_settings

    os.environ["CHATSALES_HOME"] = str(home)
    os.environ["CHATSALES_REPORTING_DB_URL"] = load_settings().reporting_db_url
    at = AppTest.from_file(str(ROOT / "chatsales" / "dashboard" / "app.py"), default_timeout=300)
    results = []
    started = time.perf_counter()
    at.run()
    results.append(("server only: first page (last 7 days)", time.perf_counter() - started))
    for what, change in (
        ("channel web", lambda: at.sidebar.selectbox(key="channel").select("web")),
        ("source direct", lambda: at.sidebar.selectbox(key="source").select("direct")),
        ("last 30 days", lambda: at.sidebar.selectbox(key="period").select("last_30_days")),
        ("time slot 09:00-19:00", lambda: at.sidebar.text_input(key="slot").input("09:00-19:00")),
    ):
        change()
        started = time.perf_counter()
        at.run()
        results.append((f"server only: {what}", time.perf_counter() - started))
    if at.exception:
        raise SystemExit(f"the app failed: {at.exception}")
    return results


def table(results: list[tuple[str, float]], label: str, target_s: float | None = None) -> str:
    load = os.getloadavg()[0]
    lines = [
        (
            f"Measured on {label}, {platform.machine()} with {os.cpu_count()} cores (load average {load:.1f} "
            "at the end: other work shares the machine), by `python benchmarks/bench_dashboard.py`; browser "
            "steps: the median of its runs, each on a new server:"
        ),
        "",
        "| step | seconds | target |",
        "|---|---:|---:|",
    ]
    for what, seconds in results:
        target = f"{target_s:g}" if target_s else "3" if "first page" in what else "2"
        lines.append(f"| {what} | {seconds:.2f} | < {target} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, help="a CHATSALES_HOME whose reporting database is published")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3, help="browser runs, each on a new server: the median")
    parser.add_argument("--label", help="what the table says was measured (default: from --days and --scale)")
    parser.add_argument("--target-s", type=float, help="one target for every step (15 for the 10x year)")
    parser.add_argument("--write-docs", action="store_true", help="write the table into docs/dashboard.md")
    parser.add_argument("--docs-section", default=SECTION, help="which table of docs/dashboard.md to replace")
    parser.add_argument("--screenshots", type=Path, help="save the docs' two screenshots into this folder")
    args = parser.parse_args()
    home = args.home
    if home is None:
        home = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
        run = subprocess.run(
            CLI + ["demo", "--days", str(args.days), "--scale", str(args.scale)],
            cwd=ROOT,
            env=env_for(home),
            capture_output=True,
            text=True,
            check=False,
        )
        if run.returncode != 0:
            print(run.stderr[-3000:], file=sys.stderr)
            return 1
    if args.screenshots:
        for path in screenshots(home, args.screenshots):
            print(f"screenshot {path}: {path.stat().st_size:,} bytes")
    runs = [measure(home) for _ in range(args.repeat)]
    results = [(what, statistics.median(run[n][1] for run in runs)) for n, (what, _) in enumerate(runs[0])]
    results += measure_script(home)
    text = table(results, args.label or f"the {args.scale:g}x demo, {args.days} days", args.target_s)
    print(text)
    if args.write_docs:
        doc = DOC.read_text()
        start, end = f"<!-- {args.docs_section}:start -->", f"<!-- {args.docs_section}:end -->"
        before, rest = doc.split(start, 1)
        _, after = rest.split(end, 1)
        DOC.write_text(before + start + "\n" + text + "\n" + end + after)
    return 0


if __name__ == "__main__":
    sys.exit(main())
