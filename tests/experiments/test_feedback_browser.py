"""The feedback-loop page in a real browser (headless Chromium): the static page offline, and
the live app on localhost. Skipped with what to install where Chromium or Selenium is missing;
CI installs them and sets NOVELTYGYM_REQUIRE_BROWSER=1 so a missing browser fails instead."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from experiments.feedback_page import controls
from tests.experiments.browser import browser, buttons, console_errors, source_data, view_element, wait_for
from tests.experiments.conftest import tiny_args

pytestmark = pytest.mark.browser
CHARTS = ["chart_interest_entropy", "chart_novel_cumulative", "chart_homogenization", "chart_watch_time",
          "journey_chart_base", "journey_chart_run"]


@pytest.fixture
def driver():
    d = browser()
    yield d
    d.quit()


def shown(driver) -> tuple:
    """What the charts plot now: the series and both journeys."""
    return tuple(repr(source_data(driver, name)) for name in ("metrics", "journey_run", "journey_base"))


def test_static_page_works_offline_and_every_control_changes_the_charts(tiny_page: Path, driver) -> None:
    pytest.importorskip("bokeh")
    driver.get(tiny_page.as_uri())
    wait_for(lambda: driver.execute_script("return window.Bokeh && Bokeh.documents.length"), what="BokehJS")
    for name in CHARTS:
        el = wait_for(lambda name=name: view_element(driver, name), what=name)
        assert el.is_displayed() and el.size["width"] > 100 and el.size["height"] > 100, name
    # Each control through all its buttons and back, the others at the page's defaults (30 %, the
    # language model, retraining on), where every button shows another run.
    for control, (_, labels, _) in controls().items():
        group = buttons(driver, control)
        assert [b.text for b in group] == labels
        start = next(b for b in group if "bk-active" in b.get_attribute("class"))
        for button in [*(b for b in group if b != start), start]:
            before = shown(driver)
            button.click()
            wait_for(lambda before=before: shown(driver) != before, timeout=5,
                     what=f"the charts to change after clicking {button.text!r}")
    buttons(driver, "share")[0].click()  # no exploration: the setting is exploitation only
    data = wait_for(lambda: source_data(driver, "metrics") if "Exploitation only" in view_element(
        driver, "summary").text else None, timeout=5, what="exploitation only")
    assert data["novel_cumulative"] == data["novel_cumulative_base"]
    assert console_errors(driver) == []
    driver.save_screenshot(str(tiny_page.with_name("page_runs") / "screenshot.png"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_live_app_answers_on_localhost_and_reruns_on_a_control_change(tmp_path: Path, driver) -> None:
    pytest.importorskip("bokeh")
    port = _free_port()
    cmd = [sys.executable, "-m", "experiments", "demo", "feedback-loop", "--serve", "--port", str(port),
           "--out", str(tmp_path / "live"), "--quiet", *tiny_args()]
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []  # drained by a thread, so the server never blocks on a full pipe
    reader = threading.Thread(target=lambda: output.extend(server.stdout), daemon=True)
    reader.start()
    try:
        line = wait_for(lambda: _serving(server, output), timeout=180, what="the live app to start")
        assert f"http://127.0.0.1:{port}/" in line
        driver.get(f"http://127.0.0.1:{port}/")
        wait_for(lambda: source_data(driver, "journey_run")["step"], what="the live charts")
        before = shown(driver)
        random_button = buttons(driver, "chooser")[1]
        assert random_button.text == "at random"
        random_button.click()
        wait_for(lambda: shown(driver) != before, timeout=60, what="the live charts to rerun")
        assert "picked at random" in view_element(driver, "summary").text
        assert console_errors(driver) == []
        driver.save_screenshot(str(tmp_path / "live" / "screenshot.png"))
    finally:
        server.terminate()
        server.wait(timeout=30)
        reader.join(timeout=10)
        server.stdout.close()


def _serving(server: subprocess.Popen, output: list[str]) -> str | None:
    if server.poll() is not None:
        pytest.fail(f"the live app exited with {server.returncode}:\n{''.join(output)}")
    return next((line for line in output if "serving the live feedback-loop page" in line), None)
