"""The plain full-space QuTiP baseline of ``benchmarks/`` and both engines agree.

The baseline (``benchmarks/baseline_qutip.py``) builds every step of docs/model.md
section 3 as a full-space Qobj on atoms (x) ancilla (x) light with qutip.tensor -- ancilla
qubits with feed-forward, loss Kraus operators, both USD POVMs, both Pauli frames -- and
imports neither ``catbell_qutip.protocol`` nor the engines nor the operations/codes
helpers. Both engines run the same protocol.py, so this is the check that sees a bug
there. Compared: P, F, the full 4x4 heralded state and every record (r, s, outcome),
against ``simulate(..., engine="fock")`` and ``engine="coherent"``.

The first tests check the baseline's own building blocks against routes that share
nothing with it (a beam-splitter unitary, click probabilities of coherent inputs).
It is also what ``catbell bench speed`` times; no timing is asserted here.
"""

from __future__ import annotations

import itertools
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import qutip

from catbell_qutip import simulate
from catbell_qutip.params import ProtocolParams, preset

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from conftest import tol  # noqa: E402

from benchmarks.baseline_qutip import (  # noqa: E402
    baseline_point,
    baseline_run,
    coherent_amplitudes,
    linear_effects,
    loss_kraus_ops,
    tub_effects,
)

#: agreement required between the baseline and each engine (P, F, every entry of rho)
AGREE = 1e-9


# -- the baseline's building blocks, against routes that share nothing with them -----------
def test_loss_kraus_equals_beam_splitter_with_vacuum_environment():
    """sum_k A_k rho A_k^dag = Tr_env[U (rho (x) |0><0|) U^dag], U = exp(theta (a^dag b - a
    b^dag)), cos^2 theta = eta. Exact in the truncated space for states with <= c photons
    (U conserves the total photon number)."""
    c, eta = 6, 0.37
    rho = qutip.rand_dm(c + 1, seed=7)
    a = qutip.tensor(qutip.destroy(c + 1), qutip.qeye(c + 1))
    b = qutip.tensor(qutip.qeye(c + 1), qutip.destroy(c + 1))
    theta = math.acos(math.sqrt(eta))
    U = (theta * (a.dag() * b - a * b.dag())).expm()
    env0 = qutip.fock_dm(c + 1, 0)
    # keep only inputs with total photon number <= c: the state has no env photons
    ref = (U * qutip.tensor(rho, env0) * U.dag()).ptrace(0)
    kraus = sum(A * rho * A.dag() for A in loss_kraus_ops(eta, c))
    assert np.abs(kraus.full() - ref.full()).max() < 1e-12


@pytest.mark.parametrize("n_comp", [1, 2])
def test_linear_effects_match_coherent_click_probabilities(n_comp):
    """<zeta|E|zeta> equals the click-pattern probabilities of a coherent input computed
    directly: mode j receives |zeta/sqrt(M)>, is displaced by -gamma_j, and stays dark with
    probability (1 - p_dark) exp(-|zeta/sqrt(M) - gamma_j|^2)."""
    beta, p_dark, cutoff = 0.9, 0.04, 40
    M = 2 * n_comp
    E_even, E_odd = linear_effects(n_comp, beta, cutoff, p_dark)
    gam = beta * np.exp(1j * np.pi * np.arange(M) / n_comp) / math.sqrt(M)
    for zeta in (beta, beta * np.exp(1j * np.pi / n_comp), 0.4 - 0.3j, 0.0):
        dark = (1 - p_dark) * np.exp(-np.abs(zeta / math.sqrt(M) - gam) ** 2)
        odd_j, even_j = np.arange(1, M, 2), np.arange(0, M, 2)
        every = np.prod(1 - dark)
        p_even = np.prod(1 - dark[odd_j]) - every
        p_odd = np.prod(1 - dark[even_j]) - every
        z = coherent_amplitudes(zeta, cutoff)
        assert np.vdot(z, E_even @ z).real == pytest.approx(p_even, abs=1e-13)
        assert np.vdot(z, E_odd @ z).real == pytest.approx(p_odd, abs=1e-13)


@pytest.mark.parametrize("n_comp,sector", [(1, 0), (2, 0), (2, 1)])
def test_tub_effects_are_the_optimal_unambiguous_povm(n_comp, sector):
    beta, cutoff = 1.3, 40
    n = np.arange(cutoff + 1)
    u = np.where(n % n_comp == sector, coherent_amplitudes(beta, cutoff), 0)
    v = np.where(n % n_comp == sector,
                 coherent_amplitudes(beta * np.exp(1j * np.pi / n_comp), cutoff), 0)
    u, v = u / np.linalg.norm(u), v / np.linalg.norm(v)
    E_even, E_odd = tub_effects(n_comp, sector, beta, cutoff)
    c = abs(np.vdot(u, v))
    assert abs(np.vdot(v, E_even @ v)) < 1e-15 and abs(np.vdot(u, E_odd @ u)) < 1e-15
    assert np.vdot(u, E_even @ u).real == pytest.approx(1 - c, abs=1e-14)
    assert np.vdot(v, E_odd @ v).real == pytest.approx(1 - c, abs=1e-14)
    assert np.linalg.eigvalsh(np.eye(cutoff + 1) - E_even - E_odd).min() > -1e-14


def test_baseline_truncation_is_negligible_and_checked():
    """A larger cutoff changes P and rho by a few times the dropped mass the baseline
    reports (cross terms between kept and dropped amplitudes make it more than the mass
    itself: 1.8x here), far below the 1e-9 the comparisons need; a cutoff that drops too
    much is refused."""
    params = ProtocolParams(loss_order=1, alpha=1.6, eta=0.7, eta_int=0.9,
                            encoder="explicit", usd="linear", p_dark=0.02)
    small = baseline_run(params, 20)
    large = baseline_run(params, 34)
    assert 0 < small.truncation_error < 1e-11 and large.truncation_error < 1e-25
    bound = 4 * small.truncation_error
    assert abs(small.P - large.P) <= bound
    assert np.abs(small.rho - large.rho).max() <= 2 * bound / small.P  # rho = R / P
    with pytest.raises(ValueError, match="drops mass"):
        baseline_run(params, 10)


def test_baseline_rejects_a_batch():
    with pytest.raises(ValueError, match="single"):
        baseline_point(ProtocolParams(loss_order=1, alpha=[1.0, 2.0]), 20)


# -- the baseline against both engines ------------------------------------------------------
def _grid_points():
    """Every placement x encoder x USD x decoder x l in {0, 1}, all imperfections on:
    eta_int < 1, eta_c < 1, fibre, finite t_c, eta_d < 1, p_dark > 0 for linear."""
    pts = {}
    combos = itertools.product(("after", "before", "lumped"), ("ideal", "explicit"),
                               ("tub", "linear"), ("smallest-loss", "ml"), (0, 1))
    for i, (place, enc, usd, dec, ell) in enumerate(combos):
        kw = dict(loss_order=ell, alpha=1.1 + 0.02 * i, eta_int=0.86, eta_c=0.75,
                  length_km=2.0, t_c_s=5e-5, eta_d=0.9, eta_int_placement=place,
                  encoder=enc, usd=usd, decoder=dec)
        if usd == "linear":
            kw["p_dark"] = 0.03
        pts[f"l={ell} {place} {enc} {usd} {dec}"] = kw
    return pts


POINTS = {
    **_grid_points(),
    # the paper's ideal protocol and the Table I point of the speed benchmark
    "ideal l=1": dict(loss_order=1, alpha=1.7, eta=0.6),
    "table1 l=1": dict(loss_order=1, alpha=2.0, length_km=20.0, **preset("table1")),
    "memory l=0 round-trip": dict(loss_order=0, alpha=1.2, eta=0.7, eta_int=0.9,
                                  length_km=5.0, t_c_s=1e-4, wait_rule="round-trip"),
    "eta_dc/eta_uc l=1 before": dict(loss_order=1, alpha=1.5, eta_dc=0.8, eta_uc=0.6,
                                     eta_int=0.8, eta_int_placement="before"),
    # l = 3 is affordable at small cutoff
    "l=3 explicit before ml": dict(loss_order=3, alpha=1.6, eta=0.8, eta_int=0.9,
                                   encoder="explicit", eta_int_placement="before",
                                   decoder="ml"),
    "l=3 ideal after": dict(loss_order=3, alpha=1.6, eta=0.8, eta_int=0.9, t_c_s=1e-4,
                            length_km=1.0),
}

#: heavy loss, where the decoders differ (found by scanning alpha, eta with the coherent
#: engine): F(ml) - F(smallest-loss) is 0.05-0.11 at these points
HEAVY = {
    "heavy l=1 ideal after": dict(loss_order=1, alpha=1.7, eta=0.2, eta_int=0.97),
    "heavy l=1 explicit before": dict(loss_order=1, alpha=2.8, eta=0.7, eta_int=0.97,
                                      encoder="explicit", eta_int_placement="before"),
    "heavy l=1 ideal lumped linear": dict(loss_order=1, alpha=1.7, eta=0.2, eta_int=0.97,
                                          eta_int_placement="lumped", usd="linear",
                                          p_dark=0.05),
}


def _compare(params: ProtocolParams):
    """Largest |difference| of P, F, rho and every record, baseline vs each engine."""
    fock = simulate(params=params, engine="fock")
    base = baseline_run(params, fock.cutoff)
    worst = 0.0
    for r in (fock, simulate(params=params, engine="coherent")):
        worst = max(worst, abs(base.P - r.P), abs(base.F - r.F),
                    float(np.abs(base.rho - r.rho_array).max()))
        for o in r.outcomes:
            key = (o.encoder_sector, o.syndrome, o.usd)
            if o.usd == "inconclusive":
                p_base = base.inconclusive[key[:2]]
            else:
                p_base, rho_base = base.records[key]
                worst = max(worst, float(np.abs(rho_base - o.rho_ab).max()))
            worst = max(worst, abs(p_base - float(o.probability)))
        assert len(r.outcomes) == len(base.records) + len(base.inconclusive)
    return worst, base


@pytest.mark.parametrize("name", list(POINTS))
def test_baseline_matches_both_engines(name):
    worst, base = _compare(ProtocolParams(**POINTS[name]))
    assert worst < tol(AGREE)
    assert 0 < base.P <= 1 and 0 <= base.F <= 1


@pytest.mark.parametrize("name", list(HEAVY))
def test_baseline_matches_engines_where_decoders_differ(name):
    """At heavy loss the ml frame beats smallest-loss by a wide margin (in the baseline's
    own numbers), and both engines agree with the baseline for both decoders."""
    F = {}
    for decoder in ("smallest-loss", "ml"):
        worst, base = _compare(ProtocolParams(**HEAVY[name], decoder=decoder))
        assert worst < tol(AGREE)
        F[decoder] = base.F
    assert F["ml"] - F["smallest-loss"] > 0.04


def test_speed_benchmark_entry_point():
    """``baseline_point`` (timed by ``catbell bench speed``) returns (P, F) of the run."""
    params = ProtocolParams(loss_order=1, alpha=2.0, eta=0.5)
    r = simulate(params=params, engine="fock")
    P, F = baseline_point(params, r.cutoff)
    assert P == pytest.approx(r.P, abs=tol(1e-10))
    assert F == pytest.approx(r.F, abs=tol(1e-10))
