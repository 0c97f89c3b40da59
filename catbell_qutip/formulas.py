"""The closed-form figures of merit built on P, S and Q (docs/model.md section 4).

This is the bottom layer of the rates and key rates: pure, vectorised NumPy formulas that
import nothing of the package above :mod:`catbell_qutip.params`. Every other module uses
these definitions (:mod:`catbell_qutip.rates` and :mod:`catbell_qutip.keyrate` re-export
them).

Every attempt takes max(L / c_f, t0) seconds (L / c_f: the light's one-way travel time,
c_f = 2e8 m/s; t0: the repetition time of the slowest local operation; 2 L / c_f with the
"round-trip" wait rule, :mod:`catbell_qutip.fibre`), so the entanglement-generation rate is
(docs/model.md section 4, the paper's eq. 8)

    R_eg = P / max(L / c_f, t0)    (Hz),

and the asymptotic DI-QKD key rate against collective attacks is

    R = R_eg (1 - h(Q) - chi(S)),    chi(S) = h((1 + sqrt((S / 2)^2 - 1)) / 2),

with h the binary entropy, Q the bit-error rate of the key rounds (A0 = B_key = sz) and S
the CHSH value; R = 0 where the bracket is negative or S <= 2. Rates are in Hz (attempts
heralded per second), key rates in bit/s.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ._checks import check_real
from .fibre import attempt_time_s
from .params import ProtocolParams

__all__ = [
    "S_MAX",
    "binary_entropy",
    "chi",
    "entanglement_rate",
    "key_rate",
    "secret_key_rate",
    "timing",
]

#: Tsirelson's bound 2 sqrt(2), the largest quantum CHSH value.
S_MAX = 2.0 * np.sqrt(2.0)

# values within this relative distance outside [0, 1] or above 2 sqrt 2 are rounding
_ROUND = 1e-9


def _as_float(x):
    return float(x) if np.ndim(x) == 0 else x


#: the fields the attempt time depends on, with their defaults (:func:`timing`)
_TIMING_DEFAULTS = {f.name: f.default for f in dataclasses.fields(ProtocolParams)
                    if f.name in ("length_km", "t0_s", "wait_rule")}


def timing(fields: dict) -> dict:
    """``length_km``, ``t0_s`` and ``wait_rule`` of a dict of
    :class:`~catbell_qutip.params.ProtocolParams` fields (their defaults where missing): the
    keyword arguments of :func:`entanglement_rate` and :func:`secret_key_rate`.

    Parameters
    ----------
    fields : dict
        Parameter fields by name; any others are ignored.

    Returns
    -------
    dict
        ``length_km`` (km, default 0), ``wait_rule`` (default "one-way") and ``t0_s``
        (s, default 0).

    Examples
    --------
    >>> timing({"length_km": 5.0, "eta": 0.9})
    {'length_km': 5.0, 'wait_rule': 'one-way', 't0_s': 0.0}
    """
    return {k: fields.get(k, v) for k, v in _TIMING_DEFAULTS.items()}


def entanglement_rate(P, length_km, t0_s=0.0, wait_rule="one-way"):
    """Entanglement-generation rate R_eg = P / max(L / c_f, t0) in Hz (docs/model.md 4).

    Parameters
    ----------
    P : float or ndarray
        Heralding probability per attempt, in [0, 1] (NaN propagates).
    length_km : float or ndarray
        Fibre length L in km, >= 0.
    t0_s : float or ndarray
        Repetition time of the slowest local operation in s, >= 0 (default 0: negligible).
        Since the attempt time is max(L / c_f, t0), a t0 <= L / c_f changes nothing and a
        larger one can only lower the rate.
    wait_rule : {"one-way", "round-trip", "none"}
        "round-trip" makes the attempt time max(2 L / c_f, t0)
        (:func:`catbell_qutip.fibre.attempt_time_s`); default "one-way", the paper's eq. 8.

    Returns
    -------
    float or ndarray
        R_eg in Hz (broadcast shape). Where the attempt time is 0 (L = 0 and t0 = 0) the
        rate is ``inf`` for P > 0 and 0 for P = 0.

    Examples
    --------
    5 km of fibre take 5e3 m / 2e8 m/s = 25 us per attempt, so P = 0.075 gives
    0.075 / 25e-6 s = 3000 Hz; a t0 of 50 us halves it:

    >>> round(entanglement_rate(0.075, 5.0), 9)
    3000.0
    >>> round(entanglement_rate(0.075, 5.0, t0_s=50e-6), 9)
    1500.0
    >>> entanglement_rate(0.5, 0.0)
    inf
    """
    P = np.asarray(P, dtype=float)
    finite = P[~np.isnan(P)]
    if np.any((finite < 0) | (finite > 1)):
        raise ValueError(
            f"P = {finite[(finite < 0) | (finite > 1)].flat[0]:g} is outside the allowed "
            "range [0, 1]"
        )
    L = np.asarray(check_real(length_km, "length_km", low=0.0, unit="km"))
    t0 = np.asarray(check_real(t0_s, "t0_s", low=0.0, unit="s"))
    T = attempt_time_s(L, t0, wait_rule)
    with np.errstate(divide="ignore", invalid="ignore"):
        R = np.where(T > 0, P / np.where(T > 0, T, 1.0), np.where(P > 0, np.inf, 0.0))
    return _as_float(R)


def binary_entropy(p):
    """Binary entropy h(p) = -p log2 p - (1 - p) log2 (1 - p) in bits, h(0) = h(1) = 0.

    Parameters
    ----------
    p : float or ndarray
        Probabilities in [0, 1] (values within 1e-9 outside are clipped as rounding; NaN
        propagates).

    Returns
    -------
    float or ndarray
        h(p) in bits, in [0, 1].

    Raises
    ------
    ValueError
        If some p lies outside [0, 1].

    Examples
    --------
    h(1/2) = 1 bit, h(1/4) = 2 - (3/4) log2 3 = 0.811278...:

    >>> binary_entropy(0.5)
    1.0
    >>> round(binary_entropy(0.25), 6)
    0.811278
    >>> binary_entropy([0.0, 1.0])
    array([0., 0.])
    """
    p = np.asarray(p, dtype=float)
    finite = p[~np.isnan(p)]
    if np.any((finite < -_ROUND) | (finite > 1.0 + _ROUND)):
        bad = finite[(finite < -_ROUND) | (finite > 1.0 + _ROUND)].flat[0]
        raise ValueError(f"p = {bad:g} is outside the allowed range [0, 1]")
    p = np.clip(p, 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0)), 0.0)
              + np.where(p < 1, (1 - p) * np.log2(np.where(p < 1, 1 - p, 1.0)), 0.0))
    h = np.where(np.isnan(p), np.nan, h) + 0.0  # + 0.0 turns -0.0 into 0.0
    return _as_float(h)


def _check_S(S):
    S = np.asarray(S, dtype=float)
    finite = S[~np.isnan(S)]
    bad = (finite < 0.0) | (finite > S_MAX * (1.0 + _ROUND))
    if np.any(bad):
        raise ValueError(
            f"S = {finite[bad].flat[0]:.12g} is outside the allowed range [0, 2 sqrt 2] "
            "(CHSH values of quantum states)"
        )
    return np.minimum(S, S_MAX)


def chi(S):
    """Eve's Holevo information chi(S) = h((1 + sqrt((S/2)^2 - 1)) / 2) in bits per key bit.

    Parameters
    ----------
    S : float or ndarray
        CHSH values in [0, 2 sqrt 2]. For S <= 2 (no violation) chi = 1: Eve may know
        everything.

    Returns
    -------
    float or ndarray
        chi(S) in [0, 1]; decreasing in S, 1 at S = 2 and 0 at S = 2 sqrt 2.

    Examples
    --------
    At S = sqrt(5) (S/2)^2 - 1 = 1/4, so chi = h(3/4) = h(1/4) = 0.811278...:

    >>> chi(2.0), chi(S_MAX)
    (1.0, 0.0)
    >>> round(chi(5 ** 0.5), 6)
    0.811278
    """
    S = _check_S(S)
    arg = np.clip((S / 2.0) ** 2 - 1.0, 0.0, 1.0)
    out = binary_entropy(0.5 * (1.0 + np.sqrt(arg)))
    out = np.where(S <= 2.0, 1.0, out)
    return _as_float(np.where(np.isnan(S), np.nan, out))


def key_rate(rate_hz, S, Q):
    """Secret key rate R = R_eg (1 - h(Q) - chi(S)) in bit/s, clipped at 0 (docs/model.md 4).

    Parameters
    ----------
    rate_hz : float or ndarray
        Entanglement-generation rate R_eg in Hz, >= 0.
    S : float or ndarray
        CHSH value of the heralded state, in [0, 2 sqrt 2].
    Q : float or ndarray
        Bit-error rate of the key rounds, in [0, 1].

    Returns
    -------
    float or ndarray
        Key rate in bit/s (broadcast shape), >= 0; exactly 0 where S <= 2 or where
        h(Q) + chi(S) >= 1; NaN where S or Q is NaN (no successful attempt).

    Examples
    --------
    A maximal violation without errors keeps every heralded bit; at S = sqrt(5) and
    Q = 0 a fraction 1 - h(1/4) = 0.188722... of them:

    >>> key_rate(1000.0, S_MAX, 0.0)
    1000.0
    >>> round(key_rate(1000.0, 5 ** 0.5, 0.0), 3)
    188.722
    >>> key_rate(1000.0, 2.5, 0.2)
    0.0
    """
    rate = np.asarray(rate_hz, dtype=float)
    if np.any(rate[~np.isnan(rate)] < 0):
        raise ValueError(
            f"rate_hz = {rate[rate < 0].flat[0]:g} Hz is outside the allowed range [0, inf) Hz"
        )
    S = _check_S(S)
    bracket = 1.0 - binary_entropy(Q) - chi(S)
    out = np.where((S > 2.0) & (bracket > 0.0), rate * bracket, 0.0)
    out = np.where(np.isnan(S) | np.isnan(np.asarray(Q, dtype=float)) | np.isnan(rate),
                   np.nan, out)
    return _as_float(out)


def secret_key_rate(P, S, Q, length_km, t0_s=0.0, wait_rule="one-way"):
    """Key rate in bit/s of a point with heralding probability P, CHSH value S and
    bit-error rate Q: ``key_rate(entanglement_rate(P, length_km, t0_s, wait_rule), S, Q)``.

    Parameters
    ----------
    P, S, Q : float or ndarray
        Heralding probability, CHSH value and bit-error rate (NaN propagates: P = 0 leaves
        S and Q undefined).
    length_km : float or ndarray
        Fibre length in km.
    t0_s : float or ndarray
        Repetition time of the slowest local operation in s (default 0).
    wait_rule : {"one-way", "round-trip", "none"}
        As in :func:`entanglement_rate` (default "one-way").

    Returns
    -------
    float or ndarray
        Key rate in bit/s (docs/model.md section 4), broadcast shape.

    Examples
    --------
    P = 0.075 over 5 km is R_eg = 3000 Hz (see :func:`entanglement_rate`):

    >>> round(secret_key_rate(0.075, S_MAX, 0.0, 5.0), 6)
    3000.0
    >>> round(secret_key_rate(0.075, 5 ** 0.5, 0.0, 5.0), 3)
    566.166
    """
    return key_rate(entanglement_rate(P, length_km, t0_s, wait_rule), S, Q)
