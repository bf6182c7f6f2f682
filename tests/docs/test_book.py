"""The built book in a real browser: headless Chromium opens every page of the site that
``mkdocs build --strict`` wrote and checks what a reader would see — no console errors,
math typeset, every image loaded, nothing fetched from outside the site, internal links
that resolve, and a search that finds ``col2im``.

The site is not built here (the build runs every executed block of the book, minutes of
work): ``.ci/run`` builds it once after the test suite and then runs this file against it.
Without a built site (``site/`` at the repository root, or ``$BARENET_BOOK_SITE``) these
tests skip with that reason; without Chromium and chromedriver they skip too.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import threading
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

import pytest

from serve.browser import find_browser, save_screenshot, start_chromium

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
# What typesetting leaves behind when it fails: TeX delimiters and commands as text.
RAW_MATH = re.compile(r"\$\$|\\frac|\\sum|\\mathrm|\\\(|\\\[")
# The page's text without code, scripts and typeset math.
VISIBLE_TEXT = """
const copy = document.querySelector('article').cloneNode(true);
copy.querySelectorAll('pre, code, script, style, mjx-container, details:not([open])')
    .forEach(e => e.remove());
return copy.textContent;
"""


def site_dir() -> Path:
    return Path(os.environ.get("BARENET_BOOK_SITE", REPO / "site"))


def page_paths(site: Path) -> list[str]:
    """Every page of the site as a URL path ("", "tutorials/mlp/", ...)."""
    pages = []
    for html in sorted(site.rglob("index.html")):
        rel = html.parent.relative_to(site).as_posix()
        if not rel.startswith(("assets", "search")):
            pages.append("" if rel == "." else rel + "/")
    return pages


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    """(driver, base URL, site folder) with the built site served on a free local port."""
    site = site_dir()
    if not (site / "index.html").is_file():
        pytest.skip(f"no built book at {site}: run `mkdocs build --strict` first")
    pytest.importorskip("selenium")
    found = find_browser()
    if found is None:
        pytest.skip("chromium and chromedriver are not installed")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    drv = start_chromium(*found, str(tmp_path_factory.mktemp("chromium-profile")))
    try:
        drv.set_page_load_timeout(60)
        yield drv, f"http://127.0.0.1:{server.server_address[1]}/", site
    finally:
        drv.quit()
        server.shutdown()
        server.server_close()
        thread.join(5)


def open_page(drv, url: str) -> None:
    """Load ``url`` and wait until MathJax has typeset it (pages with math)."""
    from selenium.webdriver.support.ui import WebDriverWait

    drv.get(url)
    WebDriverWait(drv, 60).until(
        lambda d: d.execute_script(
            "return document.readyState === 'complete' && "
            "(!document.querySelector('.arithmatex') || document.body.dataset.mathTypeset === '1')"
        )
    )


def test_the_site_has_every_chapter(book):
    _, _, site = book
    pages = page_paths(site)
    for chapter in ("mlp", "augmentation", "convolution", "batchnorm-dropout", "kaggle",
                    "deep-cnn", "beyond"):
        assert f"tutorials/{chapter}/" in pages
    assert len([p for p in pages if p.startswith("reference/")]) >= 8


def test_every_page_reads_as_it_should(book, tmp_path):
    drv, base, site = book
    problems: dict[str, list[str]] = {}
    for path in page_paths(site):
        open_page(drv, base + path)
        found = []
        errors = [e["message"] for e in drv.get_log("browser") if e["level"] == "SEVERE"]
        found += [f"console error: {m[:200]}" for m in errors]
        raw = RAW_MATH.search(drv.execute_script(VISIBLE_TEXT))
        if raw:
            found.append(f"untypeset math: {raw.group(0)!r}")
        if drv.execute_script("return document.querySelectorAll('.arithmatex').length") and not (
            drv.execute_script("return document.querySelectorAll('mjx-container').length")
        ):
            found.append("math spans but no typeset formula")
        broken = drv.execute_script(
            "return [...document.images].filter(i => !i.complete || i.naturalWidth === 0)"
            ".map(i => i.alt || i.src.slice(0, 80))"
        )
        found += [f"image did not load: {b}" for b in broken]
        outside = drv.execute_script(
            "return performance.getEntriesByType('resource').map(r => r.name)"
            ".filter(n => !n.startsWith(location.origin) && !n.startsWith('data:'))"
        )
        found += [f"fetched from outside the site: {u}" for u in outside]
        if found:
            save_screenshot(drv, tmp_path / f"{path.replace('/', '_') or 'index'}.png")
            problems[path or "index"] = found
    assert not problems, problems


def _ids(html_file: Path) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', html_file.read_text(encoding="utf-8")))


def test_internal_links_resolve(book):
    drv, base, site = book
    bad = []
    for path in page_paths(site):
        html = (site / path / "index.html").read_text(encoding="utf-8")
        for href in re.findall(r'<a\b[^>]*\bhref="([^"]+)"', html):
            if urlsplit(href).scheme or href.startswith(("mailto:", "//")):
                continue
            target, anchor = urldefrag(href)
            page = (site / path / unquote(target)).resolve() if target else site / path
            if page.is_dir() or not page.suffix:
                page = page / "index.html"
            if not page.is_file():
                bad.append(f"{path or 'index'}: {href} (no such file)")
            elif anchor and page.suffix == ".html" and unquote(anchor) not in _ids(page):
                bad.append(f"{path or 'index'}: {href} (no such anchor)")
    assert not bad, bad[:20]


def test_search_finds_col2im(book):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    drv, base, _ = book
    open_page(drv, base)
    drv.find_element(By.CSS_SELECTOR, "label.md-search__icon, .md-search__input").click()
    box = drv.find_element(By.CSS_SELECTOR, "input.md-search__input")
    WebDriverWait(drv, 30).until(lambda d: box.is_displayed())
    box.send_keys("col2im")
    results = WebDriverWait(drv, 60).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".md-search-result__item")
    )
    text = " ".join(r.text for r in results).lower()
    assert "col2im" in text
    links = [a.get_attribute("href") for a in drv.find_elements(
        By.CSS_SELECTOR, ".md-search-result__item a")]
    assert any("convolution" in h or "reference" in h for h in links), links
