"""Shared test settings.

Tolerances can be tightened from the environment (as in Strawberry Fields' suite):
CATBELL_TOL scales every agreement tolerance (default 1).
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

TOL_SCALE = float(os.environ.get("CATBELL_TOL", "1"))

#: the exploration notebooks and how they are run (kernel python3, in notebooks/)
NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOK_CELL_TIMEOUT_S = 120
_EXECUTED: dict[Path, nbformat.NotebookNode] = {}


def executed_notebook(path: Path) -> nbformat.NotebookNode:
    """``path`` executed top to bottom in ``notebooks/`` (once per test session: the
    notebook tests check it, and the documentation site renders the same outputs)."""
    if path not in _EXECUTED:
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=NOTEBOOK_CELL_TIMEOUT_S, kernel_name="python3",
                       resources={"metadata": {"path": str(NOTEBOOK_DIR)}}).execute()
        _EXECUTED[path] = nb
    return _EXECUTED[path]


def tol(value: float) -> float:
    """An agreement tolerance, scaled by CATBELL_TOL."""
    return value * TOL_SCALE


LOSS_ORDERS = (0, 1, 3)


def random_ideal_points(seed: int, n: int):
    """(alpha, eta) points of the ideal protocol: alpha in [0.2, 2.5], eta in [0.05, 1]."""
    rng = np.random.default_rng(seed)
    return list(zip(rng.uniform(0.2, 2.5, n), rng.uniform(0.05, 1.0, n), strict=True))


def random_imperfect_points(seed: int, n: int, usd: str):
    """Dicts of ProtocolParams fields with every imperfection switched on.

    Ranges: alpha in [0.3, 2.5], L in [0, 20] km, eta_int in [0.8, 1], eta_c in [0.3, 1],
    eta_d in [0.5, 1], t_c in [1e-4, 1e-2] s, p_dark in [0, 0.05] (linear USD only).
    """
    rng = np.random.default_rng(seed)
    pts = []
    for _ in range(n):
        pt = dict(
            alpha=rng.uniform(0.3, 2.5), length_km=rng.uniform(0, 20),
            eta_int=rng.uniform(0.8, 1.0), eta_c=rng.uniform(0.3, 1.0),
            eta_d=rng.uniform(0.5, 1.0), t_c_s=10 ** rng.uniform(-4, -2), usd=usd,
        )
        if usd == "linear":
            pt["p_dark"] = rng.uniform(0, 0.05)
        pts.append(pt)
    return pts


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
