"""The plain full-space QuTiP baseline of ``benchmarks/`` and the Fock engine agree.

The baseline (``benchmarks/baseline_qutip.py``) builds every step as a full-space Qobj on
atoms (x) light with qutip.tensor -- loss Kraus operators one by one, sector projectors,
the USD POVM, partial traces -- with no block structure. It is what ``catbell bench speed``
times against the engine; here only its results are checked (no timing assertions).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from catbell_qutip import simulate
from catbell_qutip.params import ProtocolParams, preset

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from conftest import tol  # noqa: E402

from benchmarks.baseline_qutip import baseline_point  # noqa: E402

POINTS = {
    "ideal l=1": dict(loss_order=1, alpha=1.7, eta=0.6),
    "table1 l=1": dict(loss_order=1, alpha=2.0, length_km=20.0, **preset("table1")),
    "memory l=0": dict(loss_order=0, alpha=1.2, eta=0.7, eta_int=0.9, length_km=5.0,
                       t_c_s=1e-4),
}


@pytest.mark.parametrize("name", list(POINTS))
def test_baseline_matches_fock_engine(name):
    params = ProtocolParams(**POINTS[name])
    r = simulate(params=params, engine="fock")
    P, F = baseline_point(params, r.cutoff)
    assert P == pytest.approx(r.P, abs=tol(1e-10))
    assert F == pytest.approx(r.F, abs=tol(1e-10))
    # and both are physical: a probability and a fidelity
    assert 0 < P <= 1 and 0 <= F <= 1


def test_baseline_rejects_a_batch():
    with pytest.raises(ValueError, match="single"):
        baseline_point(ProtocolParams(loss_order=1, alpha=[1.0, 2.0]), 20)
