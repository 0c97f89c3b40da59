"""Where eta_int acts (``eta_int_placement``) and how Bob corrects (``decoder``).

docs/model.md section 3 ("Imperfections" and step 6). Expected values come from the l = 0
closed forms of docs/model.md section 5 with the losses placed by hand, from the other
engine, and from a brute-force maximisation of each record's fidelity over every local
correction on B (independent of the decoder's closed-form choice).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import random_imperfect_points, tol

from catbell_qutip import evaluate, simulate
from catbell_qutip.bell import bell_fidelity
from catbell_qutip.closed_forms import l0_fidelity, l0_success
from catbell_qutip.params import DECODERS, ENCODERS, ETA_INT_PLACEMENTS, ProtocolParams

PLACEMENTS = ETA_INT_PLACEMENTS


@pytest.mark.parametrize("encoder", ENCODERS)
@pytest.mark.parametrize("placement", PLACEMENTS)
def test_placement_irrelevant_when_eta_int_is_one(placement, encoder):
    kw = dict(loss_order=1, alpha=1.4, eta=0.8, eta_d=0.9, encoder=encoder,
              engine="coherent")
    ref = simulate(**kw)
    r = simulate(eta_int=1.0, eta_int_placement=placement, **kw)
    assert r.P == pytest.approx(ref.P, abs=1e-15)
    np.testing.assert_allclose(r.rho_array, ref.rho_array, atol=1e-15)


@pytest.mark.parametrize("engine", ["coherent", "fock"])
@pytest.mark.parametrize("placement", PLACEMENTS)
def test_l0_closed_forms_for_every_placement(placement, engine):
    """l = 0 has two reflections, Alice's and Bob's entangling ones. Placed by hand:

    - "after": Alice's loss lies between the entangling reflections, Bob's after his:
      eta_pre = eta_int eta_ch, eta_tot = eta_int^2 eta_ch eta_d, amplitude alpha;
    - "before": Alice's loss acts on |alpha> before any reflection, i.e. it only rescales
      the amplitude to sqrt(eta_int) alpha; Bob's lies between the reflections:
      eta_pre = eta_int eta_ch, eta_tot = eta_int eta_ch eta_d at sqrt(eta_int) alpha;
    - "lumped": both in the channel: eta_pre = eta_int^2 eta_ch, eta_tot = eta_pre eta_d.
    """
    alpha, eta_int, eta_ch, eta_d, tc, L = 1.1, 0.83, 0.7, 0.9, 3e-4, 4.0
    params = ProtocolParams(loss_order=0, alpha=alpha, eta=eta_ch, eta_int=eta_int,
                            eta_d=eta_d, t_c_s=tc, length_km=L, db_per_km=0.0,
                            eta_int_placement=placement)
    d = float(params.memory_factor)
    a, pre, tot = {
        "after": (alpha, eta_int * eta_ch, eta_int ** 2 * eta_ch * eta_d),
        "before": (np.sqrt(eta_int) * alpha, eta_int * eta_ch, eta_int * eta_ch * eta_d),
        "lumped": (alpha, eta_int ** 2 * eta_ch, eta_int ** 2 * eta_ch * eta_d),
    }[placement]
    r = simulate(params=params, engine=engine)
    assert r.P == pytest.approx(float(l0_success(a, tot)), abs=tol(1e-11))
    assert r.F == pytest.approx(float(l0_fidelity(a, pre, d)), abs=tol(1e-11))


def test_lumped_folds_every_reflection_into_the_channel():
    """With "lumped", eta_int^k is the same as an extra channel loss, k = m + 2 (ideal
    encoder) or 2m + 2 (explicit)."""
    for l, encoder in itertools.product((1, 3), ENCODERS):
        m = (l + 1).bit_length() - 1
        k = m + 2 + (m if encoder == "explicit" else 0)
        base = dict(loss_order=l, alpha=1.6, encoder=encoder)
        a = evaluate(engine="coherent", eta_int=0.9, eta_int_placement="lumped", eta=0.8,
                     **base)
        b = evaluate(engine="coherent", eta=0.8 * 0.9 ** k, **base)
        for q in ("P", "F", "S"):
            assert float(a[q]) == pytest.approx(float(b[q]), rel=1e-13), (l, encoder, q)


@pytest.mark.parametrize(("l", "encoder", "placement", "decoder"), [
    (l, e, p, d) for l in (1, 3) for e in ENCODERS for p in PLACEMENTS for d in DECODERS
    if not (l == 3 and e == "explicit" and d == "smallest-loss" and p == "after")
])
def test_engines_agree_for_every_placement_encoder_decoder(l, encoder, placement, decoder):
    params = ProtocolParams(loss_order=l, alpha=1.3, eta_int=0.85, eta_c=0.6, eta_d=0.9,
                            length_km=3.0, t_c_s=2e-4, encoder=encoder,
                            eta_int_placement=placement, decoder=decoder)
    f = simulate(params=params, engine="fock")
    c = simulate(params=params, engine="coherent")
    assert f.P == pytest.approx(c.P, abs=tol(1e-9))
    np.testing.assert_allclose(f.rho_array, c.rho_array, atol=tol(1e-9))


def _best_record_fidelity(rho):
    """max over X^b on B and diag(1, e^{-i phi}) on B of <phi+|.|phi+>, by brute force on a
    fine phase grid refined around its best point (no use of the decoder's formula)."""
    perm = [1, 0, 3, 2]
    best = -np.inf
    for flip in (False, True):
        r = rho[np.ix_(perm, perm)] if flip else rho
        phis = np.linspace(-np.pi, np.pi, 721)
        for _ in range(4):
            ph = np.exp(-1j * phis[:, None] * np.array([0, 1, 0, 1]))
            rs = r[None] * ph[:, :, None] * ph.conj()[:, None, :]
            f = np.real(bell_fidelity(rs))
            i = int(np.argmax(f))
            step = phis[1] - phis[0]
            phis = np.linspace(phis[i] - step, phis[i] + step, 41)
        best = max(best, float(f[i]))
    return best


@pytest.mark.parametrize("engine", ["coherent", "fock"])
def test_ml_is_the_best_correction_per_record(engine):
    """Heavy loss (l = 3, alpha = 2.8, eta = 0.4): the ml-heralded F equals the sum over
    records of each record's best fidelity, found by brute force on the smallest-loss
    records (a correction on B is unitary, so correcting twice is one correction)."""
    kw = dict(loss_order=3, alpha=2.8, eta=0.4, engine=engine)
    sl = simulate(**kw)
    ml = simulate(decoder="ml", **kw)
    brute = sum(_best_record_fidelity(o.rho_ab) for o in sl.outcomes
                if o.rho_ab is not None) / sl.P
    assert ml.F == pytest.approx(brute, abs=tol(1e-9))
    assert ml.P == pytest.approx(sl.P, rel=1e-12)  # the decoder does not herald
    assert ml.F > sl.F + 0.1  # the smallest-loss guess is wrong at this loss
    assert ml.params.decoder == "ml" and ml.to_dict()["params"]["decoder"] == "ml"


@pytest.mark.parametrize("usd", ["tub", "linear"])
@pytest.mark.parametrize("l", [0, 1, 3])
def test_ml_never_below_smallest_loss(l, usd):
    pts = random_imperfect_points(100 + l, 40, usd)
    grid = {k: np.array([p[k] for p in pts]) for k in pts[0] if k != "usd"}
    for encoder in ENCODERS:
        sl = evaluate(l, usd=usd, encoder=encoder, **grid)
        ml = evaluate(l, usd=usd, encoder=encoder, decoder="ml", **grid)
        assert np.all(ml["F"] >= sl["F"] - 1e-12)
        np.testing.assert_allclose(ml["P"], sl["P"], rtol=1e-12)


@pytest.mark.parametrize("l", [0, 1, 3])
def test_decoders_coincide_where_losses_beyond_j0_are_negligible(l):
    """Weak loss: a loss of j0 + N photons has probability ~ y^N / N!, y the mean loss."""
    alpha = np.linspace(0.4, 1.2, 9)
    sl = evaluate(l, alpha=alpha, eta=0.995)
    ml = evaluate(l, alpha=alpha, eta=0.995, decoder="ml")
    for q in ("F", "S", "Q"):
        np.testing.assert_allclose(ml[q], sl[q], atol=1e-12)


def test_l0_decoders_coincide_exactly_even_with_dark_counts():
    """l = 0 has one record bit (which detector clicked) and no syndrome. Dark clicks hit
    both detectors alike, so a record is at worst 50/50 right, never more often wrong than
    right: the best correction per record is always smallest-loss's ("flip on odd"), with
    or without dark counts, at any loss (a decoder that changed the l = 0 frame would show
    here). Where ml does differ: l = 1 at heavy loss, with and without dark counts."""
    alpha = np.linspace(0.15, 3.0, 15)[:, None]
    eta = np.linspace(0.05, 1.0, 7)[None, :]
    for usd, p_dark in (("tub", 0.0), ("linear", 0.0), ("linear", 0.05), ("linear", 0.2)):
        kw = dict(alpha=alpha, eta=eta, eta_int=0.9, eta_d=0.8, usd=usd, p_dark=p_dark)
        sl = evaluate(0, **kw)
        ml = evaluate(0, decoder="ml", **kw)
        for q in ("P", "F", "S", "Q"):
            np.testing.assert_allclose(ml[q], sl[q], atol=1e-14, err_msg=(usd, p_dark, q))
    kw = dict(alpha=0.15, eta=0.3, usd="linear", p_dark=0.2)  # most clicks are dark
    sl, ml = simulate(0, engine="fock", **kw), simulate(0, engine="fock", decoder="ml", **kw)
    assert sl.Q > 0.4 and ml.F == pytest.approx(sl.F, abs=1e-14)
    for p_dark in (0.0, 0.05):
        kw = dict(alpha=2.4, eta=0.6, usd="linear", p_dark=p_dark)
        gain = (simulate(1, engine="coherent", decoder="ml", **kw).F
                - simulate(1, engine="coherent", **kw).F)
        assert gain > 0.01, (p_dark, gain)
