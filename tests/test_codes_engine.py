"""The Fock engine on every code family of docs/model.md section 7, against routes that
share nothing with it.

- every point of :func:`benchmarks.baseline_qutip.baseline_codes_points` (squeezed cat,
  binomial and user vectors at l = 0, 1, 3; both encoders, every eta_int placement, both
  decoders, every imperfection): P, F, the heralded state and every record against the
  full-space QuTiP baseline, which builds its codewords and its generalised TUB itself;
- the closed forms derived by hand in ``tests/test_baseline_codes.py``: the kitten code
  (|0> + sqrt2 |2> + |4>)/2 under one pure loss, the single-rail code N = 1, M = 0 with and
  without memory dephasing;
- the squeezed cat at r = 0 is the cat code (to 1e-12, every placement, both encoders);
- the codewords and the squeezed primitive against closed forms and
  ``qutip.displace * qutip.squeeze``; mean photon numbers against closed forms;
- the refusals: codes with the coherent engine or the linear-optics USD, alpha with
  codes that take none, M < 0 or not an integer, vectors off n = 0 mod N or of zero norm,
  huge squeezing (before any work), on the command line with exit code 2.

Cost: about 10 s CPU of the default run (the baseline dominates).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import qutip

import catbell_qutip as cb
from catbell_qutip._checks import MemoryLimitError, ParameterError
from catbell_qutip.cli import main
from catbell_qutip.codes import (
    Code,
    binomial_amplitudes,
    mean_photon_numbers,
    squeezed_coherent_amplitudes,
)
from catbell_qutip.params import ProtocolParams

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from test_baseline_codes import kitten_closed_form, single_rail_closed_form  # noqa: E402

from benchmarks.baseline_qutip import baseline_codes_points, baseline_run  # noqa: E402

#: engine vs baseline: both are exact up to rounding at the same cutoff
AGREE = 1e-11
POINTS = baseline_codes_points()


def _records(outcomes):
    return {(o.encoder_sector, o.syndrome, o.usd): o for o in outcomes if o.rho_ab is not None}


@pytest.mark.parametrize("name", sorted(POINTS))
def test_engine_matches_full_space_baseline(name):
    """Same cutoff on both sides: every conclusive record, P, F and the heralded state."""
    params = ProtocolParams(**POINTS[name])
    res = cb.simulate(params=params)
    base = baseline_run(params, res.cutoff)
    assert abs(res.P - base.P) < AGREE
    assert abs(res.F - base.F) < AGREE
    assert np.abs(res.rho_array - base.rho).max() < AGREE
    recs = _records(res.outcomes)
    assert set(recs) == set(base.records)
    for key, (p, rho) in base.records.items():
        assert abs(float(recs[key].probability) - p) < AGREE, key
        assert np.abs(recs[key].rho_ab - rho).max() < AGREE, key


@pytest.mark.parametrize("eta", [0.15, 0.5, 0.83, 0.99])
def test_kitten_code_under_one_pure_loss(eta):
    ref = kitten_closed_form(eta)
    r = cb.simulate(1, eta=eta, code="binomial", binomial_m=1)
    assert r.cutoff == 4 and r.truncation_error == 0.0
    assert abs(r.P - ref["P"]) < 1e-14 and abs(r.F - ref["F"]) < 1e-14
    # the loss may sit anywhere between the entangling reflections: eta_c, fibre, lumped
    r2 = cb.simulate(1, code="binomial", eta_c=eta)
    assert abs(r2.P - ref["P"]) < 1e-14 and abs(r2.F - ref["F"]) < 1e-14


@pytest.mark.parametrize("eta", [0.05, 0.4, 0.9])
@pytest.mark.parametrize("encoder", ["ideal", "explicit"])
def test_single_rail_code(eta, encoder):
    P, F = single_rail_closed_form(eta)
    r = cb.simulate(0, eta=eta, code="binomial", binomial_m=0, encoder=encoder)
    assert abs(r.P - P) < 1e-14 and abs(r.F - F) < 1e-14


def test_single_rail_code_with_memory_dephasing():
    eta, t_c = 0.7, 2e-5  # db_per_km = 0: L = 2 km only sets t_w = 1e-5 s
    P, F = single_rail_closed_form(eta, math.exp(-0.5))
    r = cb.simulate(0, eta=eta, code="binomial", binomial_m=0, length_km=2.0,
                    db_per_km=0.0, t_c_s=t_c)
    assert abs(r.P - P) < 1e-14 and abs(r.F - F) < 1e-14


@pytest.mark.parametrize("ell,m", [(1, 1), (1, 3), (3, 3), (3, 0)])
def test_binomial_code_without_loss_always_heralds_phi_plus(ell, m):
    """The pair is orthogonal: the generalised TUB is projective and never fails."""
    r = cb.simulate(ell, code="binomial", binomial_m=m)
    assert abs(r.P - 1) < 1e-14 and abs(r.F - 1) < 1e-14


R0 = [
    dict(loss_order=0, alpha=1.3, eta=0.7, eta_int=0.9, length_km=2.0, t_c_s=1e-4),
    dict(loss_order=1, alpha=1.6, eta_c=0.8, eta_int=0.88, eta_d=0.9, encoder="explicit",
         eta_int_placement="before", decoder="ml"),
    dict(loss_order=1, alpha=1.1, eta_dc=0.8, eta_uc=0.7, eta_int=0.9,
         eta_int_placement="lumped", encoder="explicit"),
    dict(loss_order=3, alpha=1.7, eta=0.85, eta_int=0.92, eta_d=0.95),
    dict(loss_order=3, alpha=2.4, eta=0.6, eta_int=0.95, encoder="explicit", decoder="ml"),
]


@pytest.mark.parametrize("kw", R0)
def test_squeezed_cat_at_zero_squeezing_is_the_cat_code(kw):
    cat = cb.simulate(**kw)
    sq = cb.simulate(code="squeezed-cat", squeezing=0.0, **kw)
    assert cat.cutoff == sq.cutoff
    for a, b in ((cat.P, sq.P), (cat.F, sq.F), (cat.S, sq.S)):
        assert abs(a - b) < 1e-12
    assert np.abs(cat.rho_array - sq.rho_array).max() < 1e-12


def test_squeezed_cat_batch_equals_points():
    """evaluate() batches points of different cutoffs; each equals its own simulate()."""
    alpha, r = np.array([0.8, 1.4, 2.0]), np.array([0.2, -0.3, 0.5])
    out = cb.evaluate(1, alpha=alpha, squeezing=r, code="squeezed-cat", eta=0.7)
    for i in range(3):
        one = cb.simulate(1, float(alpha[i]), 0.7, code="squeezed-cat",
                          squeezing=float(r[i]))
        assert abs(out["P"][i] - one.P) < 1e-14 and abs(out["F"][i] - one.F) < 1e-14


# -- codewords ------------------------------------------------------------------------------
def test_binomial_codewords_are_the_closed_form():
    """2^{-(M+1)/2} sum_k sqrt(C(M+1, k)) |k N>, written out for the kitten and single rail."""
    assert np.allclose(binomial_amplitudes(2, 1, 6)[:5], [0.5, 0, math.sqrt(0.5), 0, 0.5],
                       rtol=0, atol=1e-16)
    assert np.allclose(binomial_amplitudes(1, 0, 3)[:2], [math.sqrt(0.5)] * 2, atol=1e-16)
    for N, M in [(2, 3), (4, 3), (8, 1)]:
        c = binomial_amplitudes(N, M, N * (M + 1))
        ref = np.zeros(N * (M + 1) + 1)
        for k in range(M + 2):
            ref[k * N] = math.sqrt(math.comb(M + 1, k) / 2 ** (M + 1))
        assert np.abs(c - ref).max() < 1e-15
        # the pair is orthogonal and the mean photon number N (M + 1) / 2
        n = np.arange(c.size)
        assert abs(np.vdot(c, np.exp(1j * np.pi * n / N) * c)) < 1e-15
        assert abs(Code("binomial", N, binomial_m=M).mean_photon_number() - N * (M + 1) / 2) \
            < 1e-12


@pytest.mark.parametrize("alpha,r", [(0.0, 0.6), (1.3, 0.4), (2.0, -0.3), (1.0, -0.8)])
def test_squeezed_primitive_is_qutip_displace_squeeze(alpha, r):
    """MODEL convention S(r) = exp[(r/2)(a^2 - a^dag^2)] is qutip.squeeze(N, r)."""
    big = 160
    ref = (qutip.displace(big, alpha) * qutip.squeeze(big, r) * qutip.basis(big, 0)).full()
    mine = squeezed_coherent_amplitudes(alpha, r, 90)
    assert np.abs(mine - ref[:91, 0]).max() < 1e-12


@pytest.mark.parametrize("N", [1, 2, 4])
def test_squeezed_cat_codeword_is_the_normalised_projection(N):
    big, alpha, r = 200, 1.4, 0.35
    psi = (qutip.displace(big, alpha) * qutip.squeeze(big, r) * qutip.basis(big, 0)).full()[:, 0]
    n = np.arange(big)
    proj = np.where(n % N == 0, psi, 0)
    proj = proj / np.linalg.norm(proj)
    code = Code("squeezed-cat", N, alpha=alpha, squeezing=r)
    assert np.abs(code.codeword_amplitudes(0, 60) - proj[:61]).max() < 1e-12
    assert np.abs(code.primitive_amplitudes(60) - psi[:61]).max() < 1e-12


def test_mean_photon_numbers():
    """Cat |0_2>: x tanh x; |alpha>: x; squeezed vacuum (explicit, N = 1): sinh^2 r;
    binomial N (M + 1) / 2; a user vector: sum n |c_n|^2."""
    x = 1.7 ** 2
    p = ProtocolParams(loss_order=1, alpha=1.7)
    assert abs(float(mean_photon_numbers(p)) - x * math.tanh(x)) < 1e-12
    assert abs(float(mean_photon_numbers(p.replace(encoder="explicit"))) - x) < 1e-12
    sq = ProtocolParams(loss_order=0, alpha=0.0, code="squeezed-cat", squeezing=0.7,
                        encoder="explicit")
    assert abs(float(mean_photon_numbers(sq)) - math.sinh(0.7) ** 2) < 1e-10
    b = ProtocolParams(loss_order=3, code="binomial", binomial_m=2)
    assert abs(float(mean_photon_numbers(b)) - 6.0) < 1e-12
    v = ProtocolParams(loss_order=1, code="vector", code_vector=(0.6, 0, 0.8))
    assert abs(float(mean_photon_numbers(v)) - 2 * 0.64) < 1e-14
    r = cb.simulate(1, code="binomial", eta=0.9)
    assert r.to_dict()["code"] == {"family": "binomial", "N": 2, "binomial_m": 1,
                                   "mean_photon_number": 2.0}


def test_user_vector_as_ket_amplitudes_or_field():
    k = qutip.Qobj(np.array([1, 0, math.sqrt(2), 0, 1]) / 2)
    a = cb.simulate(1, code=k, eta=0.6)
    b = cb.simulate(1, code=[2, 0, 2 * math.sqrt(2), 0, 2], eta=0.6)  # unnormalised
    c = cb.simulate(1, code="binomial", eta=0.6)
    assert a.params.code == "vector" and b.params.code == "vector"
    for r in (a, b):
        assert abs(r.P - c.P) < 1e-15 and abs(r.F - c.F) < 1e-15


# -- refusals ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kw,match", [
    (dict(code="binomial", alpha=1.0), "alpha does not apply to code='binomial'"),
    (dict(code="binomial", engine="coherent"), "engine='coherent' computes cat codes only"),
    (dict(code="binomial", usd="linear"), "usd='linear' is a cat-code scheme"),
    (dict(alpha=1.0, squeezing=0.3), "squeezing applies to code='squeezed-cat' only"),
    (dict(code="binomial", binomial_m=-1), "binomial_m = -1 is outside"),
    (dict(code="binomial", binomial_m=1.5), "binomial_m must be an integer"),
    (dict(alpha=1.0, binomial_m=1), "binomial_m applies to code='binomial' only"),
    (dict(code=[1, 1]), "not supported on photon numbers n = 0 mod N = 2"),
    (dict(code=[0, 0, 0]), "cannot be normalised"),
    (dict(code="vector"), "needs code_vector"),
    (dict(code="squeezed-cat"), "needs alpha"),
])
def test_bad_code_input_is_a_typed_error(kw, match):
    with pytest.raises(ParameterError, match=match):
        cb.simulate(1, **kw)


@pytest.mark.parametrize("r", [5.0, 19.0, 20.0, -20.0])
def test_huge_squeezing_is_refused_before_any_work(monkeypatch, r):
    """Up to the allowed |r| = 20, where tanh|r| rounds to 1 (from |r| ~ 19) and a naive
    log(tanh|r|) = 0 made the cutoff estimate infinite (a traceback, found by a new user)."""
    monkeypatch.setenv("CATBELL_MAX_MEMORY_GB", "4")
    with pytest.raises(MemoryLimitError, match=rf"squeezing = {r:g} .*use a smaller alpha "
                                                r"or squeezing"):
        cb.simulate(1, 1.0, code="squeezed-cat", squeezing=r)


def test_vector_and_loss_order_that_disagree():
    """A vector on n = 0 mod 2 is a code of order 2, not 4."""
    kitten = [0.5, 0, math.sqrt(0.5), 0, 0.5]
    assert cb.simulate(1, code=kitten).P == pytest.approx(1, abs=1e-14)
    with pytest.raises(ParameterError, match=r"n = 0 mod N = 4 \(loss order 3\)"):
        cb.simulate(3, code=kitten)


@pytest.mark.parametrize("argv,flag", [
    (["--code", "binomial", "--alpha", "1"], "--alpha does not apply to --code binomial"),
    (["--code", "binomial", "--engine", "coherent"], "--engine coherent computes cat codes"),
    (["--code", "binomial", "--usd", "linear"], "--usd linear is a cat-code scheme"),
    (["--code", "binomial", "--binomial-m", "-1"], "--binomial-m = -1"),
    (["--code", "binomial", "--binomial-m", "1.5"], "--binomial-m: not an integer"),
    (["--alpha", "1", "--squeezing", "0.3"], "--squeezing applies to --code squeezed-cat"),
    (["--code", "squeezed-cat", "--squeezing", "0.3"], "give --alpha"),
    (["--code", "gkp"], "--code: invalid choice"),
])
def test_bad_code_flags_exit_2_with_the_flag_named(argv, flag, capsys):
    try:
        code = main(["simulate", "--loss-order", "1", *argv])
    except SystemExit as exc:  # argparse's own refusals (an unknown choice)
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert flag in err and err.count("\n") == 1
