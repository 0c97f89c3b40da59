"""Numerical edges of the entry points: points that cannot herald, strong light, large
batches cut into chunks, and closed forms for the memory rule and dark counts.

Expected values come from docs/model.md section 5's closed forms
(:mod:`catbell_qutip.closed_forms`), closed forms derived in the docstrings here, the other
engine, or pointwise :func:`simulate`.
"""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
from conftest import tol

import catbell_qutip as cb
from catbell_qutip import api, protocol
from catbell_qutip._checks import ParameterError, PrecisionError
from catbell_qutip.closed_forms import ideal_protocol
from catbell_qutip.engines import CoherentState, FockState
from catbell_qutip.params import C_FIBRE_M_PER_S, ProtocolParams
from catbell_qutip.result import P_FLOOR, check_heralded_state


def _evaluate_warns_p_zero(n_zero, *args, **kwargs):
    with pytest.warns(cb.NoHeraldWarning, match=rf"^{n_zero} point\(s\) have P = 0"):
        return cb.evaluate(*args, **kwargs)


def test_no_herald_is_a_warning_class_the_scans_silence_by_class(monkeypatch):
    """P = 0 warns NoHeraldWarning (a RuntimeWarning); the scans that expect it (key rate
    against alpha from 0) silence it by class, so rewording the message cannot make them
    warn (this run has -Werror)."""
    from catbell_qutip import api as api_mod
    from catbell_qutip.keyrate import key_rate_vs_alpha

    assert issubclass(cb.NoHeraldWarning, RuntimeWarning)
    assert issubclass(cb.UnreachableRateWarning, RuntimeWarning)
    real = api_mod.warnings.warn

    def reworded(message, category=UserWarning, stacklevel=1):
        real("reworded: no attempt heralds somewhere", category, stacklevel=stacklevel + 1)

    monkeypatch.setattr(api_mod.warnings, "warn", reworded)
    with pytest.warns(cb.NoHeraldWarning, match="^reworded"):
        cb.evaluate(0, alpha=[0.0, 1.0])
    ds = key_rate_vs_alpha(0, [0.0, 0.5], length_km=5.0)
    assert ds["P"].values[0] == 0.0 and ds["key_rate"].values[1] > 0


# -- points that cannot herald -----------------------------------------------------------

@pytest.mark.parametrize("engine", ["coherent", "fock"])
def test_subnormal_P_does_not_take_its_neighbours_down(engine):
    """alpha = 1e-78: P ~ alpha^4 is subnormal; it used to raise LinAlgError for the whole
    batch. Now P = 0 there (below P_FLOOR), F/S/Q NaN, the other points exact."""
    alpha = np.array([1.0, 0.5, 1e-78])
    r = _evaluate_warns_p_zero(1, 1, engine=engine, alpha=alpha, eta=0.8)
    ref = ideal_protocol(1, alpha[:2], 0.8)
    assert r["P"][2] == 0.0 and np.isnan(r["F"][2]) and np.isnan(r["S"][2])
    assert np.allclose(r["P"][:2], ref["P"], rtol=0, atol=tol(1e-10))
    assert np.allclose(r["F"][:2], ref["F"], rtol=0, atol=tol(1e-10))
    assert np.allclose(r["S"][:2], ref["S"], rtol=0, atol=tol(1e-10))
    res = cb.simulate(1, 1e-78, engine=engine)
    assert res.P == 0.0 and res.F is None and res.S is None and res.Q is None


def test_weak_light_scan_never_crashes():
    """2400 amplitudes from 1e-200 to 1 (63 of them used to crash the scan): P equals the
    closed form where it is above P_FLOOR and is 0 below; F, S finite wherever P > 0."""
    alpha = np.logspace(-200, 0, 2400)
    with pytest.warns(RuntimeWarning, match="have P = 0"):
        r = cb.evaluate(1, alpha=alpha, eta=0.7)
    ref = ideal_protocol(1, alpha, 0.7)
    above = ref["P"] >= 2 * P_FLOOR
    assert np.all(r["P"][~above & (ref["P"] < 0.5 * P_FLOOR)] == 0.0)
    assert np.allclose(r["P"][above], ref["P"][above], rtol=tol(1e-9), atol=0)
    ok = r["P"] > 0
    assert np.all(np.isfinite(r["S"][ok])) and np.all(np.isnan(r["S"][~ok]))
    assert np.allclose(r["F"][ok], ref["F"][ok], rtol=0, atol=tol(1e-9))


# -- strong light ------------------------------------------------------------------------

@pytest.mark.parametrize("usd", ["tub", "linear"])
@pytest.mark.parametrize("l", [0, 1, 3])
def test_random_large_alpha_points_are_probabilities(l, usd):
    """P exceeded 1 by up to 4e-11 for alpha 12-1000 and the linear USD gave NaN above
    alpha ~ 99 (l = 3, eta = 0.7): 0 <= P, F, Q <= 1 and 0 <= S <= 2 sqrt 2 at random
    strong-light points; with the TUB and one pure loss, P is the closed form's."""
    rng = np.random.default_rng(100 + l)
    alpha = np.exp(rng.uniform(np.log(12.0), np.log(600.0), 12))
    eta = rng.uniform(0.05, 1.0, 12)
    r = cb.evaluate(l, alpha=alpha, eta=eta, usd=usd, eta_d=0.9 if usd == "linear" else 1.0)
    for k in ("P", "F", "Q"):
        assert np.all((r[k] >= 0) & (r[k] <= 1)), k
    assert np.all((r["S"] >= 0) & (r["S"] <= 2 * math.sqrt(2)))
    if usd == "tub":  # docs/model.md 5: the ideal protocol (one pure loss, TUB)
        ref = ideal_protocol(l, alpha, eta)
        assert np.allclose(r["P"], ref["P"], rtol=0, atol=tol(1e-9))
        assert np.allclose(r["F"], ref["F"], rtol=0, atol=tol(1e-9))
    if l == 3:  # the largest amplitude accepted (one point: ~1e6-term sums)
        r3 = cb.evaluate(l, alpha=[1000.0], eta=0.7, usd=usd)
        assert 0 <= r3["P"][0] <= 1 and 0 <= r3["Q"][0] <= 1 and np.isfinite(r3["S"][0])


def test_linear_usd_at_large_alpha_matches_moderate_alpha_limit():
    """The rescaled click products agree with the direct form where both are finite, and
    the coherent engine agrees with the Fock engine (an independent construction)."""
    for a in (2.0, 3.5):
        c = cb.simulate(3, a, 0.7, usd="linear", engine="coherent", eta_d=0.9)
        f = cb.simulate(3, a, 0.7, usd="linear", engine="fock", eta_d=0.9)
        assert abs(c.P - f.P) < tol(1e-9) and abs(c.F - f.F) < tol(1e-9)


def test_fock_outputs_are_clipped_into_probabilities():
    """Fock evaluate returned P = -2.45e-17 and Q = -6.7e-12 at weak light with the linear
    USD; every value is now in [0, 1]."""
    rng = np.random.default_rng(7)
    for a, e in zip(rng.uniform(0.05, 0.4, 4), rng.uniform(0.05, 1.0, 4), strict=True):
        r = cb.evaluate(1, engine="fock", outputs=("P",), alpha=a, eta=e, usd="linear")
        assert 0.0 <= float(r["P"]) <= 1.0
    r = cb.simulate(0, 0.6, 0.9)
    assert 0.0 <= r.Q <= 1.0 and 0.0 <= r.F <= 1.0


# -- batches larger than one chunk -------------------------------------------------------

@pytest.mark.parametrize("encoder", ["ideal", "explicit"])
@pytest.mark.parametrize("l", [0, 1, 3])
def test_multi_chunk_batch_equals_pointwise_and_closed_forms(l, encoder, monkeypatch):
    """A grid cut into many chunks (protocol.CHUNK_BYTES made tiny): giving every chunk
    the first chunk's initial state used to shift P by 0.72 on a 200-point l = 3 grid.
    Both the outcomes path (api.run) and evaluate's chunked reduction are checked."""
    monkeypatch.setattr(protocol, "CHUNK_BYTES", 1)  # 16 points per chunk
    alpha = np.linspace(0.3, 2.6, 40)
    eta = np.array([0.35, 0.9])[:, None]
    ref = ideal_protocol(l, alpha, eta, encoder=encoder)
    params = ProtocolParams(loss_order=l, alpha=alpha, eta=eta, encoder=encoder)
    outcomes, _, _ = api.run(params, engine="coherent")
    P_run = cb.result.herald(outcomes)[0]
    assert P_run.shape == (2, 40)
    assert np.allclose(P_run, ref["P"], rtol=0, atol=tol(1e-10))
    monkeypatch.setattr(api, "EVALUATE_CHUNK_BYTES", 1)  # one point per evaluate chunk
    r = cb.evaluate(l, alpha=alpha, eta=eta, encoder=encoder)
    assert np.allclose(r["P"], ref["P"], rtol=0, atol=tol(1e-10))
    assert np.allclose(r["F"], ref["F"], rtol=0, atol=tol(1e-10))
    for i, j in [(0, 0), (1, 17), (0, 39), (1, 33)]:
        s = cb.simulate(l, alpha[j], float(eta[i, 0]), encoder=encoder, engine="coherent")
        assert abs(r["S"][i, j] - s.S) < tol(1e-10) and abs(r["P"][i, j] - s.P) < tol(1e-12)


def test_evaluate_memory_does_not_grow_with_the_grid(monkeypatch):
    """evaluate streams: peak memory beyond the outputs is one chunk, whatever the grid.

    Going from 1,000 to 4,000 points (l = 1: 6 records per point) may add only the
    outputs and broadcast inputs (~100 bytes per point), not the per-record arrays
    (~6 x 272 bytes per point; l = 3 has 12), which held 5.6 GB on a 1000 x 1000 l = 3
    grid."""
    monkeypatch.setattr(api, "EVALUATE_CHUNK_BYTES", 2 ** 21)

    def peak(n):
        alpha = np.linspace(0.5, 2.5, n)
        tracemalloc.start()
        cb.evaluate(1, alpha=alpha, eta=0.8)
        out = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return out

    small, large = peak(1000), peak(4000)
    assert large - small < 200 * 3000, (small, large)


# -- the memory rule and dark counts against closed forms --------------------------------

@pytest.mark.parametrize("rule,factor", [("one-way", 1.0), ("round-trip", 2.0), ("none", 0.0)])
def test_wait_rule_scales_2F_minus_1(rule, factor):
    """l = 0 closed form (docs/model.md 5): 2F - 1 = d exp(-2 (1 - eta) |alpha|^2) with
    d = exp(-t_w / t_c) and t_w = L / c_f, 2 L / c_f or 0 by ``wait_rule``; so 2F - 1
    divided by its value with an ideal memory is exp(-factor L / (c_f t_c))."""
    L, t_c = 30.0, 2e-4
    kw = dict(length_km=L, wait_rule=rule, eta=0.9)
    d = math.exp(-factor * L * 1e3 / (C_FIBRE_M_PER_S * t_c))
    for engine in ("coherent", "fock"):
        mem = cb.simulate(0, 0.8, t_c_s=t_c, engine=engine, **kw)
        ideal = cb.simulate(0, 0.8, engine=engine, **kw)
        assert abs((2 * mem.F - 1) / (2 * ideal.F - 1) - d) < tol(1e-10)
        assert abs(mem.P - ideal.P) < tol(1e-12)  # the memory never changes P
    eta_ch = 0.9 * 10 ** (-0.2 * L / 10)
    assert abs(2 * mem.F - 1 - d * math.exp(-2 * (1 - eta_ch) * 0.64)) < tol(1e-10)


@pytest.mark.parametrize("p_dark", [0.0, 0.003, 0.05, 0.2])
def test_dark_counts_l0_closed_form(p_dark):
    """l = 0, linear-optics USD with dark counts, against a closed form derived here.

    Derivation. N = 1, so there is no syndrome. Alice's atom in |+> reflects |alpha>
    (CR(pi)): |up>|alpha> + |down>|-alpha>. The channel (transmission eta) leaves the light
    at sqrt(eta) alpha and multiplies Alice's coherence by D = exp(-2 (1 - eta) alpha^2)
    (the overlap of what the environment took). Bob's atom in |+> reflects (CR(pi)): the
    register state |a b> carries the light |s beta>, s = (-1)^(a + b); the detector loss
    makes x = |beta|^2 = eta eta_d alpha^2 (it acts on each |s beta> alone and does not
    touch coherences between equal s, the only ones F needs).

    The USD splits the light into M = 2 modes of amplitude beta / sqrt 2; mode j is
    displaced by -(-1)^j beta / sqrt 2, so for |+beta> mode 0 is in vacuum and mode 1 in a
    coherent state of mean photon number 2x; for |-beta> the other way round. Each on/off
    detector clicks with probability 1 - (1 - p) <0|rho|0> (dark-click probability p).
    "even" (A = B) is: mode 1 clicks and mode 0 does not ("odd" the mirror image), so

        e++ = <+beta|E_even|+beta> = (1 - p) (1 - (1 - p) e^{-2x})   (right outcome)
        e-- = <-beta|E_even|-beta> = p (1 - p) e^{-2x}              (dark click: wrong)

    and by symmetry the odd effect has the same two numbers for -beta and +beta. Each of
    the four |a b> has weight 1/4. With the Pauli frame (X on B after "odd"):

        P = e++ + e--,
        F = e++ (1 + D) / (2 P)   (<phi+|rho|phi+> reads the a = b block and its
                                   coherence 1/4 D e++ in both outcomes),
        Q = e-- / P               (the wrong-bit records).

    Doubling p (a bug the suite used to miss) moves P, F and Q by far more than 1e-10.
    """
    alpha, eta, eta_d = 0.9, 0.75, 0.85
    x = eta * eta_d * alpha ** 2
    e_pp = (1 - p_dark) * (1 - (1 - p_dark) * math.exp(-2 * x))
    e_mm = p_dark * (1 - p_dark) * math.exp(-2 * x)
    D = math.exp(-2 * (1 - eta) * alpha ** 2)
    P = e_pp + e_mm
    F = e_pp * (1 + D) / (2 * P)
    Q = e_mm / P
    for engine in ("coherent", "fock"):
        r = cb.simulate(0, alpha, eta, eta_d=eta_d, usd="linear", p_dark=p_dark, engine=engine)
        assert abs(r.P - P) < tol(1e-10), engine
        assert abs(r.F - F) < tol(1e-10), engine
        assert abs(r.Q - Q) < tol(1e-10), engine


# -- the heralded state at the precision edge ----------------------------------------------

def _state_or_refusal(call):
    """``call()``'s ProtocolResult, or None where it refuses with PrecisionError."""
    try:
        return call()
    except PrecisionError as exc:
        assert "not a density matrix to within" in str(exc) or "floor" in str(exc)
        return None


@pytest.mark.parametrize("l", [3, 7])
def test_linear_ml_along_L_is_a_state_or_refused(l):
    """Coherent engine, linear-optics USD, ml decoder: from P ~ 1e-32 down, rho_AB had
    eigenvalues down to -0.34 and, clipped, read F = 1, S = 2 sqrt 2. Along L,
    from P ~ 0.3 to below 1e-230, every point is a density matrix (Hermitian, trace 1,
    eigenvalues >= -1e-12, checked here on the returned state) or a clean refusal; the
    coherent engine now refuses none of them (it keeps its precision, see below)."""
    lengths = np.linspace(0.0, 2900.0 if l == 3 else 1480.0, 30 if l == 3 else 16)
    refused = 0
    for L in lengths:
        r = _state_or_refusal(lambda L=L: cb.simulate(
            l, 2.0, length_km=L, usd="linear", decoder="ml", engine="coherent"))
        if r is None:
            refused += 1
            continue
        assert r.P > 0, L
        rho = r.rho_array
        assert np.max(np.abs(rho - rho.conj().T)) <= 1e-12, L
        assert abs(np.trace(rho).real - 1.0) <= 1e-12, L
        assert np.linalg.eigvalsh(rho)[0] >= -1e-12, (L, r.P)
        assert 0.5 <= r.F <= 1.0 and r.S <= 2 * math.sqrt(2)
    assert refused == 0
    assert r.P < 1e-230  # the sweep reached the deep tail


@pytest.mark.parametrize("decoder", ["ml", "smallest-loss"])
@pytest.mark.parametrize("l", [1, 3, 7])
def test_coherent_linear_usd_keeps_precision_down_to_tiny_P(l, decoder):
    """Physics: with the channel transmission eta -> 0 the light at Bob's detectors is
    x = eta alpha^2 -> 0, a conclusive record needs N = l + 1 clicks, so
    P = c eta^N (1 + O(eta)) and rho_AB tends to a limit. Between eta = 1e-12 and
    eta = 1e-(large) the coherent engine must reproduce P ratios (eta2 / eta1)^N and the
    same F, S, Q to rounding. Before the fix, P was 3 % off at l = 3, L = 800 km and the
    syndrome-3 records had negative probabilities of the size of P.

    The first point (P ~ 1e-7 .. 1e-13) is also checked against the Fock engine, an
    independent construction, where the Fock engine still resolves it."""
    n = l + 1
    deep = {1: 120.0, 3: 60.0, 7: 30.0}[l]  # P ~ 1e-250 .. 1e-245 at the deep end
    etas = 10.0 ** -np.array([12.0, 20.0, 0.5 * deep, deep])
    rs = [cb.simulate(l, 2.0, float(e), usd="linear", decoder=decoder, engine="coherent")
          for e in etas]
    assert rs[-1].P < 1e-200
    for e, r in zip(etas[1:], rs[1:], strict=True):
        ratio = (r.P / rs[0].P) / (e / etas[0]) ** n
        assert abs(ratio - 1.0) < tol(1e-9), (e, ratio)
        assert abs(r.F - rs[0].F) < tol(1e-9), e
        assert abs(r.S - rs[0].S) < tol(1e-9), e
        assert abs(r.Q - rs[0].Q) < tol(1e-9), e
    if l == 1:  # Fock resolves P ~ 1e-7 at eta = 1e-3 (the same limit to O(eta))
        c = cb.simulate(l, 2.0, 1e-3, usd="linear", decoder=decoder, engine="coherent")
        f = cb.simulate(l, 2.0, 1e-3, usd="linear", decoder=decoder, engine="fock")
        assert abs(c.P - f.P) < tol(1e-12) and abs(c.F - f.F) < tol(1e-9)


def test_heralded_state_check_refuses_what_is_not_a_state():
    """The one check both engines run before F, S, Q: Hermitian, trace 1 and PSD to
    STATE_TOL; a batch is refused naming its worst point."""
    good = np.diag([0.5, 0.0, 0.0, 0.5]).astype(complex)
    check_heralded_state(good)
    check_heralded_state(np.stack([good, np.full((4, 4), np.nan)]))  # P = 0: skipped
    neg = np.diag([0.6, -1e-6, 0.0, 0.4 + 1e-6])
    with pytest.raises(PrecisionError, match=r"at P = 1e-70 .*smallest eigenvalue -1e-06"):
        check_heralded_state(neg, 1e-70)
    with pytest.raises(PrecisionError, match=r"\|tr rho - 1\| = 0\.01"):
        check_heralded_state(1.01 * good)
    skew = good.copy()
    skew[0, 3] = 1e-3
    with pytest.raises(PrecisionError, match=r"\|rho - rho\^dagger\| = 0\.001"):
        check_heralded_state(skew)
    with pytest.raises(PrecisionError, match=r"\(1 of 2 points; the worst shown\)"):
        check_heralded_state(np.stack([good, neg]), np.array([0.1, 1e-70]))
    check_heralded_state(np.diag([0.5, -1e-10, 0.0, 0.5 + 1e-10]))  # within STATE_TOL


@pytest.mark.parametrize("engine", ["coherent", "fock"])
def test_both_engines_refuse_a_state_that_is_not_one(engine, monkeypatch):
    """Wiring: a USD effect that is not positive (what the lost precision did) reaches
    the state check from simulate and evaluate of either engine, which refuse. (The
    linear-optics USD: both engines build its effects through ``usd_effects``; the Fock
    engine's TUB takes rank-one factors instead.)"""
    cls = CoherentState if engine == "coherent" else FockState
    real = cls.usd_effects

    def broken(self, *args, **kwargs):
        eff = dict(real(self, *args, **kwargs))
        eff["odd"] = -0.5 * np.asarray(eff["even"])  # "odd" records of negative weight
        return eff

    monkeypatch.setattr(cls, "usd_effects", broken)
    with pytest.raises(PrecisionError, match="not a density matrix"):
        cb.simulate(0, 1.0, 0.9, engine=engine, usd="linear")
    with pytest.raises(PrecisionError, match="not a density matrix"):
        cb.evaluate(0, engine=engine, alpha=[1.0, 1.2], eta=0.9, usd="linear")


def test_fock_linear_floor_is_refused_before_the_work(monkeypatch):
    """Fock l = 7 with the linear USD ran 180-200 s (2^16 no-click matrices) before
    refusing on the P floor. The floor is now predicted from the coherent
    engine's P and refused before any click effect is built; points above it still run."""
    def built(*args, **kwargs):
        raise AssertionError("the Fock click effects were built")

    monkeypatch.setattr("catbell_qutip.engines.fock.linear_optics_povm_matrices", built)
    P = cb.simulate(7, 2.0, length_km=20, usd="linear", engine="coherent").P
    assert P < api.FOCK_LINEAR_P_FLOOR
    with pytest.raises(PrecisionError, match=f"P = {P:.3g} \\(predicted by the coherent "
                       "engine, before the Fock run\\) is below the Fock engine's"):
        cb.simulate(7, 2.0, length_km=20, usd="linear")
    with pytest.raises(PrecisionError, match="below the Fock engine's resolution floor"):
        cb.evaluate(7, engine="fock", alpha=[2.0], length_km=20, usd="linear")
    with pytest.raises(AssertionError, match="were built"):  # above the floor: it runs
        cb.simulate(7, 2.0, length_km=5, usd="linear")


def test_fock_linear_floor_is_predicted_for_a_whole_batch(monkeypatch):
    """The batched Fock engine refuses a batch if any point is below the floor; the
    prediction does the same, before any click effect is built, from the coherent
    engine's P of every point (which a batch of points above the floor reproduces)."""
    def built(*args, **kwargs):
        raise AssertionError("the Fock click effects were built")

    monkeypatch.setattr("catbell_qutip.engines.fock.linear_optics_povm_matrices", built)
    L = np.array([5.0, 20.0, 10.0])
    P = cb.evaluate(7, alpha=2.0, length_km=L, usd="linear", outputs=("P",))["P"]
    assert P[0] > api.FOCK_LINEAR_P_FLOOR > P[1]  # one point of three below the floor
    with pytest.raises(PrecisionError, match=f"P = {P.min():.3g} \\(predicted"):
        cb.evaluate(7, engine="fock", alpha=2.0, length_km=L, usd="linear")
    with pytest.raises(PrecisionError, match="predicted"):  # a grid too
        cb.evaluate(7, engine="fock", alpha=[2.0], length_km=L, usd="linear", grid=True)
    with pytest.raises(AssertionError, match="were built"):  # every point above: it runs
        cb.evaluate(7, engine="fock", alpha=2.0, length_km=[5.0, 6.0], usd="linear")
    # P alone has no floor (only F, S, Q are conditioned on success): nothing predicted
    with pytest.raises(AssertionError, match="were built"):
        cb.evaluate(7, engine="fock", alpha=2.0, length_km=L, usd="linear", outputs=("P",))


def test_fock_floor_prediction_never_runs_the_coherent_engine_on_other_codes(monkeypatch):
    """Only cat codes have a linear-optics USD (and only cats run on the coherent
    engine): a squeezed cat or a binomial code on the Fock engine, and a cat with the
    TUB (no floor), run without a coherent-engine prediction."""
    def coherent(*args, **kwargs):
        raise AssertionError("the coherent engine was called")

    monkeypatch.setattr(api, "_evaluate_coherent", coherent)
    r = cb.evaluate(1, engine="fock", code="squeezed-cat", alpha=[1.0, 1.5], squeezing=0.2)
    assert np.all(r["P"] > 0) and np.all(np.isfinite(r["S"]))
    r = cb.evaluate(1, engine="fock", code="binomial", binomial_m=1, eta=[0.8, 0.9])
    assert np.all(r["P"] > 0) and np.all(np.isfinite(r["S"]))
    assert cb.simulate(1, 1.0, engine="fock").S > 2
    with pytest.raises(ParameterError, match="cat-code scheme"):
        cb.evaluate(1, engine="fock", code="binomial", binomial_m=1, usd="linear")
