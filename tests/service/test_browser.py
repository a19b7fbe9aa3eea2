"""The page at / in a real headless Chromium (Debian's chromium + chromium-driver, driven by
selenium with that driver: nothing is downloaded). It loads the plan of a real ``rrl serve``,
posts a rush order through the form, and sees the new version and the repair's steps."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from rrl.storage import Store
from tests.conftest import SCENARIOS
from tests.service.test_server import Server

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (make test installs it)")

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    if not (os.path.exists(CHROMEDRIVER) and os.path.exists(CHROMIUM)):
        pytest.skip("Debian's chromium and chromium-driver are not installed (make test installs them)")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # selenium-manager must never fetch a driver or a browser
    profile = tempfile.mkdtemp(prefix="rrl-chromium-")
    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", f"--user-data-dir={profile}", "--window-size=1400,1100"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_page_posts_a_rush_order_and_shows_the_repair(browser, tmp_path: Path, policy_dir: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    url = f"sqlite:///{tmp_path / 'page.db'}"
    Store(url).init()
    server = Server(url, tmp_path / "serve.log", policy=policy_dir)
    try:
        scenario = yaml.safe_load((SCENARIOS / "extruders.yaml").read_text())
        created = httpx.post(f"{server.base}/api/scenarios", json=scenario, timeout=60)
        assert created.status_code == 201
        driver = browser
        wait = WebDriverWait(driver, 30)
        driver.get(server.base + "/")
        wait.until(ec.text_to_be_present_in_element((By.ID, "version"), "1"))
        bars = driver.find_elements(By.CSS_SELECTOR, "#gantt g.order")
        assert len(bars) == len(scenario["orders"])
        assert driver.find_elements(By.CSS_SELECTOR, "#gantt rect.cleanout")
        assert driver.find_elements(By.CSS_SELECTOR, "#gantt rect.bar.tardy")
        assert driver.find_element(By.ID, "kpi-tardiness").text.endswith(" h")
        assert len(driver.find_elements(By.CSS_SELECTOR, "#history tbody tr")) == 1

        Select(driver.find_element(By.ID, "event-type")).select_by_value("rush_order")
        Select(driver.find_element(By.ID, "product")).select_by_value("B")
        driver.find_element(By.ID, "size").send_keys("400")
        driver.find_element(By.ID, "due").send_keys("5")
        driver.find_element(By.ID, "post-event").click()

        wait.until(ec.text_to_be_present_in_element((By.ID, "version"), "2"))
        wait.until(ec.text_to_be_present_in_element((By.ID, "message"), "version 2"))
        stored = httpx.get(f"{server.base}/api/scenarios/1/versions/2", timeout=30).json()
        assert stored["event"]["type"] == "rush_order"
        assert stored["event"]["order"] == {"id": "new1", "product": "B", "size": 400.0, "due": 5.0, "important": True}
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#gantt g.order")) == len(scenario["orders"]) + 1)
        assert driver.find_elements(By.CSS_SELECTOR, '#gantt g.order.focus[data-order="new1"]')
        steps = driver.find_elements(By.CSS_SELECTOR, "#steps li.step")
        assert len(steps) == len(stored["steps"]) >= 1
        for shown, step in zip(steps, stored["steps"], strict=True):
            assert step["operator"] in shown.text
            assert "predict(Value)" in step["rule"]
        _shows_each_rule_once(steps, stored["steps"])
        assert len(driver.find_elements(By.CSS_SELECTOR, "#history tbody tr")) == 2
        assert len(driver.find_elements(By.CSS_SELECTOR, "#trend circle")) == 2
        errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        assert not errors, errors
        shot = os.environ.get("RRL_PAGE_SCREENSHOT")
        if shot:
            driver.save_screenshot(shot)

        # A refused event shows its one-line error and stores nothing.
        Select(driver.find_element(By.ID, "event-type")).select_by_value("breakdown")
        driver.find_element(By.ID, "at").send_keys("1")
        driver.find_element(By.ID, "duration").send_keys("-3")
        driver.execute_script("document.getElementById('duration').removeAttribute('min')")
        driver.find_element(By.ID, "post-event").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "message"), "duration"))
        assert "error" in driver.find_element(By.ID, "message").get_attribute("class")
        assert len(httpx.get(f"{server.base}/api/scenarios/1/versions", timeout=30).json()) == 2

        # A walk's steps show the focus rule each order meets (a node limit: this case is
        # repaired by a walk on any machine).
        second = httpx.post(f"{server.base}/api/scenarios", json=scenario, timeout=60).json()["id"]
        posted = httpx.post(f"{server.base}/api/scenarios/{second}/events",
                            json={"event": "rush_order", "seed": 1, "node_limit": 20}, timeout=60)
        assert posted.status_code == 200, posted.text
        stored = httpx.get(f"{server.base}/api/scenarios/{second}/versions/2", timeout=30).json()
        assert any(step["meets"] for step in stored["steps"])
        driver.get(f"{server.base}/?scenario={second}")
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#steps li.step")) == len(stored["steps"]))
        shown = driver.find_elements(By.CSS_SELECTOR, "#steps li.step")
        _shows_each_rule_once(shown, stored["steps"])
        # (the walk's steps share its focus rule: shown once, then pointed back to)
        assert "(as in step 1)" in shown[-1].text
    finally:
        server.stop()


def _shows_each_rule_once(shown: list, steps: list[dict]) -> None:
    """Each step shows its focus rule, the focus rule its order meets (a walk's step) and
    the policy's rule: each text in full at the first step that has it, later steps
    "(as in step N)"."""
    from selenium.webdriver.common.by import By

    first: dict[str, int] = {}
    for k, (element, step) in enumerate(zip(shown, steps, strict=True), start=1):
        said = f'{step["focal"]} meets the background rule for "{step["meets"]}"'
        assert (said in element.text) == bool(step["meets"])
        assert ("meets the background rule" in element.text) == bool(step["meets"])
        expected = []
        for kind, text in (("focus-rule", step["focus_rule"] if step["focus_reason"] else ""),
                           ("meets-rule", step["meets_rule"] if step["meets"] else ""), ("rule", step["rule"])):
            if text:
                owner = first.setdefault(text, k)
                expected.append((kind, text if owner == k else f"(as in step {owner})"))
            elif kind == "rule":  # (no learned policy: said at every step, not a rule to point back to)
                expected.append((kind, "no learned policy: the candidate of lowest total tardiness"))
        blocks = element.find_elements(By.CSS_SELECTOR, "pre, div.again")
        kinds = ["meets-rule" if "meets-rule" in b.get_attribute("class") else
                 "focus-rule" if "focus-rule" in b.get_attribute("class") else "rule" for b in blocks]
        assert list(zip(kinds, [b.text for b in blocks], strict=True)) == expected, k
