"""The data team's tour of the Dagster UI (docs/ui-tour.md), walked in headless Chromium through the real
dagster-webserver and dagster-daemon over a small demo, so the tour's names cannot go stale.

Monitoring: the lineage shows every asset group; a day's partition of `order_attribution` shows that day's
order count, the reporting database's. Backfilling: a 3-day backfill launched from daily_pipeline's
Partitions tab is a backfill of daily_pipeline and succeeds there. Re-attributing: a dry run launched from
the Launchpad with another window shows its gained and lost orders on the run page, those the reporting
database recorded for that run. The late_data sensor page shows its tick history on a 900-pixel screen.
Screenshots of each page go to the test's temporary folder (the test artifacts).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from chatsales.demo import generate_demo
from chatsales.reporting.store import ReportingDb as ReportingStore
from tests.test_e2e_dagster import ROOT, _wait, dagster_processes, demo_env

FIRST, DAYS = date(2026, 6, 1), 8
BACKFILL = [FIRST + timedelta(days=n) for n in (1, 2, 3)]  # 2026-06-02..2026-06-04
WIDTH, HEIGHT = 1440, 900
WAIT = 60  # a page or a dialog on a busy 2-core machine
RUN_WAIT = 420  # a run queued, started by the daemon and finished

pytestmark = pytest.mark.slow


@pytest.fixture
def servers(tmp_path):
    """Webserver + daemon over a demo on a fresh SQLite instance; yields (client, reporting store)."""
    demo = generate_demo(tmp_path / "demo", FIRST, days=DAYS, scale=0.05, seed=8)
    env = demo_env(tmp_path, demo, FIRST)
    with dagster_processes(env, tmp_path / "logs") as client:

        def daemons_healthy():  # else the launch dialog warns "The backfill daemon is not running"
            statuses = client.graphql("""{ instance { daemonHealth { allDaemonStatuses { daemonType required
                healthy } } } }""")["instance"]["daemonHealth"]["allDaemonStatuses"]
            return all(s["healthy"] for s in statuses if s["required"])

        _wait("the daemon's heartbeats", daemons_healthy, timeout=120)
        yield client, ReportingStore(env["CHATSALES_REPORTING_DB_URL"])


@pytest.fixture
def browser():
    """Headless Debian Chromium with a 1440 × 900 viewport (a laptop's first screen)."""
    options = webdriver.ChromeOptions()
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={WIDTH},{HEIGHT}",
    ):
        options.add_argument(argument)
    options.binary_location = "/usr/bin/chromium"
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
    )
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


class Tour:
    """The few gestures the tour needs: open, click a named link or button, wait for text, screenshot."""

    def __init__(self, driver, url: str, shots):
        self.driver, self.url, self.shots = driver, url, shots
        self.shots.mkdir(exist_ok=True)
        self.labels: set[str] = set()  # every name clicked: docs/ui-tour.md must use the same

    def wait(self, condition, timeout: float = WAIT, what: str = ""):
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.5).until(condition)
        except TimeoutException:
            self.shot("timeout")
            raise AssertionError(
                f"timed out after {timeout} s waiting for {what or condition} on {self.driver.current_url}"
            ) from None

    def open(self, path: str) -> None:
        self.driver.get(self.url + path)

    def dismiss_welcome(self) -> None:
        """A fresh browser gets Dagster's 'Join the Dagster community' dialog once: skip it."""
        try:
            WebDriverWait(self.driver, 15).until(
                EC.element_to_be_clickable((By.XPATH, "//button[normalize-space()='Skip']"))
            ).click()
            self.wait(
                EC.invisibility_of_element_located((By.XPATH, "//button[normalize-space()='Skip']")),
                what="the welcome dialog to close",
            )
        except TimeoutException:
            pass

    def element(self, xpath: str, timeout: float = WAIT):
        return self.wait(EC.visibility_of_element_located((By.XPATH, xpath)), timeout, xpath)

    def click(self, xpath: str, timeout: float = WAIT) -> None:
        self.wait(EC.element_to_be_clickable((By.XPATH, xpath)), timeout, xpath).click()

    def button(self, text: str) -> None:
        self.labels.add(text)
        self.click(f"//button[normalize-space()='{text}']")

    def link(self, text: str) -> None:
        """A link by its text (a long name is drawn twice, truncated and measured: match either)."""
        self.labels.add(text)
        self.click(f"(//a[normalize-space()='{text}' or .//*[normalize-space(text())='{text}']])[1]")

    def tab(self, text: str) -> None:
        """A tab of the page's header (a job's Overview, Runs, Partitions, Launchpad; an asset's Partitions)."""
        self.labels.add(text)
        self.click(f"//a[@role='tab' and normalize-space()='{text}']")

    def nav(self, text: str) -> None:
        """A link of the left navigation (Overview, Runs, Catalog, Jobs, Automation, Lineage, Deployment):
        the first link of that name on the page."""
        self.labels.add(text)
        self.click(f"(//a[normalize-space()='{text}'])[1]")

    def shot(self, name: str) -> None:
        self.driver.save_screenshot(str(self.shots / f"{name}.png"))


def _text(xpath: str):
    """Wait condition: the visible text of the first element at `xpath`, once it is not empty."""

    def read(driver):
        found = driver.find_elements(By.XPATH, xpath)
        return found and found[0].text.strip()

    return read


def test_the_data_teams_tour_of_the_dagster_ui(servers, browser, tmp_path):
    client, store = servers
    tour = Tour(browser, client.url, tmp_path / "screenshots")

    # --- Monitoring: the lineage shows every asset group of the definitions
    groups = {n["groupName"] for n in client.graphql("{ assetNodes { groupName } }")["assetNodes"]}
    assert groups >= {"sources", "identity", "attribution", "facts", "kpis", "reporting"}, groups
    tour.open("/")
    tour.dismiss_welcome()
    tour.nav("Lineage")
    tour.element("//*[not(self::title) and normalize-space(text())='Global asset lineage']")
    boxes = "//div[contains(@class, 'CollapsedGroupNode')]"

    def names(driver) -> set[str]:
        return {e.text.strip().split("\n")[0] for e in driver.find_elements(By.XPATH, boxes)} - {""}

    shown = tour.wait(lambda d: names(d) >= groups and names(d), what=f"the groups {sorted(groups)} in the graph")
    assert shown == groups
    sidebar = {
        e.get_attribute("title")
        for e in browser.find_elements(By.XPATH, "//*[@aria-label='asset_group']/following-sibling::*[@title]")
    }
    assert sidebar == groups
    tour.shot("1-lineage")

    # --- Backfilling: Jobs → daily_pipeline → Partitions → Materialize… → 3 days → Launch backfill
    tour.nav("Jobs")
    tour.link("daily_pipeline")
    tour.tab("Partitions")
    tour.element("//*[normalize-space()='Backfill history']")
    tour.button("Materialize…")
    tour.element("//*[starts-with(normalize-space(), 'Launch runs to materialize')]")
    older = browser.find_elements(By.XPATH, "//*[normalize-space()='Show all partitions']")
    if older:  # the dialog offers the last 90 days first; the demo's days are older
        older[0].click()
    keys = tour.element("//input[@type='text' and ancestor::*[@role='dialog']]")
    keys.click()
    keys.send_keys(f"[{BACKFILL[0]}...{BACKFILL[-1]}]", Keys.ENTER)
    tour.element("//*[normalize-space()='3 partitions']")
    tour.shot("2-launch-backfill")
    tour.button("Launch backfill")
    tour.wait(
        EC.invisibility_of_element_located((By.XPATH, "//button[normalize-space()='Launch backfill']")),
        what="the dialog to close",
    )

    backfills = tour.wait(
        lambda d: client.graphql("""{ partitionBackfillsOrError { ... on PartitionBackfills {
        results { id jobName status partitionNames } } } }""")["partitionBackfillsOrError"]["results"],
        what="the backfill to be recorded",
    )
    backfill = backfills[0]["id"]
    row = f"//tr[.//*[normalize-space(text())='{backfill}']]"

    def history_says_succeeded(driver):
        if driver.find_elements(By.XPATH, f"{row}//*[normalize-space(text())='Succeeded']"):
            return True
        status = client.graphql(
            """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
            ... on PartitionBackfill { status } } }""",
            id=backfill,
        )["partitionBackfillOrError"]["status"]
        assert status in ("REQUESTED", "COMPLETED_SUCCESS"), f"backfill {backfill}: {status}"
        if status == "COMPLETED_SUCCESS":
            driver.refresh()  # the page polls on its own; a reload shows the final state at once
        return False

    tour.wait(history_says_succeeded, RUN_WAIT, "the backfill to succeed in daily_pipeline's backfill history")
    tour.shot("3-backfill-succeeded")
    backfills = client.graphql("""{ partitionBackfillsOrError { ... on PartitionBackfills { results {
        id jobName status partitionNames } } } }""")["partitionBackfillsOrError"]["results"]  # one, of the job
    assert [(b["jobName"], b["status"], b["partitionNames"]) for b in backfills] == [
        ("daily_pipeline", "COMPLETED_SUCCESS", [str(d) for d in BACKFILL])
    ]
    runs = client.runs("dagster/backfill", backfill)
    assert [r["status"] for r in runs] == ["SUCCESS"]  # the three days in one run
    assert sorted(set(store.read_table("kpi_daily")["day"])) == BACKFILL
    tour.tab("Runs")  # and the job's Runs tab lists it
    tour.element(
        f"//a[contains(@href, '/runs/{runs[0]['runId']}')]/ancestor::*[.//*[normalize-space(text())='Success']][1]"
    )
    tour.shot("3b-daily-pipeline-runs")

    # --- Monitoring a day: Catalog → order_attribution → Partitions → the day: that day's order count
    day = BACKFILL[1]
    published = store.read_table("attributed_orders", days=[day])
    assert len(published) > 0 and set(published["day"]) == {day}
    tour.nav("Catalog")
    tour.link("order_attribution")
    tour.tab("Partitions")
    search = tour.element("//input[starts-with(@placeholder, 'Filter by name')]")
    search.send_keys(str(day))
    tour.click(f"(//span[normalize-space()='{day}'])[1]")
    tour.element(f"//*[normalize-space()='{day}']/following::*[normalize-space()='Materialized']")
    shown_orders = tour.wait(
        _text("//td[normalize-space()='orders']/following-sibling::td[1]"), what="the partition's metadata 'orders'"
    )
    assert int(shown_orders) == len(published), (shown_orders, len(published))
    tour.shot("4-partition-day")

    # --- Re-attributing: Jobs → reattribute → Launchpad, a dry run of the same days with a 1-day window
    before = store.read_table("attributed_orders", days=BACKFILL)
    tour.nav("Jobs")
    tour.link("reattribute")
    tour.tab("Launchpad")
    editor = tour.element("//div[contains(@class, 'CodeMirror')]")
    editor.click()
    ActionChains(browser).key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL).send_keys(Keys.DELETE).perform()
    ActionChains(browser).send_keys(
        f'ops: {{reattribute_orders: {{config: {{dry_run: true, from_day: "{BACKFILL[0]}", '
        f'to_day: "{BACKFILL[-1]}", window_days: 1}}}}}}'
    ).perform()
    tour.element("//*[normalize-space()='No errors']")
    tour.shot("5-launchpad")
    tour.button("Launch Run")
    tour.wait(lambda d: re.search(r"/runs/([0-9a-f-]{36})", d.current_url), what="the run's page")
    run_id = re.search(r"/runs/([0-9a-f-]{36})", browser.current_url).group(1)
    tour.element("//*[normalize-space()='RUN_SUCCESS']", RUN_WAIT)
    output = tour.element(
        "//*[normalize-space()='STEP_OUTPUT']/ancestor::*[contains(normalize-space(), 'orders_gained')][1]"
    )
    counts = {k: int(v) for k, v in re.findall(r"(orders_gained|orders_lost)\s+(\d+)", output.text)}
    tour.shot("6-reattribution-run")
    changes = store.read_table("reattribution_changes")
    changes = changes[changes["run_id"] == run_id]
    assert set(changes["window_days"]) == {1} and set(changes["dry_run"]) == {True}
    assert counts == {
        "orders_gained": int((changes["change"] == "gained").sum()),
        "orders_lost": int((changes["change"] == "lost").sum()),
    }, counts
    assert counts["orders_gained"] + counts["orders_lost"] > 0  # a 1-day window loses the older chats
    after = store.read_table("attributed_orders", days=BACKFILL)  # a dry run publishes nothing
    assert (
        after.sort_values(["sales_channel", "order_id"])
        .reset_index(drop=True)
        .equals(before.sort_values(["sales_channel", "order_id"]).reset_index(drop=True))
    )

    # --- The late_data sensor: its tick history starts on the first screen
    tour.nav("Automation")
    tour.link("late_data")
    first_tick = tour.element("(//button[normalize-space()='View logs'])[1]", RUN_WAIT)
    top = browser.execute_script("return arguments[0].getBoundingClientRect().bottom", first_tick)
    assert browser.execute_script("return window.innerHeight") == HEIGHT
    assert top <= HEIGHT, f"the first tick ends {top:.0f} px down, below the first screen ({HEIGHT} px)"
    cursor = tour.wait(_text("//tr[td[1][normalize-space()='Cursor']]/td[2]"), what="the cursor")
    assert len(cursor) < 300, cursor  # a short cursor, not screens of it
    tour.shot("7-sensor")
    tour.button("View logs")  # the latest tick's log says what it saw
    log = tour.element(
        "(//*[starts-with(normalize-space(), 'Logs for late_data')])[last()]"
        "/ancestor::*[.//button[normalize-space()='Done']][1]"
    )
    tour.wait(lambda d: "INFO" in log.text, what="a line of the tick's log")
    tour.shot("8-sensor-tick-log")
    tour.button("Done")

    # --- The tour in the docs uses the names the UI showed
    doc = (ROOT / "docs" / "ui-tour.md").read_text()
    missing = sorted(
        label
        for label in tour.labels
        | {
            "Global asset lineage",
            "Show all partitions",
            "Backfill history",
            "Succeeded",
            "Filter by name…",
            "Metadata",
            "STEP_OUTPUT",
            "orders_gained",
            "orders_lost",
            "Logs for late_data",
        }
        if f"**{label}**" not in doc and f"`{label}`" not in doc
    )
    assert not missing, f"docs/ui-tour.md does not name {missing}"
