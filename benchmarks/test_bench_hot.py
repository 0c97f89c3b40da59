"""pytest-benchmark harness for the hot functions (outside the default test run).

Run:  python -m pytest benchmarks --benchmark-only
(pyproject's testpaths = ["tests"], so a plain ``pytest`` never collects this folder.)
Add ``--benchmark-json=FILE`` to keep the numbers, ``--benchmark-compare`` to compare runs.
"""

from __future__ import annotations

import numpy as np
import pytest

from catbell_qutip import evaluate, simulate
from catbell_qutip.engines import CoherentState, FockState
from catbell_qutip.params import preset
from catbell_qutip.sectors import poisson_residue_masses

ALPHA = np.linspace(0.04, 4.0, 100)
ETA = np.linspace(0.01, 1.0, 100)


@pytest.fixture(scope="module")
def batch_state():
    """A 100 x 100 batch after Alice's step for l = 1: atom A (x) light, M = 4."""
    st = CoherentState.codeword(ALPHA[:, None], 2).add_qubit("A").reflect("A", np.pi / 2)
    return st.loss(ETA[None, :])


@pytest.fixture(scope="module")
def fock_state():
    st = FockState.codeword(2.0, 2, cutoff=30).add_qubit("A").reflect("A", np.pi / 2)
    return st.add_qubit("B").reflect("B", np.pi / 2)


@pytest.mark.parametrize("l", [0, 1, 3])
def test_evaluate_grid(benchmark, l):
    """The vectorised path: a 100 x 100 (alpha, eta) grid (issue 3 target: l = 1 < 1 s)."""
    out = benchmark(evaluate, l, alpha=ALPHA[:, None], eta=ETA[None, :])
    assert out["P"].shape == (100, 100)


@pytest.mark.parametrize("l", [0, 1, 3])
def test_simulate_fock_point(benchmark, l):
    r = benchmark(simulate, l, 2.0, 0.5, engine="fock")
    assert 0 < r.P <= 1


def test_simulate_fock_point_table1(benchmark):
    kw = dict(length_km=20.0, **preset("table1"))
    r = benchmark(simulate, 1, 2.0, engine="fock", **kw)
    assert 0 < r.P <= 1


def test_coherent_loss(benchmark, batch_state):
    out = benchmark(batch_state.loss, 0.8)
    assert out.K.shape == batch_state.K.shape


def test_coherent_reflect(benchmark, batch_state):
    benchmark(batch_state.reflect, "A", np.pi / 2)


def test_coherent_measure_qubit_x(benchmark, batch_state):
    st = batch_state.add_qubit("anc").reflect("anc", np.pi)
    benchmark(st.measure_qubit_x, "anc")


def test_poisson_residue_masses(benchmark):
    y = (ALPHA[:, None] ** 2) * ETA[None, :]
    w = benchmark(poisson_residue_masses, y, 4)
    assert np.allclose(w.sum(-1), 1.0)


def test_fock_loss(benchmark, fock_state):
    out = benchmark(fock_state.loss, 0.8)
    assert out.K.shape == fock_state.K.shape


def test_fock_measure_light(benchmark, fock_state):
    eff = fock_state.usd_effects("tub", 2, 0)
    benchmark(fock_state.measure_light, eff)
