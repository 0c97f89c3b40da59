"""Key rate against the amplitude alpha (the paper's Fig. 4; docs/model.md section 4).

The formulas themselves (binary entropy, chi, the key rate from R_eg, S and Q) live in
:mod:`catbell_qutip.formulas` and are re-exported here; this module solves for curves and
peaks on top of :func:`catbell_qutip.evaluate`. Rates are in Hz, key rates in bit/s.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.optimize import minimize_scalar

from ._checks import NoHeraldWarning, check_real
from .api import evaluate
from .formulas import (
    S_MAX,
    binary_entropy,
    chi,
    entanglement_rate,
    key_rate,
    secret_key_rate,
    timing,
)
from .outputs import dataset

__all__ = [
    "S_MAX",
    "binary_entropy",
    "chi",
    "key_rate",
    "key_rate_vs_alpha",
    "peak_key_rate",
    "PEAK_ALPHA_RTOL",
]

#: relative accuracy of the key-optimal amplitude :func:`peak_key_rate` returns (its
#: bounded search stops when the bracket is this fraction of its upper end): the key rate
#: is flat at its peak, so the location is defined only to this, not to rounding
PEAK_ALPHA_RTOL = 1e-7


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

    Examples
    --------
    l = 0 over 5 km: R_eg = (1 - exp(-2 eta_f alpha^2)) / 25 us, Q = 0 and
    key rate = R_eg (1 - chi(S)) with S from F = (1 + exp(-2 (1 - eta_f) alpha^2)) / 2,
    eta_f = 10^(-0.1) (docs/model.md sections 4 and 5):

    >>> ds = key_rate_vs_alpha(0, [0.2, 0.3], length_km=5.0)
    >>> ds.R_eg.values.round(3), ds.key_rate.values.round(3)
    (array([2462.772, 5329.112]), array([2294.493, 4630.731]))
    """
    alpha = np.atleast_1d(np.asarray(check_real(alpha, "alpha", low=0.0), dtype=float))
    if alpha.ndim != 1:
        raise ValueError("alpha must be a 1-D grid")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=NoHeraldWarning)
        r = evaluate(loss_order, engine=engine, alpha=alpha, **fields)
    R_eg = entanglement_rate(r["P"], **timing(fields))
    K = key_rate(R_eg, r["S"], r["Q"])
    data = {k: ("alpha", np.asarray(r[k])) for k in ("P", "F", "S", "Q")}
    data["R_eg"] = ("alpha", np.asarray(R_eg, dtype=float))
    data["key_rate"] = ("alpha", np.asarray(K, dtype=float))
    return dataset(data, {"alpha": alpha}, {"loss_order": int(loss_order), "engine": engine})


def peak_key_rate(loss_order: int, *, alpha_max: float = 4.0, n_scan: int = 160,
                  engine: str = "coherent", **fields) -> tuple[float, float]:
    """The optimal amplitude and the peak key rate (bit/s).

    Scans ``n_scan`` amplitudes in (0, alpha_max], then refines the best one with a
    bounded Brent search between its neighbours (to 1e-7 in alpha).

    Parameters
    ----------
    loss_order : int
        l = 2^m - 1.
    alpha_max : float
        Upper end of the amplitude scan (dimensionless, default 4).
    n_scan : int
        Number of scan points on (0, alpha_max] (default 160).
    engine : {"coherent", "fock"}
        Engine of :func:`catbell_qutip.evaluate` (default "coherent").
    **fields
        Other scalar :class:`~catbell_qutip.params.ProtocolParams` fields (``length_km``
        in km, ``t0_s`` in s, efficiencies, ...).

    Raises
    ------
    ValueError
        For invalid parameters.

    Returns
    -------
    (alpha_opt, peak_bit_per_s) : tuple of float
        ``(nan, 0.0)`` if the key rate is 0 on the whole grid.

    Examples
    --------
    l = 0 over 5 km (the closed forms of :func:`key_rate_vs_alpha`'s example, maximised on
    a grid of step 1e-5, peak at alpha = 0.78245 with 12341.9949 bit/s):

    >>> alpha_opt, peak = peak_key_rate(0, length_km=5.0)
    >>> round(alpha_opt, 4), round(peak, 4)
    (0.7825, 12341.9949)
    """
    grid = np.linspace(alpha_max / n_scan, alpha_max, n_scan)
    ds = key_rate_vs_alpha(loss_order, grid, engine=engine, **fields)
    K = np.nan_to_num(ds["key_rate"].values, nan=0.0)
    i = int(np.argmax(K))
    if not K[i] > 0:
        return float("nan"), 0.0
    clock = timing(fields)

    def neg(a):
        r = evaluate(loss_order, engine=engine, alpha=float(a), **fields)
        return -float(secret_key_rate(float(r["P"]), r["S"], r["Q"], **clock))

    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, n_scan - 1)]
    lo = lo if i > 0 else grid[0] * 1e-3
    res = minimize_scalar(neg, bounds=(lo, hi), method="bounded",
                          options={"xatol": PEAK_ALPHA_RTOL * hi})
    if -res.fun >= K[i]:
        return float(res.x), float(-res.fun)
    return float(grid[i]), float(K[i])
