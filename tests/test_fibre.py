"""The fibre's transmission and timing (catbell_qutip/fibre.py, docs/model.md 3.2, 3.7, 4).

One parameter, ``wait_rule``, decides both how long Alice's atom waits and how long an
attempt takes (issue 23, item 14): "one-way" waits L / c_f with attempts every
max(L / c_f, t0) (the paper's eq. 8), "round-trip" waits 2 L / c_f with attempts every
max(2 L / c_f, t0). Expected values are the closed forms written out here (c_f = 2e8 m/s,
0.2 dB/km) and the l = 0 closed forms of docs/model.md section 5; every route to a rate
(a point, the rate solver, the key-rate scan, a sweep, a repeater chain) must use the clock.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import catbell_qutip as cb
from catbell_qutip import fibre
from catbell_qutip import repeater as rp
from catbell_qutip.closed_forms import l0_fidelity, l0_success
from catbell_qutip.keyrate import key_rate_vs_alpha
from catbell_qutip.rates import solve_at_rate
from catbell_qutip.sweep import sweep

C = 2e8  # m/s


def test_transmission_and_travel_time_closed_forms():
    L = np.array([0.0, 5.0, 50.0, 123.4])
    np.testing.assert_allclose(fibre.fibre_transmission(L), 10 ** (-0.02 * L), rtol=1e-14)
    np.testing.assert_allclose(fibre.fibre_transmission(L, 0.3), 10 ** (-0.03 * L),
                               rtol=1e-14)
    np.testing.assert_allclose(fibre.travel_time_s(L), L * 1e3 / C, rtol=1e-15)


@pytest.mark.parametrize("rule,wait,clock", [("one-way", 1, 1), ("round-trip", 2, 2),
                                             ("none", 0, 1)])
def test_one_rule_decides_wait_and_clock(rule, wait, clock):
    L, t0 = np.array([1.0, 10.0, 100.0]), 1e-4  # 5 us, 50 us, 500 us one way
    assert np.array_equal(fibre.wait_time_s(L, rule), wait * L * 1e3 / C)
    np.testing.assert_allclose(fibre.attempt_time_s(L, t0, rule),
                               np.maximum(clock * L * 1e3 / C, t0), rtol=1e-15)
    p = cb.ProtocolParams(length_km=L, t0_s=t0, wait_rule=rule)
    assert np.array_equal(p.attempt_time_s, fibre.attempt_time_s(L, t0, rule))
    assert np.array_equal(p.wait_time_s, fibre.wait_time_s(L, rule))
    with pytest.raises(ValueError, match="wait_rule must be one of"):
        fibre.attempt_time_s(L, t0, "both-ways")


@pytest.mark.parametrize("rule,clock", [("one-way", 1), ("round-trip", 2)])
def test_every_rate_route_uses_the_rules_clock(rule, clock):
    """l = 0 over 5 km, t_c = 1 ms: R_eg = P / (k L / c_f) with P = 1 - exp(-2 eta_f
    alpha^2) and the memory factor exp(-k L / (c_f t_c)) in F, k = 1 or 2."""
    L, t_c, alpha = 5.0, 1e-3, 0.4
    T = clock * L * 1e3 / C
    eta_f = 10 ** (-0.1)
    P = l0_success(alpha, eta_f)
    kw = dict(length_km=L, t_c_s=t_c, wait_rule=rule)
    point = cb.simulate(0, alpha, engine="coherent", **kw)
    assert point.R_eg == pytest.approx(P / T, rel=1e-12)
    assert point.F == pytest.approx(l0_fidelity(alpha, eta_f, math.exp(-T / t_c)), rel=1e-12)
    scan = key_rate_vs_alpha(0, [alpha], **kw)
    assert float(scan["R_eg"][0]) == pytest.approx(P / T, rel=1e-12)
    assert float(scan["key_rate"][0]) == pytest.approx(point.key_rate, rel=1e-12)
    # the rate solver: P(alpha) = R T
    r = solve_at_rate(0, 3000.0, **kw)
    assert float(r["P"]) == pytest.approx(3000.0 * T, rel=1e-9)
    assert float(r["R_eg"]) == pytest.approx(3000.0, rel=1e-9)
    # a sweep's key rate
    ds = sweep({"engine": "coherent", "outputs": ["key_rate"],
                "fixed": {"loss_order": 0, "alpha": alpha, **kw}, "axes": {"eta": [1.0]}},
               workers=1, progress=False)
    assert float(ds["key_rate"].values.ravel()[0]) == pytest.approx(point.key_rate, rel=1e-12)


def test_repeater_links_attempt_and_wait_on_the_same_clock():
    """n = 2 chain, round trip: T0 = 2 L0 / c_f, the delivery rate 1 / (E[max N] T0), and the
    memory factors use x = T0 / t_c (the clock the links wait on)."""
    L, t_c, alpha = 40.0, 5e-3, 0.6
    T0 = 2 * (L / 2) * 1e3 / C
    r = rp.chain(0, alpha, L, 2, t_c_s=t_c, wait_rule="round-trip")
    assert float(r["T0_s"]) == pytest.approx(T0, rel=1e-15)
    p = float(r["P_link"])
    assert p == pytest.approx(l0_success(alpha, 10 ** (-0.02 * L / 2)), rel=1e-12)
    assert float(r["rate_hz"]) == pytest.approx(p * (2 - p) / ((3 - 2 * p) * T0), rel=1e-12)
    d = rp.two_link_memory_factors(p, T0 / t_c)
    for k, v in zip(("d_A", "d_B", "d_AB"), d, strict=True):
        assert float(r[k]) == pytest.approx(float(v), rel=1e-12)
    one = rp.chain(0, alpha, L, 1, t_c_s=t_c, wait_rule="round-trip")
    assert float(one["rate_hz"]) == pytest.approx(
        cb.simulate(0, alpha, engine="coherent", length_km=L, t_c_s=t_c,
                    wait_rule="round-trip").R_eg, rel=1e-12)
