"""The documentation site builds warning-free and shows what a reader looks for.

The site (``docs/conf.py``) is built once per test session, as README's command builds it
(``sphinx -W --keep-going -n -b html``: every warning, unresolved cross-references included,
fails the build), but in a temporary copy of ``docs/`` and the top-level Markdown files, so
the checkout is left as it was. The notebooks are not executed a second time: the build
renders the outputs ``tests/test_notebooks.py`` produced (``conftest.executed_notebook``;
``CATBELL_DOCS_NOTEBOOKS`` hands them to ``docs/conf.py``).

Then the built HTML is read as a person would read it: the index with its sections and
version, the API page of ``simulate`` with its parameters, returns, raises and example, a
notebook page with its figures, the command-line reference against the parsers, and no
page showing a traceback, an error output or a docutils error message.
"""

from __future__ import annotations

import argparse
import html
import importlib
import inspect
import os
import re
import shutil
import subprocess
import sys
import warnings
from importlib.metadata import version
from pathlib import Path

import nbformat
import pytest
from conftest import NOTEBOOK_DIR, executed_notebook
from numpydoc.docscrape import ClassDoc, FunctionDoc

import catbell_qutip
from catbell_qutip.cli import SUBCOMMANDS, build_parser

ROOT = Path(__file__).resolve().parents[1]
#: what the build reads besides docs/: the included Markdown files and the examples the
#: README links to (download links)
SITE_INPUTS = ("README.md", "REPRODUCTION.md", "CHANGELOG.md", "examples")
BUILD_TIMEOUT_S = 900

sys.path.insert(0, str(ROOT / "docs" / "_ext"))
import catbell_api  # noqa: E402  (docs/_ext is not a package)


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The built site (its HTML folder), from a temporary copy of the sources."""
    root = tmp_path_factory.mktemp("site")
    shutil.copytree(ROOT / "docs", root / "docs",
                    ignore=shutil.ignore_patterns("_build", "_generated", "__pycache__"))
    for name in SITE_INPUTS:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, root / name)
        else:
            shutil.copy2(src, root / name)
    executed = root / "executed-notebooks"
    executed.mkdir()
    for path in sorted(NOTEBOOK_DIR.glob("*.ipynb")):
        nbformat.write(executed_notebook(path), executed / path.name)
    env = {**os.environ, "CATBELL_DOCS_NOTEBOOKS": str(executed)}
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q", "-b", "html",
         str(root / "docs"), str(root / "html"), "-d", str(root / "doctrees")],
        capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, env=env, cwd=root)
    assert proc.returncode == 0, f"sphinx failed:\n{proc.stderr[-5000:]}"
    assert "WARNING" not in proc.stderr, proc.stderr[-5000:]
    return root / "html"


def _page(site: Path, rel: str) -> str:
    path = site / rel
    assert path.is_file(), f"{rel} was not built"
    return path.read_text(encoding="utf-8")


def _text(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _headings(page: str, level: int) -> list[str]:
    """The text of the page's <h{level}> headings, without their permalink anchors."""
    return [_text(re.sub(r'<a class="headerlink".*?</a>', "", h, flags=re.S))
            for h in re.findall(rf"<h{level}[^>]*>(.*?)</h{level}>", page, re.S)]


#: marks of a failure shown on a page: a Python traceback, a notebook cell's error output,
#: a docutils error box, text docutils could not parse
FAILURE_MARKS = ("Traceback (most recent call last)", 'class="output traceback',
                 'class="output stderr', 'class="system-message', 'class="problematic',
                 'class="admonition error')


def _assert_no_failure_shown(page: str, name: str) -> None:
    for mark in FAILURE_MARKS:
        assert mark not in page, f"{name} shows {mark!r}"
    assert not re.search(r"\b\w*Error: ", _text(page)), f"{name} shows an error message"


def test_every_page_is_free_of_failures(site):
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 40
    for path in pages:
        if path.parent.name in ("_modules", "_static") or path.name == "search.html":
            continue  # source listings (viewcode), and the theme's search page, whose
            # <noscript> box says "Error: please activate JavaScript"
        text = path.read_text(encoding="utf-8")
        for mark in FAILURE_MARKS:
            assert mark not in text, f"{path.relative_to(site)} shows {mark!r}"


def test_index_page(site):
    page = _page(site, "index.html")
    _assert_no_failure_shown(page, "index.html")
    assert _headings(page, 1) == ["catbell_qutip"]
    text = _text(page)
    for caption in ("Guide", "Physics", "Notebooks", "Reference"):
        assert caption in text, f"index has no {caption} section"
    for target in ("guide.html", "model.html", "REPRODUCTION.html", "cli.html",
                   "CHANGELOG.html", "_generated/api/index.html",
                   "_generated/notebooks/01_quickstart.html"):
        assert f'href="{target}' in page, f"index does not link {target}"


def test_version_is_the_command_line_version(site):
    """One version: the package's, as ``catbell --version`` prints it and the site shows it."""
    proc = subprocess.run([sys.executable, "-m", "catbell_qutip", "--version"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    printed = proc.stdout.split()[-1]
    assert printed == version("catbell_qutip") == catbell_qutip.__version__
    page = _page(site, "index.html")
    assert f"<title>catbell_qutip {printed}</title>" in page
    assert f"documentation of version {printed}" in _text(page)
    assert f"catbell_qutip {printed}" in _text(_page(site, "_generated/api/index.html"))


def test_simulate_api_page(site):
    page = _page(site, "_generated/api/catbell_qutip.api.html")
    _assert_no_failure_shown(page, "the api page")
    assert _headings(page, 1) == ["catbell_qutip.api"]
    start = page.index('id="catbell_qutip.api.simulate"')
    end = page.index('id="catbell_qutip.api.', start + 10)
    entry = page[start:end]
    text = _text(entry)
    for section in ("Parameters", "Returns", "Raises", "Examples"):
        assert re.search(rf'<p class="rubric">{section}</p>|<dt class="field-\w+">'
                         rf"{section}", entry), f"simulate's page lacks {section}"
    for parameter in ("loss_order", "alpha", "eta", "engine", "cutoff", "tol"):
        assert parameter in text
    assert "&gt;&gt;&gt;" in entry or ">>>" in text, "simulate's example is not shown"
    assert "ProtocolResult" in text
    # the package page links its re-export to this page instead of documenting it twice
    package = _page(site, "_generated/api/catbell_qutip.html")
    assert 'href="catbell_qutip.api.html#catbell_qutip.api.simulate"' in package
    assert 'id="catbell_qutip.simulate"' not in package


def test_notebook_page_shows_its_figures(site):
    page = _page(site, "_generated/notebooks/01_quickstart.html")
    _assert_no_failure_shown(page, "notebook 01")
    assert len(_headings(page, 1)) == 1
    assert "all checks passed" in _text(page)
    images = re.findall(r'<img[^>]+src="([^"]+)"', page)
    figures = [src for src in images if src.endswith(".png") and "_images/" in src]
    nb = executed_notebook(NOTEBOOK_DIR / "01_quickstart.ipynb")
    expected = sum("image/png" in o.get("data", {}) for c in nb.cells
                   if c.cell_type == "code" for o in c.outputs)
    assert expected >= 2 and len(figures) == expected, (expected, figures)
    for src in figures:
        png = (site / "_generated" / "notebooks" / src).resolve()
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", src


def test_every_notebook_is_a_page(site):
    for path in sorted(NOTEBOOK_DIR.glob("*.ipynb")):
        page = _page(site, f"_generated/notebooks/{path.stem}.html")
        _assert_no_failure_shown(page, path.name)
        assert "<img" in page, f"{path.name}: no figure on its page"


def test_cli_reference_is_the_parsers(site):
    """Every subcommand and every option its parser shows in ``--help`` is on the CLI page,
    with its help text: the page cannot drift from ``--help``. An option hidden from
    ``--help`` (``argparse.SUPPRESS``: ``catbell repeater --length-km``, replaced by
    ``--length-max-km``) is hidden from the page too."""
    page = _page(site, "cli.html")
    _assert_no_failure_shown(page, "cli.html")
    text = _text(page)
    for name in SUBCOMMANDS:
        assert f"catbell {name}" in _headings(page, 2), name
        parser = next(a for a in build_parser(name)._actions
                      if a.__class__.__name__ == "_SubParsersAction").choices[name]
        for action in parser._actions:
            if action.help == argparse.SUPPRESS:
                for flag in action.option_strings:
                    assert f'id="cmdoption-catbell-{name}-{flag.lstrip("-")}"' not in page
                continue
            for flag in action.option_strings:
                if flag.startswith("--"):
                    anchor = f'id="cmdoption-catbell-{name}-{flag.lstrip("-")}"'
                    assert anchor in page, f"catbell {name} {flag} missing"
            if action.help and "%(" not in action.help and len(action.help) > 20:
                assert " ".join(action.help.split())[:40] in text, (name, action.dest)


def test_api_reference_covers_every_public_name(site):
    """Each name of each public module's ``__all__`` is documented where it is defined."""
    modules = catbell_api.public_modules()
    assert "catbell_qutip.api" in modules and "catbell_qutip.repeater.swap" in modules
    homes = catbell_api.homes(modules)
    missing = []
    for (module, name), home in homes.items():
        page = site / "_generated" / "api" / f"{home}.html"
        if not page.is_file() or f'id="{home}.{name}"' not in page.read_text(encoding="utf-8"):
            missing.append(f"{module}.{name}")
    assert not missing, missing
    for module in modules:  # and every module's own names really are in it
        mod = importlib.import_module(module)
        for name in getattr(mod, "__all__", []):
            assert hasattr(mod, name), f"{module}.__all__ names {name}, which it lacks"


def test_docstring_escapes_keep_physics_notation():
    """Plain-text kets and batch shapes render as written (not as substitutions or
    emphasis); literals, roles and doctest lines are left alone."""
    assert catbell_api.escape_bars("|0_N> and <a|b>") == r"\|0_N> and <a\|b>"
    assert catbell_api.escape_bars("``|x>`` and :math:`|a|`") == "``|x>`` and :math:`|a|`"
    assert catbell_api.escape_bars("shape (*batch, L)") == r"shape (\*batch, L)"
    assert catbell_api.escape_bars("**bold** text") == "**bold** text"
    lines = ["A ket |+>.", "", ">>> abs(-1) | 0", "1", "", ".. math::", "", "   |a|^2", "",
             "After |b>."]
    assert catbell_api.escape_docstring(lines) == [
        r"A ket \|+>.", "", ">>> abs(-1) | 0", "1", "", ".. math::", "", "   |a|^2", "",
        r"After \|b>."]


#: sections every name of ``catbell_qutip.__all__`` documents (a class has no "Returns":
#: its "Parameters" are its constructor's, or, for a result class, its "Attributes";
#: a warning class is raised by others and needs only its description)
ENTRY_POINT_SECTIONS = {"function": ("Parameters", "Returns", "Raises", "Examples"),
                        "class": (("Parameters", "Attributes"), "Examples")}


def test_entry_points_document_every_section():
    """The package's top-level names (what a user calls first) have full numpydoc
    docstrings: parameters, returns, raises and an example (run by --doctest-modules)."""
    missing = []
    for name in catbell_qutip.__all__:
        obj = getattr(catbell_qutip, name)
        if inspect.isclass(obj) and issubclass(obj, Warning):
            assert inspect.getdoc(obj), name
            continue
        if not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue
        kind = "class" if inspect.isclass(obj) else "function"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpydoc's notes on its own parsing
            doc = (ClassDoc if kind == "class" else FunctionDoc)(obj)
        for section in ENTRY_POINT_SECTIONS[kind]:
            options = section if isinstance(section, tuple) else (section,)
            if not any(doc[s] for s in options):
                missing.append(f"{name}: {' or '.join(options)}")
    assert not missing, missing
