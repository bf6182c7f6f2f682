"""The drawing page in a real browser: headless Chromium draws strokes on the canvas
and reads the model's answer from the page (skipped where Chromium is absent)."""

from __future__ import annotations

import numpy as np
import pytest

from .browser import draw, find_browser, save_screenshot, start_chromium
from .conftest import serving

pytestmark = pytest.mark.browser

VERTICAL = [[(0.3, 0.2), (0.3, 0.4), (0.31, 0.6), (0.31, 0.8)]]
HORIZONTAL = [[(0.2, 0.7), (0.45, 0.7), (0.6, 0.71), (0.8, 0.71)]]


@pytest.fixture(scope="module")
def page(lines_file, tmp_path_factory):
    """Chromium on the page of the lines model: (driver, By, wait(condition))."""
    pytest.importorskip("selenium")
    found = find_browser()
    if found is None:
        pytest.skip("chromium and chromedriver are not installed")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with serving(lines_file) as server:
        drv = start_chromium(*found, str(tmp_path_factory.mktemp("chromium-profile")))
        try:
            drv.get(server.url)
            wait = WebDriverWait(drv, 15).until
            wait(lambda d: d.execute_script("return document.body.dataset.ready") == "1")
            yield drv, By, wait
        finally:
            drv.quit()


def guess(drv, By) -> str:
    return drv.find_element(By.ID, "guess").text


def seen_brightness(drv) -> float:
    """Mean brightness of the "what the model sees" canvas, as the page drew it."""
    return drv.execute_script(
        "const c = document.getElementById('seen');"
        "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i];"
        "return s / (d.length / 4) / 255;"
    )


def test_page_describes_the_model(page):
    drv, By, wait = page
    assert drv.find_element(By.ID, "title").text == "Draw something"
    assert "vertical, horizontal" in drv.find_element(By.ID, "hint").text
    assert "lines" in drv.find_element(By.ID, "model-chip").text
    assert "8×8" in drv.find_element(By.ID, "seen-caption").text
    drv.find_element(By.ID, "clear").click()  # the page is shared: another test drew on it
    wait(lambda d: guess(d, By) == "?")


def test_drawing_a_stroke_shows_the_prediction(page, tmp_path):
    drv, By, wait = page
    drv.find_element(By.ID, "clear").click()
    draw(drv, VERTICAL)
    wait(lambda d: guess(d, By) == "vertical")
    wait(lambda d: "ms" in d.find_element(By.ID, "status").text)
    bars = drv.find_elements(By.CSS_SELECTOR, "#bars li .name")
    assert [b.text for b in bars[:2]] == ["vertical", "horizontal"]
    assert drv.find_element(By.ID, "conf").text.endswith("%")
    assert seen_brightness(drv) > 0.05  # the model's 8x8 input is drawn
    assert save_screenshot(drv, tmp_path / "page.png").stat().st_size > 10_000

    drv.find_element(By.ID, "clear").click()
    wait(lambda d: guess(d, By) == "?")
    assert seen_brightness(drv) < 0.1

    draw(drv, HORIZONTAL)
    wait(lambda d: guess(d, By) == "horizontal")


def test_uploading_an_image(page, tmp_path):
    Image = pytest.importorskip("PIL.Image")
    drv, By, wait = page
    drv.find_element(By.ID, "clear").click()
    img = np.zeros((64, 48), dtype=np.uint8)  # light ink on black, as MNIST stores digits
    img[8:56, 30:36] = 255
    path = tmp_path / "stroke.png"
    Image.fromarray(img).save(path)
    drv.find_element(By.ID, "upload").send_keys(str(path))
    wait(lambda d: guess(d, By) == "vertical")
    wait(lambda d: "light ink" in d.find_element(By.ID, "status").text)


def test_no_errors_in_the_console(page):
    drv, By, wait = page
    errors = [e for e in drv.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
