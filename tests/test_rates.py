"""Rate-constrained analysis (docs/model.md section 4): R_eg, the alpha solver, S(L) and S(t_c).

Closed forms used as references (l = 0, docs/model.md section 5, channel loss only):
P = 1 - exp(-2 eta |alpha|^2), so the alpha reaching R_eg at attempt time T is
alpha = sqrt(-ln(1 - R_eg T) / (2 eta)); F = (1 + d exp(-2 (1 - eta) |alpha|^2)) / 2 and
S = 2 sqrt(1 + (2F - 1)^2).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy.optimize import brentq

import catbell_qutip.rates as rates
from catbell_qutip import evaluate
from catbell_qutip.bell import chsh_from_fidelity
from catbell_qutip.closed_forms import l0_fidelity, l0_success
from catbell_qutip.params import C_FIBRE_M_PER_S
from catbell_qutip.rates import (
    RATE_RTOL,
    S_vs_length,
    S_vs_memory_time,
    alpha_for_rate,
    entanglement_rate,
)


def eta_fibre(length_km, db_per_km=0.2):
    return 10.0 ** (-db_per_km * np.asarray(length_km) / 10.0)


def travel_time(length_km):
    return np.asarray(length_km) * 1e3 / C_FIBRE_M_PER_S


def test_entanglement_rate_eq8():
    # 5 km: 25 us per attempt
    assert entanglement_rate(0.075, 5.0) == pytest.approx(3000.0, rel=1e-15)
    # t0 below L / c_f changes nothing; above it sets the attempt time
    assert entanglement_rate(0.075, 5.0, 20e-6) == pytest.approx(3000.0, rel=1e-15)
    assert entanglement_rate(0.075, 5.0, 1e-4) == pytest.approx(750.0, rel=1e-15)
    R = entanglement_rate(np.array([0.1, 0.2]), np.array([1.0, 2.0]))
    np.testing.assert_allclose(R, [0.1 / 5e-6, 0.2 / 1e-5], rtol=1e-15)
    assert entanglement_rate(0.5, 0.0) == np.inf
    assert entanglement_rate(0.0, 0.0) == 0.0
    with pytest.raises(ValueError, match=r"P = 1.5 is outside the allowed range \[0, 1\]"):
        entanglement_rate(1.5, 5.0)
    with pytest.raises(ValueError, match="length_km = -1 km is outside"):
        entanglement_rate(0.5, -1.0)


@pytest.mark.parametrize("loss_order", [0, 1, 3], ids=["l0", "l1", "l3"])
@pytest.mark.parametrize("t0_s", [0.0, 1e-4], ids=["t0=0", "t0=100us"])
def test_solver_round_trip(loss_order, t0_s):
    """The alpha found reproduces the target R_eg to 1e-9 relative (scalar: Brent)."""
    fields = dict(length_km=5.0, t0_s=t0_s, encoder="explicit")
    target = 3000.0 if t0_s == 0 else 700.0
    alpha = alpha_for_rate(loss_order, target, **fields)
    P = float(evaluate(loss_order, alpha=alpha, outputs=("P",), **fields)["P"])
    assert abs(entanglement_rate(P, 5.0, t0_s) / target - 1.0) <= RATE_RTOL


def test_solver_round_trip_batch():
    """Array fields: every point reaches its target to 1e-9 relative (batched refinement)."""
    L = np.array([0.5, 2.0, 5.0, 12.0])
    rate = np.array([3000.0, 3000.0, 1000.0, 3000.0])
    alpha = alpha_for_rate(1, rate, length_km=L, encoder="explicit", eta_int=0.97)
    P = evaluate(1, alpha=alpha, length_km=L, encoder="explicit", eta_int=0.97,
                 outputs=("P",))["P"]
    np.testing.assert_array_less(np.abs(entanglement_rate(P, L) / rate - 1.0), RATE_RTOL)


def test_l0_alpha_matches_inverse_closed_form():
    L = np.array([1.0, 5.0, 10.0, 20.0])
    target = 3000.0
    eta = 0.7 * eta_fibre(L)
    expected = np.sqrt(-np.log1p(-target * travel_time(L)) / (2 * eta))
    got = alpha_for_rate(0, target, length_km=L, eta_c=0.7)
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    assert alpha_for_rate(0, target, length_km=5.0, eta_c=0.7) == pytest.approx(
        expected[1], rel=1e-9)


def test_solver_takes_first_crossing_of_non_monotonic_P(monkeypatch):
    """P(alpha) = 0.5 sin^2(alpha) exp(-alpha / 20) oscillates: it crosses 0.2 near 0.7, 2.4,
    3.9, ... The solver must return the smallest crossing, for a scalar and for a batch;
    the largest rate sits at the first maximum, tan(alpha) = 40."""
    def P_of(a):
        return 0.5 * np.sin(a) ** 2 * np.exp(-np.asarray(a) / 20)

    def fake_P(loss_order, engine, alpha, fields):
        shape = np.broadcast_shapes(np.shape(alpha), np.shape(fields.get("length_km", 0.0)))
        return np.broadcast_to(P_of(alpha), shape).astype(float)

    monkeypatch.setattr(rates, "_evaluate_P", fake_P)
    T = travel_time(5.0)
    first = brentq(lambda a: P_of(a) - 0.2, 0.1, np.arctan(40.0), xtol=1e-15)
    assert alpha_for_rate(0, 0.2 / T, length_km=5.0) == pytest.approx(first, rel=1e-9)
    got = alpha_for_rate(0, 0.2 / T, length_km=np.array([5.0, 5.0]))
    np.testing.assert_allclose(got, first, rtol=1e-9)
    # unattainable: the message reports the maximum at alpha = atan(40)
    a_max = np.arctan(40.0)
    with pytest.raises(ValueError) as exc:
        alpha_for_rate(0, 0.6 / T, length_km=5.0)
    msg = str(exc.value)
    best = float(re.search(r"rate is ([0-9.e+]+) Hz", msg).group(1))
    at = float(re.search(r"at alpha = ([0-9.e+]+)", msg).group(1))
    assert best == pytest.approx(P_of(a_max) / T, rel=1e-5)
    assert at == pytest.approx(a_max, rel=1e-4)


def test_unattainable_target_raises_with_largest_rate():
    # l = 0, 5 km: the largest rate on (0, 1] is P(1) / 25 us, P from the closed form
    best = l0_success(1.0, eta_fibre(5.0)) / travel_time(5.0)
    with pytest.raises(ValueError) as exc:
        alpha_for_rate(0, 35000.0, length_km=5.0, alpha_max=1.0)
    msg = str(exc.value)
    assert msg.startswith("rate_hz = 35000 Hz is not attainable for loss_order = 0 with "
                          "alpha in (0, 1]")
    assert f"the largest attainable entanglement-generation rate is {best:.6g} Hz" in msg
    assert "at alpha = 1 (the edge of the scan" in msg
    # batch: names the point
    with pytest.raises(ValueError, match=r"loss_order = 1, length_km = 50 with alpha"):
        alpha_for_rate(1, 3000.0, length_km=np.array([5.0, 50.0]), alpha_max=2.0)


def test_solver_input_errors():
    with pytest.raises(ValueError, match="attempt time max"):
        alpha_for_rate(0, 3000.0, length_km=0.0)
    with pytest.raises(ValueError, match=r"rate_hz = -1 Hz is outside the allowed range"):
        alpha_for_rate(0, -1.0, length_km=5.0)
    with pytest.raises(ValueError, match="on_unattainable must be"):
        alpha_for_rate(0, 3000.0, length_km=5.0, on_unattainable="ignore")


def test_S_vs_length_l0_equals_closed_form():
    """For l = 0 the S(L) curve at fixed rate is the closed form at the solved alpha."""
    L = np.linspace(0.5, 20.0, 9)
    ds = S_vs_length(0, 3000.0, L, encoder="explicit", eta_c=0.8)
    alpha = ds["alpha"].values
    eta = 0.8 * eta_fibre(L)
    np.testing.assert_allclose(l0_success(alpha, eta) / travel_time(L), 3000.0,
                               rtol=RATE_RTOL)
    np.testing.assert_allclose(ds["S"].values, chsh_from_fidelity(l0_fidelity(alpha, eta)),
                               rtol=0, atol=1e-12)
    assert ds["length_km"].attrs["units"] == "km"
    assert ds["R_eg"].attrs["units"] == "Hz"


def test_S_vs_length_unattainable_points_are_nan():
    ds = S_vs_length(1, 3000.0, [5.0, 60.0], alpha_max=2.0)
    S = ds["S"].values
    assert np.isfinite(S[0]) and np.isnan(S[1])


def test_S_vs_memory_time_l0_closed_form():
    tc = np.geomspace(1e-6, 1e-1, 7)
    ds = S_vs_memory_time(0, 3000.0, tc, length_km=5.0)
    alpha = ds["alpha"].values
    d = np.exp(-travel_time(5.0) / tc)
    expected = chsh_from_fidelity(l0_fidelity(alpha, eta_fibre(5.0), d))
    np.testing.assert_allclose(ds["S"].values, expected, rtol=0, atol=1e-12)
    # memory does not change P, so alpha does not depend on t_c
    np.testing.assert_allclose(alpha, alpha[0], rtol=1e-9)
    assert np.all(np.diff(ds["S"].values) > 0)


@pytest.mark.parametrize("loss_order", [0, 1, 3])
def test_solver_evaluation_count(loss_order, monkeypatch):
    """Each refinement step is one vectorised engine call: the scan needs at most
    ceil(32 / 8) = 4 chunk calls (+1 for P(0) below the first grid point), and regula falsi
    with the Illinois halving converges superlinearly (order ~1.44) from the grid spacing
    6 / 32 to |P / (R T) - 1| < 1e-11 in well under 10 steps. Plain regula falsi, which
    keeps one endpoint, takes ~3 times as many calls for the same answer."""
    calls = []
    real = rates._evaluate_P

    def counting(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(rates, "_evaluate_P", counting)
    L = np.linspace(1.0, 10.0, 50)
    alpha = rates.alpha_for_rate(loss_order, 3000.0, length_km=L)
    assert np.all(np.isfinite(alpha))
    assert len(calls) <= 4 + 1 + 10, len(calls)
    calls.clear()
    rates.alpha_for_rate(loss_order, 3000.0, length_km=5.0)  # scalar: Brent
    assert len(calls) <= 4 + 1 + 10, len(calls)


def test_unattainable_rate_with_no_light_says_why():
    """eta_c = 0 transmits nothing: the message says so instead of "0 Hz at alpha = ..."
    (a new user's finding)."""
    with pytest.raises(ValueError, match=r"no attempt heralds at any alpha .*P = 0") as e:
        alpha_for_rate(1, 3000.0, eta_c=0.0, length_km=5.0)
    assert "largest attainable" not in str(e.value)


@pytest.mark.parametrize("rate", [1e12, [1e12, 1e3]])
def test_a_rate_above_one_per_attempt_time_is_refused_as_such(rate):
    # P <= 1, so R_eg <= 1 / T = c_f / L = 40 000 Hz at 5 km: no alpha_max can reach more,
    # and the message must not suggest one
    with pytest.raises(ValueError) as err:
        alpha_for_rate(1, rate, length_km=5.0)
    msg = str(err.value)
    assert "cannot exceed 1 / T = 40000 Hz" in msg and "alpha_max" not in msg
