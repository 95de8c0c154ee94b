"""The book's configuration agrees with itself: one repository URL, a toc of real files."""

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())


def toc_files():
    files = [TOC["root"]]
    for part in TOC["parts"]:
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


def test_every_toc_entry_exists_once():
    files = toc_files()
    assert len(files) == len(set(files))
    for name in files:
        matches = [p for p in (ROOT / f"{name}.md", ROOT / f"{name}.ipynb") if p.exists()]
        assert len(matches) == 1, f"{name} in _toc.yml has {len(matches)} source files"


def test_colab_cells_install_from_the_configured_repository():
    url = CONFIG["repository"]["url"]
    assert url.startswith("https://github.com/") and not url.endswith("/")
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        first = "".join(next(c for c in cells if c["cell_type"] == "code")["source"])
        # pip installs helpers from the repository; a chapter that needs data/ clones it first
        assert f'"git+{url}"' in first or f"git clone -q --depth 1 {url} " in first, path.name


def test_launch_buttons_are_configured_for_colab_and_binder():
    launch = CONFIG["launch_buttons"]
    assert launch["colab_url"] == "https://colab.research.google.com"
    assert launch["binderhub_url"] == "https://mybinder.org"
    assert CONFIG["repository"]["branch"] == "main"


def test_glossary_terms_carry_korean():
    text = (ROOT / "glossary.md").read_text()
    body = text.split("```{glossary}")[1].split("```")[0]
    definitions = re.split(r"\n(?=\S)", body.strip())
    assert len(definitions) >= 15
    for entry in definitions:
        assert re.search(r"[\uac00-\ud7a3]", entry), f"no Korean term in: {entry[:40]}"


def test_chapters_link_their_terms_to_the_glossary():
    glossary = (ROOT / "glossary.md").read_text().split("```{glossary}")[1]
    terms = {line.strip().lower() for line in glossary.splitlines() if line and not line.startswith(" ")}
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        markdown = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "markdown")
        targets = re.findall(r"\{term\}`[^`<]*<([^>]+)>`", markdown)
        assert targets, f"{path.name} links no glossary term"
        assert set(targets) <= terms, f"{path.name} links unknown terms {set(targets) - terms}"
