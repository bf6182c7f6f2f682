"""Headless Chromium through Selenium, with the system's chromedriver (nothing is
downloaded), and strokes drawn on the page's canvas as pointer events."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1180,900",
)


def find_browser() -> tuple[str, str] | None:
    """(chromium, chromedriver) paths, or None where either is missing."""
    browser = next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def start_chromium(browser: str, driver: str, profile_dir: str | None = None):
    """A Selenium WebDriver on a fresh profile; the caller quits it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for flag in FLAGS:
        opts.add_argument(flag)
    profile = profile_dir or tempfile.mkdtemp(prefix="barenet-chromium-")
    opts.add_argument(f"--user-data-dir={profile}")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=driver), options=opts)


def draw(drv, strokes: list[list[tuple[float, float]]]) -> None:
    """Draw ``strokes`` on the page's canvas: each a list of (x, y) points given as
    fractions of the canvas (0..1), pressed at the first point and released at the last."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    pad = drv.find_element(By.ID, "pad")
    w, h = pad.size["width"], pad.size["height"]

    def at(p):  # offsets from the element's centre, as Selenium 4 takes them
        return int((p[0] - 0.5) * w), int((p[1] - 0.5) * h)

    for stroke in strokes:
        chain = ActionChains(drv, duration=10)
        chain.move_to_element_with_offset(pad, *at(stroke[0])).click_and_hold()
        for p in stroke[1:]:
            chain.move_to_element_with_offset(pad, *at(p))
        chain.release().perform()


def save_screenshot(drv, path: str | Path) -> Path:
    path = Path(path)
    path.write_bytes(drv.get_screenshot_as_png())
    return path
