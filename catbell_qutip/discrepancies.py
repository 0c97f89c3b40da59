"""Why two of the paper's claims differ from ours: the computations behind them.

- C8 (docs/model.md 6, Fig. 4(a)): :func:`key_fraction_max`, the largest per-attempt key
  fraction P (1 - h(Q) - chi(S)) of a code, which bounds the ratio of two codes' peak key
  rates at one t0.
- C5/C6 (Figs. 3(c), (f)): :func:`usd_factor_needed`, the USD success (as a fraction of the
  TUB's) an l = 1 scheme would need for the paper's statement to hold.

The claims table (:mod:`catbell_qutip.claims`) quotes both; ``catbell thresholds
--key-fractions`` and ``--usd-factor`` print them.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from .api import evaluate
from .keyrate import peak_key_rate
from .paper import LENGTH_THRESHOLD_KM, RATE_FIG23_HZ
from .rates import solve_at_rate

__all__ = ["key_fraction_max", "usd_factor_needed"]


# -- C8: the per-attempt key fraction ---------------------------------------------------
def key_fraction_max(loss_order: int, *, length_km: float = 10.0, alpha_max: float = 4.0,
                     n_scan: int = 200, engine: str = "coherent", **fields) -> tuple:
    """max over alpha of the per-attempt key fraction P (1 - h(Q) - chi(S)) (docs/model.md 4).

    The key rate is R_eg (1 - h(Q) - chi(S)) with R_eg = P / max(L / c_f, t0), so with one
    attempt time T for two codes the ratio of their peak key rates is the ratio of these
    maxima, whatever T is. Computed as the peak key rate at t0 = 1 s (then R_eg = P / 1 s).

    Parameters
    ----------
    loss_order : int
    length_km : float
        Fibre length, km (Fig. 4: 10).
    alpha_max, n_scan : float, int
        Scan of :func:`catbell_qutip.keyrate.peak_key_rate`.
    engine : {"coherent", "fock"}
    **fields
        Other ProtocolParams fields (``t0_s`` is replaced).

    Returns
    -------
    (alpha_opt, fraction) : tuple of float
        Fraction in bit per attempt.
    """
    fields = dict(fields, t0_s=1.0)
    return peak_key_rate(loss_order, alpha_max=alpha_max, n_scan=n_scan, engine=engine,
                         length_km=length_km, **fields)


# -- C5/C6: what USD success would the l = 1 scheme need? --------------------------------
def usd_factor_needed(loss_order: int, *, length_km: float = LENGTH_THRESHOLD_KM,
                      rate_hz: float = RATE_FIG23_HZ,
                      engine: str = "coherent", alpha_max: float = 6.0, n_scan: int = 24,
                      **fields) -> dict:
    """The USD success, as a fraction f of the TUB's, at which S_l = S_0 (docs/model.md 3.5).

    A USD that succeeds with f times the TUB's probability in every syndrome sector (and is
    as unambiguous) leaves the heralded F unchanged and scales P by f, so at a fixed rate
    R it acts like the TUB at rate R / f: S_l^(f)(R) = S_l^TUB(R / f). The l = 0 code keeps
    its linear-optics USD (which equals the TUB for l = 0). The function solves
    S_l^TUB(R / f) = S_0(R) for f in (0, 1] and also reports how our linear-optics scheme
    compares: P_linear / P_TUB of the l code at the amplitude it runs at with linear optics.

    Parameters
    ----------
    loss_order : int
        l >= 1.
    length_km, rate_hz : float
        Where the comparison is made (km, Hz).
    engine, alpha_max, n_scan
        As in :func:`catbell_qutip.rates.solve_at_rate`.
    **fields
        Other ProtocolParams fields (``eta_d``, encoder, placement ...); ``usd`` is set here.

    Returns
    -------
    dict
        ``f_needed`` (None if even f = 1 loses), ``S_0``, ``S_l_linear``, ``S_l_tub``,
        ``alpha_linear``, ``P_ratio_linear_to_tub`` (at ``alpha_linear``).
    """
    kw = dict(engine=engine, alpha_max=alpha_max, n_scan=n_scan, length_km=length_km)
    lin = dict(fields, usd="linear")
    tub = dict(fields, usd="tub")
    S0 = float(solve_at_rate(0, rate_hz, **kw, **lin)["S"])
    r_lin = solve_at_rate(loss_order, rate_hz, **kw, **lin)
    a_lin = float(r_lin["alpha"])
    P_tub = float(evaluate(loss_order, engine=engine, alpha=a_lin, length_km=length_km,
                           **tub)["P"])

    def S_tub(f):
        return float(solve_at_rate(loss_order, rate_hz / f, **kw, **tub)["S"])

    S1 = S_tub(1.0)
    out = dict(S_0=S0, S_l_linear=float(r_lin["S"]), S_l_tub=S1, alpha_linear=a_lin,
               P_ratio_linear_to_tub=float(r_lin["P"]) / P_tub, f_needed=None)
    if np.isfinite(S1) and S1 > S0:
        lo = 1e-3
        while not (np.isfinite(S_tub(lo)) and S_tub(lo) < S0) and lo < 0.5:
            lo *= 2
        out["f_needed"] = float(brentq(lambda f: S_tub(f) - S0, lo, 1.0, xtol=1e-6))
    return out
