"""The ``catalog_backfill`` trigger form in a real browser, against a real Airflow.

Headless Chromium (through Selenium and the Debian ``chromedriver``) opens the DAG in
the Airflow UI served by ``airflow api-server``, fills the trigger form once per
selection (listed SKUs, one category, a date range, everything) and submits it; the
scheduler runs each run through the LocalExecutor. Each run must succeed, carry what was
typed as its conf, and have processed exactly the products its selection names.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.airflow_servers import api_url, running_airflow, wait_for_http
from tests.catalog_fixture import Catalog

pytestmark = pytest.mark.integration
DAG_ID = "catalog_backfill"
TIMEOUT_S = 600
CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
if CHROMIUM is None or CHROMEDRIVER is None:
    pytest.skip(
        "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )

from selenium.webdriver.common.by import By  # noqa: E402 (after the skip)
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

PICKER_INPUTS = ("YYYY/MM/DD", "HH:mm")  # the inputs of a date-time picker's popover
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1400,2000")  # fmt: skip


@pytest.fixture
def browser(tmp_path):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(dir=tmp_path)}")
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


class TriggerForm:
    """The UI's "Trigger Dag" dialog of one DAG, driven the way a user fills it."""

    def __init__(self, driver, base_url: str):
        self.driver, self.base_url = driver, base_url
        self.wait = WebDriverWait(driver, 60)

    def _button(self, text: str):
        xpath = f"//button[normalize-space()='{text}']"
        return self.wait.until(ec.element_to_be_clickable((By.XPATH, xpath)))

    def open(self) -> None:
        self.driver.get(f"{self.base_url}/dags/{DAG_ID}")
        self._button("Trigger").click()
        self.wait.until(ec.visibility_of_element_located((By.XPATH, "//*[text()='Single Run']")))

    def section(self, title: str) -> None:
        self._button(title).click()

    def choose(self, name: str, label: str) -> None:
        self.driver.find_element(By.ID, f"element_{name}").click()
        option = f"//*[@id='element_{name}']//*[normalize-space()='{label}']"
        self.wait.until(ec.element_to_be_clickable((By.XPATH, option))).click()

    def type(self, name: str, text: str) -> None:
        self.driver.find_element(By.ID, f"element_{name}").send_keys(text)

    def switch_on(self, name: str) -> None:
        """Click the switch until its checkbox reads checked (the UI may apply it late);
        a click that raised nothing is given 10 s to show before the next one."""
        from selenium.common.exceptions import (
            ElementClickInterceptedException,
            NoSuchElementException,
            StaleElementReferenceException,
            TimeoutException,
        )

        deadline, error = time.monotonic() + 60, None
        while time.monotonic() < deadline:
            try:
                box = self.driver.find_element(By.NAME, f"element_{name}")
                if box.is_selected():
                    return
                switch = box.find_element(By.XPATH, "..")
                self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", switch)
                switch.click()
                # wait for this click to show before clicking again (a second would undo
                # it), by name: a re-render replaces the element the click went to
                WebDriverWait(
                    self.driver, 10, ignored_exceptions=(StaleElementReferenceException,)
                ).until(ec.element_located_to_be_selected((By.NAME, f"element_{name}")))
                return
            except ElementClickInterceptedException as exc:  # a picker or toast still closing
                error = exc.msg
                active = self.driver.switch_to.active_element
                # Escape only inside a date-time picker: on the dialog it closes the form
                if active.get_attribute("placeholder") in PICKER_INPUTS:
                    active.send_keys(Keys.ESCAPE)
            except (StaleElementReferenceException, NoSuchElementException) as exc:
                error = exc.msg  # the form re-rendered: find it again
            except TimeoutException:
                error = "clicked, but the switch still read off 10 s later"
            time.sleep(0.5)
        pytest.fail(f"could not switch on {name!r}: {error}")

    def date_time(self, label: str, when: datetime) -> None:
        """Type ``when`` (UTC, the UI's time zone here) into a date-time picker."""
        xpath = f"//*[normalize-space()='{label}']/following::*[@data-testid='datetime-input'][1]"
        self.driver.find_element(By.XPATH, xpath).click()
        day = self.wait.until(
            ec.visibility_of_element_located(
                (By.CSS_SELECTOR, f"input[placeholder='{PICKER_INPUTS[0]}']")
            )
        )
        day.send_keys(Keys.CONTROL, "a")
        day.send_keys(when.strftime("%Y/%m/%d"))
        clock = self.driver.find_element(
            By.CSS_SELECTOR, f"input[placeholder='{PICKER_INPUTS[1]}']"
        )
        clock.send_keys(Keys.CONTROL, "a")
        clock.send_keys(when.strftime("%H:%M"))
        clock.send_keys(Keys.ESCAPE)
        shown = self.driver.find_element(By.XPATH, xpath).text
        assert shown == when.strftime("%b %d, %Y %H:%M"), (label, shown)

    def submit(self) -> None:
        dialog = "//*[@role='dialog']//button[normalize-space()='Trigger']"
        self.driver.find_element(By.XPATH, dialog).click()
        self.wait.until(ec.invisibility_of_element_located((By.XPATH, dialog)))


def _runs() -> dict[str, tuple]:
    """``catalog_backfill`` runs by their ``selection`` conf: (state, conf)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(DagRun.state, DagRun.conf).where(DagRun.dag_id == DAG_ID)
        ).all()
    return {conf.get("selection"): (str(state), conf) for state, conf in rows}


def _wait_for(count: int, logs) -> dict[str, tuple]:
    deadline = time.monotonic() + TIMEOUT_S
    runs: dict = {}
    while time.monotonic() < deadline:
        runs = _runs()
        if len(runs) == count and all(s in ("success", "failed") for s, _ in runs.values()):
            return runs
        time.sleep(3)
    pytest.fail(f"runs did not finish: {runs}\n{(logs / 'scheduler.log').read_text()[-3000:]}")


def _processed(catalog: Catalog) -> dict[str, set[str]]:
    """The SKUs each committed backfill processed, by the selection it recorded."""
    rows = catalog.sql(
        "SELECT r.params->'selection', array_agg(i.sku) FROM enrichment.runs r "
        "JOIN enrichment.run_items i USING (run_id) "
        "WHERE r.kind = 'backfill' AND r.status = 'committed' GROUP BY r.run_id"
    )
    keys = ("skus", "category", "since")
    return {next((k for k in keys if k in sel), "all"): set(skus) for sel, skus in rows}


def test_each_selection_triggered_through_the_form_processes_what_it_names(
    platform_db, airflow_db, tmp_path, browser
):
    catalog = Catalog(platform_db)
    old = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=3)
    for sku, title, category, updated in (
        ("A", "Red cotton tee", "T-Shirts", old),
        ("B", "Blue cotton tee", "T-Shirts", old),
        ("C", "Green summer dress", "Dresses", old),
        ("D", "Black linen shirt", "Shirts", old - timedelta(days=7, hours=1)),
        ("E", "White linen shirt", "Shirts", old - timedelta(days=6)),
    ):
        catalog.add(sku, title, title.split()[0].lower(), category=category)
        catalog.sql("UPDATE catalog.products SET updated_at = %s WHERE sku = %s", (updated, sku))
    since, until = old - timedelta(days=8), old - timedelta(days=5)
    now = datetime.now(UTC).replace(second=0, microsecond=0)

    with running_airflow(tmp_path, AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True") as env:
        wait_for_http(f"{api_url(env)}/api/v2/monitor/health")
        form = TriggerForm(browser, api_url(env))
        # distinct logical dates (one run per logical date), all after the catalogue's changes
        selections = {
            "skus": lambda: form.type("skus", "A\nB"),
            "category": lambda: (
                form.choose("selection", "One category"),
                form.type("category", "dresses"),
            ),  # fmt: skip
            "updated_between": lambda: (
                form.choose("selection", "Products updated in a date range"),
                form.date_time("Updated since", since),
                form.date_time("Updated until", until),
            ),
            "all": lambda: form.choose("selection", "The whole catalogue"),
        }
        for minutes, (name, fill) in enumerate(selections.items(), start=1):
            form.open()
            form.date_time("Logical Date", now - timedelta(minutes=10 - minutes))
            form.section("Selection")
            fill()
            if name == "updated_between":
                browser.save_screenshot(str(tmp_path / "trigger-form.png"))
            form.section("Options")
            form.switch_on("force")
            form.submit()
        runs = _wait_for(len(selections), tmp_path)

    assert {name: state for name, (state, _) in runs.items()} == dict.fromkeys(
        selections, "success"
    ), (tmp_path / "scheduler.log").read_text()[-3000:]
    assert runs["skus"][1]["skus"] == ["A", "B"] and runs["category"][1]["category"] == "dresses"
    assert runs["updated_between"][1]["since"].startswith(since.strftime("%Y-%m-%dT%H:%M"))
    assert all(conf["force"] is True for _, conf in runs.values())
    assert _processed(catalog) == {
        "skus": {"A", "B"},
        "category": {"C"},
        "since": {"D", "E"},
        "all": {"A", "B", "C", "D", "E"},
    }
