"""pytest-benchmark harness for the hot functions (outside the default test run).

Run:  python -m pytest benchmarks --benchmark-only
(pyproject's testpaths = ["tests", "catbell_qutip"], so a plain ``pytest`` never collects
this folder.)
Add ``--benchmark-json=FILE`` to keep the numbers, ``--benchmark-compare`` to compare runs.

Each benchmark also checks one property the timed call must have (a closed form of
docs/model.md 5, or trace preservation), so a fast wrong answer does not pass; what a
reshape guarantees (an output's shape) is not checked.
"""

from __future__ import annotations

import numpy as np
import pytest

from catbell_qutip import evaluate, simulate
from catbell_qutip.closed_forms import ideal_protocol
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
    """The vectorised path: a 100 x 100 (alpha, eta) grid (target: l = 1 < 1 s)."""
    out = benchmark(evaluate, l, alpha=ALPHA[:, None], eta=ETA[None, :])
    ref = ideal_protocol(l, ALPHA[:, None], ETA[None, :])
    assert np.allclose(out["P"], ref["P"], rtol=0, atol=1e-9)


@pytest.mark.parametrize("l", [0, 1, 3])
def test_simulate_fock_point(benchmark, l):
    r = benchmark(simulate, l, 2.0, 0.5, engine="fock")
    assert abs(r.F - float(ideal_protocol(l, 2.0, 0.5)["F"])) < 1e-9


def test_simulate_fock_point_table1(benchmark):
    kw = dict(length_km=20.0, **preset("table1"))
    r = benchmark(simulate, 1, 2.0, engine="fock", **kw)
    assert abs(r.S - simulate(1, 2.0, engine="coherent", **kw).S) < 1e-9


def test_coherent_loss(benchmark, batch_state):
    out = benchmark(batch_state.loss, 0.8)
    assert np.allclose(out.trace(), batch_state.trace(), rtol=1e-12)  # trace-preserving


def test_coherent_reflect(benchmark, batch_state):
    out = benchmark(batch_state.reflect, "A", np.pi / 2)
    assert np.allclose(out.trace(), batch_state.trace(), rtol=1e-12)


def test_coherent_measure_qubit_x(benchmark, batch_state):
    st = batch_state.add_qubit("anc").reflect("anc", np.pi)
    branches = benchmark(st.measure_qubit_x, "anc")
    total = sum(b.trace() for _, b in branches)
    assert np.allclose(total, st.trace(), rtol=1e-12)  # the two outcomes are complete


def test_poisson_residue_masses(benchmark):
    from scipy.stats import poisson

    y = (ALPHA[:, None] ** 2) * ETA[None, :]
    w = benchmark(poisson_residue_masses, y, 4)
    n = np.arange(0, 80, 4)[:, None, None]  # residue 0 mod 4; y <= 16, so n < 80 is all
    assert np.allclose(w[..., 0], poisson.pmf(n, y).sum(axis=0), rtol=0, atol=1e-13)


def test_fock_loss(benchmark, fock_state):
    out = benchmark(fock_state.loss, 0.8)
    # trace-preserving up to the (tiny) mass the loss moves below the cutoff: none
    assert abs(out.trace() - fock_state.trace()) < 1e-12


def test_fock_measure_light(benchmark, fock_state):
    eff = fock_state.usd_effects("tub", 2, 0)
    out = benchmark(fock_state.measure_light, eff)
    p = sum(np.real(np.trace(m)) for m in out.values())
    assert 0 < p <= fock_state.trace() + 1e-12  # two effects of one POVM
