"""The exploration notebooks in ``notebooks/`` run top to bottom, and are committed clean.

Every notebook ends with assertions on physics (Tsirelson bound, trace 1, engines agree,
closed forms match), so executing it is a test: a failing assertion raises
:class:`nbclient.exceptions.CellExecutionError` here. The notebooks are executed in memory,
in the ``notebooks/`` directory, with the ``python3`` kernel, once per test session
(``conftest.executed_notebook``: tests/test_docs_site.py renders the same outputs); nothing
is written back.

Committed notebooks must carry no outputs (readable diffs). To strip them, see the
"Notebooks" section of README.md.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from conftest import NOTEBOOK_DIR, executed_notebook

NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = ("01_quickstart.ipynb", "02_codes_and_loss.ipynb", "03_paper_figures.ipynb",
            "04_repeaters.ipynb", "05_codes.ipynb", "06_finite_key.ipynb")


def _ids(path: Path) -> str:
    return path.stem


#: acronyms a reader meets in the notebooks -> the words that define them (docs/glossary.md)
TERMS = {"USD": "unambiguous state discrimination", "TUB": "theoretical upper bound",
         "CHSH": "Clauser-Horne-Shimony-Holt", "PLOB": "Pirandola-Laurenza-Ottaviani-Banchi",
         "DI-QKD": "device-independent quantum key distribution"}

#: what a cell's last expression shows when a plotting call is left bare (`Text(...)`)
STRAY_REPR = re.compile(r"^\[?<?(?:Text|Line2D|matplotlib[.\w]*|Figure|AxesImage|"
                        r"<matplotlib[.\w]*)[\( ]")


def test_expected_notebooks_present():
    names = {p.name for p in NOTEBOOKS}
    missing = [n for n in EXPECTED if n not in names]
    assert not missing, f"missing notebooks in {NOTEBOOK_DIR}: {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_outputs_stripped(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
             and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, (
        f"{path.name}: code cells {dirty} carry outputs or execution counts; strip them "
        "(README.md, section 'Notebooks') before committing"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_terms_are_defined_where_first_used(path):
    """Each acronym of :data:`TERMS` is spelt out in the cell of its first use or before."""
    nb = nbformat.read(path, as_version=4)
    texts = [" ".join(c.source.split()).lower() for c in nb.cells]
    for term, words in TERMS.items():
        first = next((i for i, c in enumerate(nb.cells)
                      if re.search(rf"(?<![\w-]){re.escape(term)}(?![\w-])", c.source)), None)
        if first is None:
            continue
        defined = next((i for i, t in enumerate(texts) if words.lower() in t), None)
        assert defined is not None and defined <= first, (
            f"{path.name}: {term} used in cell {first} but '{words}' "
            f"{'never appears' if defined is None else f'only in cell {defined}'}")


@pytest.mark.parametrize("path", [*NOTEBOOKS, NOTEBOOK_DIR.parent / "README.md"], ids=_ids)
def test_no_self_referencing_copy_note(path):
    """'docs/model.md (our copy of docs/model.md)' says nothing."""
    text = " ".join(path.read_text(encoding="utf-8").split())
    assert not re.search(r"`?([^\s`]+)`? \(our copy of `?\1`?\)", text)


# No filterwarnings here: starting the kernel (jupyter_client, pyzmq, tornado) raises no
# warning in this process with the installed stack (jupyter_client 8.10, pyzmq 27.3,
# tornado 6.6, ipykernel 7.4), apart from "Jupyter is migrating its paths",
# which pyproject.toml already ignores. Should one appear, ignore it here by its exact
# message and category, never with a blanket filter.
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_executes(path):
    nb = executed_notebook(path)
    stray = [(i, o["data"]["text/plain"][:60]) for i, c in enumerate(nb.cells)
             if c.cell_type == "code" for o in c.outputs
             if o.get("output_type") == "execute_result"
             and STRAY_REPR.match(o.get("data", {}).get("text/plain", ""))]
    assert not stray, f"{path.name}: cells print a plotting call's return value: {stray}"
    # the last cell holds the assertions and reports success
    last = [c for c in nb.cells if c.cell_type == "code"][-1]
    text = "".join(o.get("text", "") for o in last.outputs if o.get("output_type") == "stream")
    assert "all checks passed" in text, f"{path.name}: final assertion cell did not report success"
