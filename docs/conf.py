"""Sphinx configuration of the catbell_qutip documentation site.

Build (README.md, section "Documentation site")::

    python -m pip install -e '.[docs]'
    python -m sphinx -W --keep-going -n -b html docs docs/_build/html

What the build generates, into ``docs/_generated/`` (git-ignored), before it reads the
sources (:func:`_generate`):

- ``api/``: one page per public module of the package, every name of its ``__all__``
  documented where it is defined (a re-export links to its home), from the numpydoc
  docstrings (``_ext/catbell_api.py``);
- ``notebooks/``: the notebooks of ``notebooks/``, executed by myst-nb during the build
  (as committed, they carry no outputs). With ``CATBELL_DOCS_NOTEBOOKS=DIR`` the build takes
  the notebooks from DIR instead and executes nothing: the test suite hands over the
  notebooks it has just executed (``tests/test_docs_site.py``), so they run once per CI.

The CLI reference (``cli.md``) is made from the argparse parsers of ``catbell`` by
``_ext/catbell_cli.py``, so it shows what ``--help`` shows.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from importlib.metadata import version as _dist_version
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

project = "catbell_qutip"
author = "the catbell_qutip developers"
copyright = "the catbell_qutip developers, BSD-3-Clause"  # noqa: A001 (Sphinx's name)
#: one home for the version: the installed package's metadata (pyproject.toml reads it
#: from catbell_qutip.__version__), the same string ``catbell --version`` prints
release = _dist_version("catbell_qutip")
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
    "catbell_api",
    "catbell_cli",
    # MathJax served from the site itself, so formulas render without a network
    "sphinx-mathjax-offline",
]

root_doc = "index"
exclude_patterns = ["_build", "_ext", "_intersphinx", "bench/*.md", "_generated/*.md", "Thumbs.db",
                    ".DS_Store", "**.ipynb_checkpoints"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
suppress_warnings: list[str] = []
smartquotes = False  # "--flag" stays two hyphens, quotes stay as typed

# -- HTML ----------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"catbell_qutip {release}"
html_static_path: list[str] = []
html_show_sourcelink = False

# -- autodoc / numpydoc ------------------------------------------------------------------
autodoc_typehints = "none"  # numpydoc's "Parameters" sections carry the types with units
autodoc_member_order = "bysource"
numpydoc_show_class_members = False  # members are listed by catbell_api, once
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()
autosummary_generate = False

# -- MyST / myst-nb -------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist", "substitution"]
myst_substitutions = {"release": release}
myst_heading_anchors = 3
nb_execution_timeout = 120  # seconds per cell, as tests/test_notebooks.py
nb_execution_raise_on_error = True  # a notebook whose assertions fail fails the build
nb_execution_show_tb = True
nb_merge_streams = True
_PREEXECUTED = os.environ.get("CATBELL_DOCS_NOTEBOOKS")
nb_execution_mode = "off" if _PREEXECUTED else "force"

# -- cross-references ---------------------------------------------------------------------
nitpicky = True
#: Inventories shipped in docs/_intersphinx/ (the build runs offline), taken from Debian's
#: documentation packages python3.11-doc and python-scipy-doc (1.10.1). There is no such
#: offline inventory for NumPy (no Debian documentation package), QuTiP (Debian ships the
#: 4.7 documentation: links would point to the wrong major version) or xarray (Debian's
#: inventory lists no API), so those three are not linked: their names are listed in
#: nitpick_ignore below, the one place where unresolved references are accepted.
intersphinx_mapping = {
    "python": ("https://docs.python.org/3.11/", str(DOCS / "_intersphinx" / "python-3.11.inv")),
    "scipy": ("https://docs.scipy.org/doc/scipy-1.10.1/",
              str(DOCS / "_intersphinx" / "scipy-1.10.inv")),
}
intersphinx_timeout = 1

#: Targets that cannot resolve, each with its reason (the one list of them).
nitpick_ignore_regex = [
    # NumPy, QuTiP, xarray: no offline inventory (see intersphinx_mapping above). Today
    # only :class:`xarray.Dataset` (3 references) needs it; numpydoc's parameter types are
    # not linked (numpydoc_xref_param_type = False), so "ndarray" or "Qobj" there need nothing
    ("py:.*", r"(numpy|np|qutip|xarray|xr)(\..*)?"),
    # private names (a component starting with "_", other than the public error module
    # catbell_qutip._checks): docstrings name them for readers of the code (today _swept,
    # _plain, _assemble, _derived, _tub_povm, _stop_now, _run_steps, the module
    # catbell_qutip.cli._common and its staged_output: 15 references); they have no page,
    # as they are not part of the interface
    ("py:.*", r"(.*\.)?_(?!checks\b)[A-Za-z]\w*(\..*)?"),
    # Sphinx reads the ": " inside a string default of catbell_qutip.panels.Panel
    # (ref_lines=((2.0, '$S=2$ ...', '0.4', ': '), ...)) as an annotation
    ("py:class", r"'\)"),
]


#: the top-level Markdown files the site includes, link targets rewritten for docs/
INCLUDED = ("README.md", "REPRODUCTION.md", "CHANGELOG.md")
_LINK = re.compile(r"\]\(([^)#\s]+)(#[^)\s]*)?\)")


def site_link(target: str) -> str:
    """A link of a top-level Markdown file, as the same link from a page of ``docs/``.

    >>> [site_link(t) for t in ("docs/model.md", "docs/img/a.png", "docs/bench/speed.md",
    ...                         "examples/x.toml", "REPRODUCTION.md", "https://qutip.org")]
    ['model.md', 'img/a.png', 'benchmarks.md', '../examples/x.toml', 'REPRODUCTION.md', 'https://qutip.org']
    """
    if "://" in target or target.startswith("mailto:"):
        return target
    if target.startswith("docs/bench/") and target.endswith(".md"):
        return "benchmarks.md"  # the page that shows the benchmark tables
    if target.startswith("docs/"):
        return target[len("docs/"):]
    if target.endswith(".md"):
        return target  # REPRODUCTION.md, CHANGELOG.md: pages of the same name in docs/
    return "../" + target  # a file of the repository (examples/...): a download link


def _generate(app) -> None:
    """Copy the notebooks and the top-level Markdown files into ``_generated/``."""
    out = DOCS / "_generated"
    notebooks = out / "notebooks"
    if notebooks.exists():
        shutil.rmtree(notebooks)
    notebooks.mkdir(parents=True)
    source = Path(_PREEXECUTED) if _PREEXECUTED else DOCS.parent / "notebooks"
    for path in sorted(source.glob("*.ipynb")):
        shutil.copy2(path, notebooks / path.name)
    for name in INCLUDED:
        text = (DOCS.parent / name).read_text(encoding="utf-8")
        text = _LINK.sub(lambda m: f"]({site_link(m[1])}{m[2] or ''})", text)
        (out / name).write_text(text, encoding="utf-8")


def setup(app):
    app.connect("builder-inited", _generate, priority=400)
