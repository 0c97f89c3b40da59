"""The coherent engine's fast P (:class:`~catbell_qutip.engines.coherent.RingLight` and the
0-d path of :func:`~catbell_qutip.sectors.poisson_residue_masses`) gives main's numbers
bit for bit: ``==`` on the bytes, not ``isclose``.

The reference is the route as it was before the fast path: :func:`_reference_probability`
is the old body of :func:`catbell_qutip.protocol.run_probability`, run on the full
:class:`~catbell_qutip.engines.coherent.CoherentState` with the generic
:class:`~catbell_qutip.engines.base.LightAtomState` operations, and
:func:`_reference_masses` the old :func:`~catbell_qutip.sectors.poisson_residue_masses`
(both copied verbatim), which the reference run uses in the engine's place.
"""

from __future__ import annotations

import numpy as np
import pytest

from catbell_qutip import sectors
from catbell_qutip.engines import CoherentState, FockState, coherent
from catbell_qutip.engines.coherent import RingLight
from catbell_qutip.params import ProtocolParams
from catbell_qutip.protocol import _flush, _placed, _readout, run_probability
from catbell_qutip.sectors import poisson_n_max, poisson_pmf, poisson_residue_masses


def _reference_masses(y, modulus: int) -> np.ndarray:
    """poisson_residue_masses as it was before its 0-d path (verbatim)."""
    y = np.asarray(y, dtype=float)
    if not (np.isfinite(y).all() and (y >= 0).all()):
        raise ValueError("poisson_residue_masses: y must be finite and >= 0")
    p = poisson_pmf(y, poisson_n_max(float(y.max()) if y.size else 0.0))
    out = np.empty(y.shape + (modulus,))
    for r in range(modulus):
        np.add.reduce(p[..., r::modulus], axis=-1, out=out[..., r])
    return out / out.sum(axis=-1, keepdims=True)


def _reference_probability(params, initial, *, explicit: bool):
    """run_probability's body before RingLight (verbatim), on ``initial`` itself."""
    n_comp, m = params.n_components, params.n_rounds
    before, after = _placed(params.eta_int_at_reflections, params.eta_int_placement)
    encoded = (_readout(initial, 1.0, m, before, after) if explicit
               else [(0, initial, 1.0)])
    P = 0.0
    for r, st, pend in encoded:
        st = _flush(st, pend * before).reflect_traced(np.pi / n_comp)
        for s, sub, pend_s in _readout(st, after * params.eta_channel, m, before, after):
            sub = _flush(sub, pend_s * before)
            P = P + sub.conclusive_probability(np.pi / n_comp, after * params.eta_d,
                                               params.usd, n_comp, s, params.p_dark,
                                               encoder_sector=r)
    return P


def _initial(params: ProtocolParams) -> CoherentState:
    # as catbell_qutip.api builds it for every call
    make = CoherentState.coherent if params.encoder == "explicit" else CoherentState.codeword
    return make(params.alpha, params.n_components)


def _random_point(rng: np.random.Generator) -> dict:
    """One point (or a small batch) drawing every option run_probability has."""
    # l = 7 is the costly one for the reference (M = 16), so rarer, and with the tub USD
    # only (the linear-optics effects of 16 modes take the reference ~0.1 s a point)
    loss_order = int(rng.choice([0, 1, 1, 3, 3, 7]))
    usd = "tub" if loss_order == 7 else str(rng.choice(["tub", "linear"]))
    kw = dict(loss_order=loss_order, usd=usd,
              encoder=str(rng.choice(["ideal", "explicit"])),
              eta_int_placement=str(rng.choice(["after", "before", "lumped"])))
    n = int(rng.integers(2, 9)) if rng.random() < 0.3 else 0  # 0: a single point
    shape = (n,) if n else ()
    kw["alpha"] = rng.uniform(0.05, 4.0, shape)
    if rng.random() < 0.15:  # weak light, where the masses are tiny
        kw["alpha"] = 10 ** rng.uniform(-4, -1, shape)
    kw["alpha"] = kw["alpha"] if n else float(kw["alpha"])
    kw["eta"] = float(rng.choice([1.0, rng.uniform(0.01, 1.0)]))
    kw["eta_int"] = float(rng.choice([1.0, rng.uniform(0.5, 1.0)]))
    if n and usd == "tub" and rng.random() < 0.5:  # a batch over eta_int too
        kw["eta_int"] = rng.uniform(0.5, 1.0, n)
    kw["eta_d"] = float(rng.choice([1.0, rng.uniform(0.5, 1.0)]))
    if rng.random() < 0.5:
        kw["length_km"] = float(rng.uniform(0.0, 100.0))
    if rng.random() < 0.3:
        kw["eta_c"] = float(rng.uniform(0.1, 1.0))
    if usd == "linear" and rng.random() < 0.6:
        kw["p_dark"] = float(10 ** rng.uniform(-6, -1))
    if rng.random() < 0.3:
        kw["t_c_s"] = float(rng.uniform(1e-4, 1e-2))
    return kw


POINTS = [_random_point(np.random.default_rng(20261203 + i)) for i in range(300)]


def _same_bits(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def _compare(points, monkeypatch) -> list[int]:
    """Indices of the points where the fast P differs from the reference in any bit."""
    fast = []
    for kw in points:
        p = ProtocolParams(**kw)
        fast.append(run_probability(p, _initial(p), explicit=p.encoder == "explicit"))
    monkeypatch.setattr(coherent, "poisson_residue_masses", _reference_masses)
    bad = []
    for i, (kw, f) in enumerate(zip(points, fast, strict=True)):
        p = ProtocolParams(**kw)
        ref = _reference_probability(p, _initial(p), explicit=p.encoder == "explicit")
        if not _same_bits(f, ref):
            bad.append(i)
    monkeypatch.undo()
    return bad


def test_the_points_cover_every_option():
    seen = {(k, str(kw.get(k))) for kw in POINTS for k in
            ("loss_order", "usd", "encoder", "eta_int_placement")}
    for key, values in (("loss_order", "0 1 3 7"), ("usd", "tub linear"),
                        ("encoder", "ideal explicit"),
                        ("eta_int_placement", "after before lumped")):
        assert {(key, v) for v in values.split()} <= seen
    assert any(np.ndim(kw["alpha"]) for kw in POINTS)  # small batches
    assert any(np.ndim(kw["eta_int"]) for kw in POINTS)
    assert any(kw.get("p_dark", 0) > 0 for kw in POINTS)
    assert any(np.all(np.asarray(kw["eta_int"]) == 1.0) and kw["eta_d"] == 1.0
               for kw in POINTS)


def test_fast_probability_is_bit_identical_to_the_reference(monkeypatch):
    # ~300 points (~70 small batches): ~4 s, most of it in the reference route
    assert _compare(POINTS, monkeypatch) == []


def test_a_planted_change_is_caught(monkeypatch):
    # one loss skipped, or one rounding of difference in a Gram entry: both must show
    points = POINTS[:30]
    with monkeypatch.context() as m:
        m.setattr(RingLight, "loss", lambda self, eta: self)
        assert len(_compare(points, monkeypatch)) > 20
    real = sectors.poisson_residue_masses

    def nudged(y, modulus):
        return np.nextafter(real(y, modulus), 1.0)

    with monkeypatch.context() as m:
        m.setattr(coherent, "poisson_residue_masses", nudged)
        assert len(_compare(points, monkeypatch)) > 20


def test_ring_light_operations_match_the_state_methods(monkeypatch):
    # each operation alone, on one point and on a batch, against the CoherentState method
    monkeypatch.setattr(coherent, "poisson_residue_masses", _reference_masses)
    for alpha in (1.7, np.array([0.3, 1.1, 2.9])):
        st = CoherentState.codeword(alpha, 4).ancilla_round(np.pi / 2, 0.3)[1][1]
        light = RingLight(st.K, st.x, {})
        for a, b in ((light.loss(0.6), st.loss(0.6)),
                     (light.reflect_traced(np.pi / 4), st.reflect_traced(np.pi / 4))):
            assert _same_bits(a.K, b.K) and _same_bits(a.x, b.x)
        for (ta, a), (tb, b) in zip(light.ancilla_round(np.pi, -np.pi / 2),
                                    st.ancilla_round(np.pi, -np.pi / 2), strict=True):
            assert ta == tb and _same_bits(a.K, b.K)
        for usd, p_dark in (("tub", 0.0), ("linear", 0.0), ("linear", 1e-3)):
            for sector in range(4):
                args = (np.pi / 4, 0.7, usd, 4, sector, p_dark)
                assert _same_bits(light.conclusive_probability(*args),
                                  st.conclusive_probability(*args))


def test_probability_hook():
    st = CoherentState.codeword(1.0, 2)
    assert isinstance(st.for_probability(), RingLight)
    with_qubit = st.add_qubit("A")  # a register: the generic route
    assert with_qubit.for_probability() is with_qubit
    fock = FockState.coherent(1.0, 2, cutoff=10)
    assert fock.for_probability() is fock


def test_ring_light_refuses_an_angle_off_the_ring():
    light = CoherentState.coherent(1.0, 2).for_probability()
    with pytest.raises(ValueError, match="multiples of 2 pi / 4"):
        light.reflect_traced(np.pi / 3)
    with pytest.raises(ValueError, match="multiples of 2 pi / 4"):
        light.ancilla_round(np.pi / 3, 0.0)


@pytest.mark.parametrize("modulus", [1, 2, 3, 4, 8, 16])
def test_scalar_residue_masses_are_bit_identical(modulus):
    rng = np.random.default_rng(modulus)
    ys = np.concatenate([[0.0, -0.0, 5e-324, 1e-300, 1e-16, 1.0, 700.0],
                         10 ** rng.uniform(-12, 2.7, 300), rng.uniform(0.0, 30.0, 300)])
    for y in ys:
        for arg in (y, np.asarray(y)):
            assert _same_bits(poisson_residue_masses(arg, modulus),
                              _reference_masses(arg, modulus)), y
    # the array path is unchanged
    assert _same_bits(poisson_residue_masses(ys, modulus), _reference_masses(ys, modulus))


@pytest.mark.parametrize("y", [-1.0, np.nan, np.inf, -np.inf])
def test_scalar_residue_masses_refuse_bad_means(y):
    with pytest.raises(ValueError, match="finite and >= 0"):
        poisson_residue_masses(y, 4)


@pytest.mark.parametrize("alpha", [0.7, np.array([[0.01, 1.3, 4.0]])])
@pytest.mark.parametrize("n_comp", [1, 2, 4, 8])
def test_codeword_is_the_old_construction(alpha, n_comp):
    # CoherentState.codeword before its support matrix was cached (verbatim)
    a = np.asarray(alpha, dtype=float)
    keep = (np.arange(2 * n_comp) % n_comp == 0).astype(float)
    K = np.outer(keep, keep) / _reference_masses(a ** 2, n_comp)[..., 0][..., None, None]
    st = CoherentState.codeword(alpha, n_comp)
    assert _same_bits(st.K, K[..., None, None, :, :].astype(complex))
    assert _same_bits(st.x, a ** 2)
