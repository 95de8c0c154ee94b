"""The built HTML book in a real headless Chromium, served on localhost.

Needs the book built (`make book`; or set BOOK_HTML_DIR to another built `html` folder) and Chromium (`make setup` installs Debian's package
when it is missing and it can). Where either is absent these tests are skipped, except
under CI (`CI=true`), where that is a failure.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML = Path(os.environ.get("BOOK_HTML_DIR", ROOT / "_build" / "html"))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [  # no sandbox as root; no background traffic to the closed network
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
PAGES = [TOC["root"]] + [c["file"] for part in TOC["parts"] for c in part["chapters"]]
CHAPTERS = [p for p in PAGES if p.startswith("chapters/")]
NUMBERED = [p for p in CHAPTERS if p[len("chapters/"):][:2].isdigit()]  # the chapters, not the appendix


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
    if visit.name in NUMBERED:
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
    rows, note = ask(demo.page, "rnn", "You LIKE Café", k=3)  # unknown words quoted as typed
    assert rows == [] and "'Café'" in note
    assert demo.errors == []


def test_demo_tokenizes_any_script_as_python(demo):
    from helpers.vocab import split_words

    texts = [
        "Éclair au café, très naïve! L\u2019eau",
        "Die Straße ist GROSS; die STRAẞE",
        "Iğdır'da ılık süt. İSTANBUL, ISPARTA",
        "순환 신경망은 기울기 소실, 장기 의존성!",
        "ΟΔΟΣ οδός; Ꭰꭰ; __init__ x² 3.14",
    ]
    got = demo.page.evaluate(
        "texts => texts.map(t => splitWords(t, window.BOOK_MODELS.rnn).map(w => [w.word, w.typed]))", texts
    )
    for text, words in zip(texts, got):
        assert [tuple(w) for w in words] == split_words(text), text
    rows, note = ask(demo.page, "rnn", "YOU like!!", k=1)
    assert [w for w, _ in rows] == ["cat"] and note == ""
    assert demo.errors == []


# ---------------------------------------------------------------- the Shakespeare demo
SHAKESPEARE_TEXTS = ["JULIET:\nO Rom", "ROMEO:\nBut soft, what light through yonder win", "KING RICHARD III:\nNow is the",
                     "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, spe", "O Romeo, Romeo! wherefore art thou"]  # fmt: skip
PROBABILITY_TOLERANCE = 1e-9  # the page and Python compute with the same dequantised weights in float64


@pytest.fixture(scope="module")
def shakespeare_python():
    """What the page must compute: the exported (int8) weights, dequantised, in float64."""
    from helpers.char_autocomplete import CharAutocomplete
    from helpers.char_export import read_script
    from helpers.charlm import CHECKPOINT_PATH

    export = read_script(HTML / "_static" / "demo" / "shakespeare-model.js")
    if export is None:
        assert not CHECKPOINT_PATH.is_file(), "the checkpoint exists but the book exported no Shakespeare model"
        pytest.skip("the Shakespeare model is not trained (make train), so the page has no demo")
    return CharAutocomplete.from_export(export)


@pytest.fixture(scope="module")
def shakespeare(browser, site, shakespeare_python):
    visit = Visit(browser, f"{site}/chapters/06_autocomplete.html")
    visit.page.wait_for_selector("#shakespeare-demo[data-ready=true][data-busy=false]", timeout=30000)
    yield visit
    visit.page.close()


def shakespeare_ask(page: Page, text: str, temperature: float = 0.8, seed: int = 0) -> dict:
    """Type into the demo as a reader would, wait for its answers, and read them."""
    page.fill("#sh-temperature", str(temperature))
    page.fill("#sh-seed", str(seed))
    page.fill("#sh-text", text)
    page.wait_for_selector("#shakespeare-demo[data-busy=false]", timeout=30000)
    rows = "rows => rows.map(r => [r.dataset.word, r.dataset.added, Number(r.dataset.probability)])"
    return {
        "complete": [tuple(r) for r in page.eval_on_selector_all("#sh-complete tbody tr", rows)],
        "next": [tuple(r) for r in page.eval_on_selector_all("#sh-next tbody tr", rows)],
        "note": page.inner_text("#sh-complete-note"),
        "error": page.inner_text("#sh-error"),
        "continuation": page.eval_on_selector("#sh-continuation", "e => e.textContent"),
    }


def same_words(shown: list[tuple], expected) -> None:
    assert [(w, a) for w, a, _ in shown] == [(c.word, c.added) for c in expected]
    for (_, _, p_js), c in zip(shown, expected):
        assert abs(p_js - c.probability) < PROBABILITY_TOLERANCE, (c.word, p_js, c.probability)


def test_shakespeare_demo_computes_what_python_computes(shakespeare, shakespeare_python):
    page, python = shakespeare.page, shakespeare_python
    for text in SHAKESPEARE_TEXTS:
        probs = page.evaluate("text => shakespeareDemo.nextCharProbabilities(text)", text)
        expected = python.next_char_probabilities(text).tolist()
        assert max(abs(a - b) for a, b in zip(probs, expected)) < PROBABILITY_TOLERANCE, text
        shown = shakespeare_ask(page, text)
        if text[-1].isalpha():
            same_words(shown["complete"], python.complete(text, k=5))
            assert len(shown["complete"]) == 5 and shown["note"] == ""
        else:
            assert shown["complete"] == [] and "not inside a word" in shown["note"]
        same_words(shown["next"], python.next_words(text, k=5))
        assert shown["continuation"] == python.continue_text(text, 160, temperature=0.8, seed=0).added
        assert shown["error"] == ""
    shown = shakespeare_ask(page, SHAKESPEARE_TEXTS[1], temperature=0, seed=5)
    assert shown["continuation"] == python.continue_text(SHAKESPEARE_TEXTS[1], 160, temperature=0).added
    shown = shakespeare_ask(page, SHAKESPEARE_TEXTS[1], temperature=1.3, seed=7)
    assert shown["continuation"] == python.continue_text(SHAKESPEARE_TEXTS[1], 160, temperature=1.3, seed=7).added
    assert shakespeare.errors == []


def test_shakespeare_demo_handles_bad_input(shakespeare, shakespeare_python):
    page = shakespeare.page
    for text, expected in [
        ("Rom\u00e9o", "1 character outside the model's alphabet: '\u00e9' (U+00E9) at position 3"),
        ("O \U0001f600 Rom\U0001f600", "2 characters outside the model's alphabet: '\U0001f600' (U+1F600) at positions 2, 7"),
        ("", "the text is empty"),
    ]:
        shown = shakespeare_ask(page, text)
        assert expected in shown["error"], shown["error"]
        assert shown["complete"] == shown["next"] == [] and shown["continuation"] == ""
        if text:
            assert "The model knows 65 characters: newline, space, !$&',-.3:;?, A-Z, a-z" in shown["error"]
            with pytest.raises(ValueError, match=re.escape(expected)):
                shakespeare_python.complete(text)
    shown = shakespeare_ask(page, "O Romeo, ")
    assert "the text ends with ' ', not inside a word" in shown["note"] and len(shown["next"]) == 5
    shown = shakespeare_ask(page, "O Rom", temperature=-1)
    assert "temperature must be 0 (greedy) or a positive finite number, got -1" in shown["error"]
    with pytest.raises(ValueError, match=re.escape("temperature must be 0 (greedy) or a positive finite number, got -1")):
        shakespeare_python.continue_text("O Rom", 10, temperature=-1)
    assert len(shown["complete"]) == 5 and shown["continuation"] == ""
    shown = shakespeare_ask(page, "O Romeo\u2019")  # the typographic apostrophe reads as the plain one
    assert shown["error"] == "" and [w for w, _, _ in shown["next"]] == shakespeare_python.next_words("O Romeo'", 5).words
    assert shakespeare.errors == []


@pytest.mark.parametrize("width", [390, 1280])
def test_shakespeare_demo_fits_phone_and_desktop(browser, site, shakespeare_python, width, tmp_path):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(f"{site}/chapters/06_autocomplete.html", wait_until="networkidle")
    page.wait_for_selector("#shakespeare-demo[data-ready=true][data-busy=false]", timeout=30000)
    page.fill("#sh-text", "ROMEO:\nBut soft, what light through yonder win")
    page.wait_for_selector("#shakespeare-demo[data-busy=false]", timeout=30000)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    box = page.eval_on_selector("#shakespeare-demo", "e => [e.scrollWidth, e.clientWidth, e.getBoundingClientRect().right]")
    assert box[0] <= box[1] and box[2] <= width, box
    assert page.locator("#sh-complete tbody tr").count() == 5 and page.locator("#sh-next tbody tr").count() == 5
    if os.environ.get("BOOK_SCREENSHOTS"):  # a folder to keep screenshots in, for people to look at
        page.locator("#shakespeare-demo").screenshot(path=f"{os.environ['BOOK_SCREENSHOTS']}/shakespeare-demo-{width}.png")
    page.close()


# ---------------------------------------------------------------- the LSTM scope
SCOPE_TEXTS = [  # text, cursor (None: the end), intervention (unit, value) or None
    ("ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\n", None, None),
    ("KING RICHARD III:\nNow is the winter of our discontent\nMade glorious summer by this sun of York;", 40, (113, 0.0)),
    ("O Romeo\u2019s name, that\u2019s the word", None, (7, 0.5)),  # non-ASCII: the typographic apostrophe
    ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n" * 3, 150, (300, -1.0)),
    ("a", None, None),
    ("JULIET:\nWhat's in a name? that which we call a rose\nBy any other name would smell as sweet;\nSo Romeo would", 12, (113, 0.8)),
]
SCOPE_REFUSED = ["Rom\u00e9o and Juliet", "O \U0001f600 Rom\U0001f600", ""]  # outside the alphabet, and empty
SCOPE_TOLERANCE = 1e-9


def scope_wait(page: Page, action) -> None:
    """Do something to the scope and wait until it has answered."""
    before = int(page.eval_on_selector("#lstm-scope", "e => Number(e.dataset.computed || 0)"))
    action()
    page.wait_for_function(f"Number(document.getElementById('lstm-scope').dataset.computed || 0) > {before}", timeout=30000)


@pytest.fixture(scope="module")
def scope(browser, site, shakespeare_python):
    visit = Visit(browser, f"{site}/chapters/06_autocomplete.html")
    visit.page.wait_for_selector("#lstm-scope[data-ready=true]", timeout=30000)
    yield visit
    visit.page.close()


def test_scope_computes_what_python_computes(scope, shakespeare_python):
    import numpy as np

    from helpers.scope import Intervention, read_scope

    largest = 0.0
    assert scope.page.evaluate("window.lstmScope.simd")  # Chromium runs the WebAssembly SIMD kernel
    for text, cursor, clamp in SCOPE_TEXTS:
        js = scope.page.evaluate("([t, c, k]) => lstmScope.read(t, c, k && {unit: k[0], value: k[1]})", [text, cursor, clamp])
        py = read_scope(shakespeare_python, text, cursor, Intervention(*clamp) if clamp else None)
        assert js["text"] == py.text and js["cursor"] == py.cursor and js["target"] == py.target, text
        for name in ("h", "c", "gates", "probabilities", "connectivity"):
            expected = getattr(py, name)
            difference = float(np.abs(np.reshape(js[name], expected.shape) - expected).max())
            assert difference < SCOPE_TOLERANCE, (text, name, difference)
            largest = max(largest, difference)
        assert js["greedy"] == py.greedy, text
        assert py.connectivity.max() > 1e-3  # the gradient is not vanishingly small: the comparison means something
        if clamp:
            assert (py.h[:, clamp[0]] == clamp[1]).all()
    for text in SCOPE_REFUSED:
        message = scope.page.evaluate("t => lstmScope.read(t).error", text)
        with pytest.raises(ValueError) as info:
            read_scope(shakespeare_python, text)
        assert message == str(info.value)
    print(f"\nlargest difference between the page's scope and Python: {largest:.1e}")
    assert scope.errors == []


def scope_rows(page: Page) -> list[dict]:
    return page.eval_on_selector_all("#sc-top tbody tr", "rows => rows.map(r => ({...r.dataset}))")


def test_scope_page_shows_units_interventions_and_messages(scope, shakespeare_python):
    import numpy as np

    from helpers.scope import Intervention, read_scope

    page = scope.page
    named = json_named = page.eval_on_selector("#lstm-scope", "e => JSON.parse(e.dataset.named)")
    assert named and page.input_value("#sc-unit") == str(named[0]["unit"])  # the chapter's unit first
    assert page.inner_text("#sc-named button") == f"unit {json_named[0]['unit']}: position in the line"
    text = "ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east"
    scope_wait(page, lambda: page.fill("#sc-text", text))
    unit = named[0]["unit"]
    py = read_scope(shakespeare_python, text)
    assert page.locator("#sc-strip .sc-ch").count() == len(text)
    rows = scope_rows(page)
    order = np.argsort(-py.probabilities, kind="stable")[:5]
    assert [r["char"] for r in rows] == [shakespeare_python.vocab.chars[i] for i in order]
    assert max(abs(float(r["p"]) - py.probabilities[i]) for r, i in zip(rows, order)) < SCOPE_TOLERANCE
    assert page.locator("#sc-strip .sc-kn").count() == 6  # the n-gram's window of order 7
    assert page.inner_text("#sc-greedy") == py.greedy
    scope_wait(page, lambda: page.type("#sc-text", ", and", delay=20))  # typed: runs reused character by character
    text += ", and"
    page.wait_for_function(f"document.querySelectorAll('#sc-strip .sc-ch').length === {len(text)}", timeout=30000)
    py = read_scope(shakespeare_python, text)
    rows = scope_rows(page)
    order = np.argsort(-py.probabilities, kind="stable")[:5]
    assert max(abs(float(r["p"]) - py.probabilities[i]) for r, i in zip(rows, order)) < SCOPE_TOLERANCE
    assert page.inner_text("#sc-greedy") == py.greedy
    # switch the unit off: the intervened column and continuation follow Python's
    scope_wait(page, lambda: page.select_option("#sc-mode", "off"))
    off = read_scope(shakespeare_python, text, intervention=Intervention(unit, 0.0))
    rows = scope_rows(page)
    order = np.argsort(-off.probabilities, kind="stable")[:5]
    assert [r["clampedChar"] for r in rows] == [shakespeare_python.vocab.chars[i] for i in order]
    assert max(abs(float(r["clampedP"]) - off.probabilities[i]) for r, i in zip(rows, order)) < SCOPE_TOLERANCE
    assert page.inner_text("#sc-greedy-int") == off.greedy and page.inner_text("#sc-greedy") == py.greedy
    # clamp another unit to a value, and move the cursor by clicking a character
    scope_wait(page, lambda: page.fill("#sc-unit", "5"))
    scope_wait(page, lambda: page.select_option("#sc-mode", "clamp"))
    scope_wait(page, lambda: page.fill("#sc-value", "-0.6"))
    scope_wait(page, lambda: page.click("#sc-strip .sc-ch[data-t='9']"))
    clamped = read_scope(shakespeare_python, text, cursor=10, intervention=Intervention(5, -0.6))
    assert page.get_attribute("#sc-strip .sc-cursor", "data-t") == "9"
    assert float(scope_rows(page)[0]["clampedP"]) == pytest.approx(clamped.probabilities.max(), abs=SCOPE_TOLERANCE)
    # bad input gets a clear message
    hidden = shakespeare_python.model.hidden_size
    for field, value, message in [
        ("#sc-value", "3", "a unit can be clamped to a value from -1 to 1 (the range of h), got 3"),
        ("#sc-unit", str(hidden), f"unit must be a whole number from 0 to {hidden - 1}, got {hidden}"),
        ("#sc-unit", "2.5", f"unit must be a whole number from 0 to {hidden - 1}, got 2.5"),
        ("#sc-text", "", "the text is empty: the model needs at least one character to go on"),
        ("#sc-text", "Rom\u00e9o", "1 character outside the model's alphabet: '\u00e9' (U+00E9) at position 3"),
    ]:
        scope_wait(page, lambda: page.fill(field, value))
        assert message in page.inner_text("#sc-error"), (value, page.inner_text("#sc-error"))
        assert scope_rows(page) == [] and page.locator("#sc-strip .sc-ch").count() == 0 and page.inner_text("#sc-time") == ""
        restore = {"#sc-value": "0.5", "#sc-unit": str(unit), "#sc-text": text}[field]
        scope_wait(page, lambda: page.fill(field, restore))
        assert page.inner_text("#sc-error") == ""
    assert scope.errors == []


def test_scope_update_time(scope):
    """One full update for a 300-character text: forward over the text with the unit clamped
    and without it, the backward pass for the connectivity, both greedy continuations. The
    time is printed, for the record (budgets are measured, not asserted)."""
    text = ("ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\n" * 4)[:300]
    for what, clamp in [("switched off", {"unit": 113, "value": 0}), ("as trained", None)]:
        for how in ("time", "timeTyping"):
            times = scope.page.evaluate(f"([t, k]) => [0, 1, 2, 3, 4, 5, 6].map(() => lstmScope.{how}(t, k))", [text, clamp])
            label = "from nothing" if how == "time" else "after typing its last character"
            print(f"\nscope update, 300 characters, unit {what}, {label}: median {sorted(times)[3]:.0f} ms"
                  f" (of {', '.join(f'{t:.0f}' for t in times)})")
    scope_wait(scope.page, lambda: scope.page.fill("#sc-text", text))
    assert float(scope.page.eval_on_selector("#lstm-scope", "e => e.dataset.updateMs")) > 0


@pytest.mark.parametrize("width", [390, 1280])
def test_scope_fits_phone_and_desktop(browser, site, shakespeare_python, width):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(f"{site}/chapters/06_autocomplete.html", wait_until="networkidle")
    page.wait_for_selector("#lstm-scope[data-ready=true][data-state=ok]", timeout=30000)
    page.select_option("#sc-mode", "off")
    page.wait_for_function("document.querySelector('#lstm-scope').classList.contains('sc-intervening')", timeout=30000)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    box = page.eval_on_selector("#lstm-scope", "e => [e.scrollWidth, e.clientWidth, e.getBoundingClientRect().right]")
    assert box[0] <= box[1] and box[2] <= width, box
    assert page.locator("#sc-top tbody tr").count() == 5 and page.locator("#sc-strip .sc-ch").count() > 50
    if os.environ.get("BOOK_SCREENSHOTS"):
        page.locator("#lstm-scope").screenshot(path=f"{os.environ['BOOK_SCREENSHOTS']}/lstm-scope-{width}.png")
    page.close()
