"""The built HTML book in a real headless Chromium, served on localhost.

Needs the book built (`make book`) and Chromium (`make setup` installs Debian's package
when it is missing and it can). Where either is absent these tests are skipped, except
under CI (`CI=true`), where that is a failure.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [  # no sandbox as root; no background traffic to the closed network
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
PAGES = [TOC["root"]] + [c["file"] for part in TOC["parts"] for c in part["chapters"]]
CHAPTERS = [p for p in PAGES if p.startswith("chapters/")]


def _missing() -> str | None:
    if not (HTML / "index.html").exists():
        return "the book is not built (run `make book`)"
    if not Path(CHROMIUM).exists():
        return "Chromium is not installed (run `make setup` as root, or apt-get install chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -r requirements.txt)"
    return None


if (reason := _missing()) is not None:
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"browser tests cannot run under CI: {reason}")
    pytest.skip(reason, allow_module_level=True)

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site():
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


class Visit:
    """A page loaded in a fresh tab, with everything that went wrong on the way."""

    def __init__(self, browser: Browser, url: str) -> None:
        self.page: Page = browser.new_page()
        self.errors: list[str] = []
        self.failed: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("requestfailed", lambda r: self.failed.append(r.url))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.response = self.page.goto(url, wait_until="networkidle")


@pytest.fixture(params=PAGES)
def visit(request, browser, site):
    v = Visit(browser, f"{site}/{request.param}.html")
    v.name = request.param
    yield v
    v.page.close()


def test_page_loads_without_errors_or_outside_requests(visit):
    assert visit.response is not None and visit.response.status == 200
    assert visit.errors == []
    assert visit.failed == []
    outside = [u for u in visit.requests if urlparse(u).hostname not in ("127.0.0.1", None)]
    assert outside == [], "the page fetched something from outside the book"


def test_images_load_and_carry_alt_text(visit):
    images = visit.page.eval_on_selector_all(
        "article img",
        "els => els.map(e => ({src: e.getAttribute('src'), alt: e.getAttribute('alt') || '',"
        " ok: e.complete && e.naturalWidth > 0}))",
    )
    for image in images:
        assert image["ok"], f"broken image {image['src']}"
        assert not image["src"].startswith(("http://", "https://")), f"remote image {image['src']}"
        assert len(image["alt"]) > 20, f"image without alt text: {image['src']}"
    if visit.name in CHAPTERS:
        assert images, "a chapter with no figure"


def test_math_is_rendered(visit):
    page = visit.page
    if page.locator("article .math").count() == 0:
        pytest.skip("no math on this page")
    page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise")
    page.evaluate("MathJax.startup.promise")
    assert page.locator("article mjx-container").count() >= page.locator("article .math").count()
    text = page.inner_text("article")
    assert "$$" not in text and "\\(" not in text and "\\[" not in text


@pytest.mark.parametrize("name", PAGES)
def test_page_fits_a_phone_screen(name, browser, site):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(f"{site}/{name}.html", wait_until="networkidle")
    # wide code, tables and math scroll inside their own boxes; the page itself must not
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.close()


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_launch_and_download_links(chapter, browser, site):
    visit = Visit(browser, f"{site}/{chapter}.html")
    repo = CONFIG["repository"]["url"].removeprefix("https://github.com/")
    links = visit.page.eval_on_selector_all("a", "els => els.map(e => e.href)")
    assert f"https://colab.research.google.com/github/{repo}/blob/main/{chapter}.ipynb" in links
    assert f"https://mybinder.org/v2/gh/{repo}/main?urlpath=tree/{chapter}.ipynb" in links
    assert (ROOT / f"{chapter}.ipynb").exists()
    download = f"{site}/_sources/{chapter}.ipynb"
    assert visit.page.request.get(download).status == 200
    visit.page.close()


def test_search_finds_a_term(browser, site):
    visit = Visit(browser, f"{site}/search.html?q=vanishing")
    visit.page.wait_for_selector("#search-results li", timeout=15000)
    results = visit.page.inner_text("#search-results")
    assert "gradient" in results.lower()
    assert visit.errors == []
    visit.page.close()


@pytest.fixture(scope="module")
def demo(browser, site):
    visit = Visit(browser, f"{site}/chapters/06_autocomplete.html")
    visit.page.wait_for_selector("#autocomplete-demo[data-ready=true]", timeout=15000)
    yield visit
    visit.page.close()


def ask(page: Page, model: str, prefix: str, k: int) -> tuple[list[tuple[str, float]], str]:
    page.select_option("#ac-model", model)
    page.fill("#ac-k", str(k))
    page.fill("#ac-prefix", prefix)
    rows = page.eval_on_selector_all(
        "#ac-table tbody tr", "rows => rows.map(r => [r.dataset.word, Number(r.dataset.probability)])"
    )
    return [(word, p) for word, p in rows], page.inner_text("#ac-note")


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_demo_answers_like_the_python_model(demo, cell):
    from helpers import SEED_SENTENCES, seed_autocomplete

    python_model, _ = seed_autocomplete(cell)
    for sentence in SEED_SENTENCES:
        prefix = sentence.rsplit(" ", 1)[0]
        shown, note = ask(demo.page, cell, prefix, k=3)
        expected = list(python_model.suggest(prefix, k=3))
        assert [w for w, _ in shown] == [w for w, _ in expected], prefix
        assert shown[0][0] == sentence.split()[-1]  # the seed's answer
        for (_, p_js), (_, p_py) in zip(shown, expected):
            assert abs(p_js - p_py) < 1e-4, (prefix, p_js, p_py)
        assert note == ""
    assert demo.errors == []


def test_demo_handles_bad_input(demo):
    from helpers import seed_autocomplete

    rows, note = ask(demo.page, "rnn", "he liks", k=3)
    assert rows == [] and "'he', 'liks'" in note and "9 words" in note
    rows, note = ask(demo.page, "rnn", "  ?! ", k=3)
    assert rows == [] and "no words" in note
    rows, note = ask(demo.page, "lstm", "I, YOU  like!", k=2)  # case, punctuation, too long
    expected = seed_autocomplete("lstm")[0].suggest("you like", k=2)
    assert [w for w, _ in rows] == expected.words
    assert "dropped: i" in note
    assert demo.errors == []
