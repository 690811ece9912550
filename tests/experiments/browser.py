"""A headless Chromium for the page tests (Debian's ``chromium`` and ``chromium-driver`` with
Selenium): ``browser()`` skips the test with what to install when one is missing, or fails it
when ``NOVELTYGYM_REQUIRE_BROWSER=1`` (CI, where a skip would hide a broken page)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from typing import Any

import pytest

INSTALL = ("browser tests need Chromium and Selenium: apt-get install chromium chromium-driver "
           "(as root) and pip install -e '.[teach,browser]'")

# Finds the element of the Bokeh view of the model called NAME (views nest; each
# widget draws inside its own shadow DOM).
FIND_VIEW = """
const seen = new Set();
function find(v) {
  if (!v || seen.has(v)) return null;
  seen.add(v);
  if (v.model && v.model.name === NAME) return v;
  for (const c of (v.children ? v.children() : [])) { const f = find(c); if (f) return f; }
  return null;
}
for (const root of Bokeh.index.roots) { const f = find(root); if (f) return f.el; }
return null;
"""


def _unavailable() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed"
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        return "chromium or chromedriver is not on PATH"
    return None


def browser() -> Any:
    missing = _unavailable()
    if missing:
        if os.environ.get("NOVELTYGYM_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{missing}; {INSTALL}")
        pytest.skip(f"{missing}; {INSTALL}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1000,1900"):
        opts.add_argument(arg)
    opts.binary_location = shutil.which("chromium")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "the page") -> Any:
    """Poll ``condition`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            value = condition()
        except Exception:  # the page may still be loading
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def view_element(driver: Any, name: str) -> Any:
    """The element a Bokeh model named ``name`` is drawn in."""
    return driver.execute_script(FIND_VIEW.replace("NAME", repr(name)))


def buttons(driver: Any, control: str) -> list[Any]:
    host = wait_for(lambda: view_element(driver, f"control_{control}"), what=f"the {control} control")
    return host.shadow_root.find_elements("css selector", "button")


def source_data(driver: Any, name: str) -> dict[str, list]:
    return driver.execute_script(f"return Bokeh.documents[0].get_model_by_name({name!r}).data")


def console_errors(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


if __name__ == "__main__":  # python -m tests.experiments.browser PAGE.html OUT.png: the README's screenshot
    import sys
    from pathlib import Path

    page, out = Path(sys.argv[1]).resolve(), sys.argv[2]
    driver = browser()
    try:
        driver.get(page.as_uri())
        wait_for(lambda: view_element(driver, "journey_chart_run"), what="the page")
        time.sleep(1)  # let the canvases paint
        driver.save_screenshot(out)
    finally:
        driver.quit()
    print(out)
