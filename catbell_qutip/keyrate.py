"""CHSH-based DI-QKD secret key rates (docs/model.md section 4).

The asymptotic key rate against collective attacks is

    R = R_eg (1 - h(Q) - chi(S)),    chi(S) = h((1 + sqrt((S / 2)^2 - 1)) / 2),

with h the binary entropy, Q the bit-error rate of the key rounds (A0 = B_key = sz) and S
the CHSH value; R = 0 where the bracket is negative or S <= 2. R_eg is the
entanglement-generation rate of :func:`catbell_qutip.rates.entanglement_rate`. Rates are in
Hz (attempts heralded per second) and key rates in bit/s.

Every function here is vectorised over NumPy arrays.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.optimize import minimize_scalar

from ._checks import check_real
from .rates import _field_layer, entanglement_rate

__all__ = [
    "S_MAX",
    "binary_entropy",
    "chi",
    "key_rate",
    "key_rate_vs_alpha",
    "peak_key_rate",
]

#: Tsirelson's bound 2 sqrt(2), the largest quantum CHSH value.
S_MAX = 2.0 * np.sqrt(2.0)

# values within this relative distance outside [0, 1] or above 2 sqrt 2 are rounding
_ROUND = 1e-9


def _as_float(x):
    return float(x) if np.ndim(x) == 0 else x


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
    >>> key_rate(1000.0, 2 * 2 ** 0.5, 0.0)
    1000.0
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


def key_rate_vs_alpha(loss_order: int, alpha, *, engine: str = "coherent", **fields):
    """Key rate as a function of the amplitude alpha (the paper's Fig. 4).

    Parameters
    ----------
    loss_order : int
        l = 2^m - 1.
    alpha : array_like
        1-D grid of amplitudes |alpha| > 0.
    engine : {"coherent", "fock"}
        Engine of :func:`catbell_qutip.evaluate`.
    **fields
        Scalar :class:`~catbell_qutip.params.ProtocolParams` fields (``length_km``,
        ``t0_s``, ``eta_int``, ...). ``t0_s`` enters only through R_eg.

    Returns
    -------
    xarray.Dataset
        On dimension ``alpha``: ``P``, ``F``, ``S``, ``Q``, ``R_eg`` (Hz) and
        ``key_rate`` (bit/s).
    """
    import xarray as xr

    from .api import evaluate

    alpha = np.atleast_1d(np.asarray(check_real(alpha, "alpha", low=0.0), dtype=float))
    if alpha.ndim != 1:
        raise ValueError("alpha must be a 1-D grid")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*have P = 0", category=RuntimeWarning)
        r = evaluate(loss_order, engine=engine, alpha=alpha, **fields)
    length, t0 = _field_layer(fields)
    R_eg = entanglement_rate(r["P"], length, t0)
    K = key_rate(R_eg, r["S"], r["Q"])
    units = {"P": "1", "F": "1", "S": "1", "Q": "1"}
    data = {k: ("alpha", np.asarray(r[k]), {"units": units[k]}) for k in ("P", "F", "S", "Q")}
    data["R_eg"] = ("alpha", np.asarray(R_eg, dtype=float),
                    {"units": "Hz", "long_name": "entanglement-generation rate"})
    data["key_rate"] = ("alpha", np.asarray(K, dtype=float),
                        {"units": "bit/s", "long_name": "DI-QKD secret key rate"})
    return xr.Dataset(data, coords={"alpha": ("alpha", alpha, {"units": "1"})},
                      attrs={"loss_order": int(loss_order), "engine": engine})


def peak_key_rate(loss_order: int, *, alpha_max: float = 4.0, n_scan: int = 160,
                  engine: str = "coherent", **fields) -> tuple[float, float]:
    """The optimal amplitude and the peak key rate (bit/s).

    Scans ``n_scan`` amplitudes in (0, alpha_max], then refines the best one with a
    bounded Brent search between its neighbours (to 1e-7 in alpha).

    Returns
    -------
    (alpha_opt, peak_bit_per_s) : tuple of float
        ``(nan, 0.0)`` if the key rate is 0 on the whole grid.
    """
    from .api import evaluate

    grid = np.linspace(alpha_max / n_scan, alpha_max, n_scan)
    ds = key_rate_vs_alpha(loss_order, grid, engine=engine, **fields)
    K = np.nan_to_num(ds["key_rate"].values, nan=0.0)
    i = int(np.argmax(K))
    if not K[i] > 0:
        return float("nan"), 0.0
    length, t0 = _field_layer(fields)

    def neg(a):
        r = evaluate(loss_order, engine=engine, alpha=float(a), **fields)
        return -float(key_rate(entanglement_rate(float(r["P"]), length, t0), r["S"], r["Q"]))

    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, n_scan - 1)]
    lo = lo if i > 0 else grid[0] * 1e-3
    res = minimize_scalar(neg, bounds=(lo, hi), method="bounded",
                          options={"xatol": 1e-7 * hi})
    if -res.fun >= K[i]:
        return float(res.x), float(-res.fun)
    return float(grid[i]), float(K[i])
