"""The repeaterless PLOB bound, and the clock it is drawn on (docs/repeater.md section 6).

:func:`plob_key_rate` is -log2(1 - eta) bits per channel use times uses per second, eta the
fibre transmission over the total distance; :func:`plob_clock_s` is the clock of the figure,
one use of the whole channel per attempt of the finest chain compared.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_real
from ..params import C_FIBRE_M_PER_S

__all__ = ["plob_key_rate", "plob_clock_s"]


def plob_key_rate(length_km, clock_s, *, db_per_km: float = 0.2):
    """PLOB bound -log2(1 - eta) per channel use, times uses per second (bit/s).

    Parameters
    ----------
    length_km : float or ndarray
        Total distance L in km; eta = 10^(-a_dB L / 10) is the fibre transmission over L
        (docs/repeater.md section 6).
    clock_s : float or ndarray
        Time per channel use in s (> 0); the bound is -log2(1 - eta) / clock_s.
    db_per_km : float
        Fibre attenuation in dB/km (default 0.2).

    Returns
    -------
    float or ndarray
        Bit/s.
    """
    L = np.asarray(check_real(length_km, "length_km", low=0.0, unit="km"), dtype=float)
    clock = np.asarray(check_real(clock_s, "clock_s", low=0.0, low_open=True, unit="s"))
    eta = 10.0 ** (-np.asarray(db_per_km) * L / 10.0)
    with np.errstate(divide="ignore"):
        out = -np.log2(-np.expm1(np.log(eta))) / clock  # -log2(1 - eta)
    return float(out) if np.ndim(out) == 0 else out


def plob_clock_s(length_km, segments_max: int, t0_s: float = 0.0):
    """The attempt clock the PLOB curve uses: max(L / (n_max c_f), t0), in s.

    One use of the whole channel per attempt of the finest chain compared (its links are
    the fastest): every curve of a scan is compared with point-to-point transmission
    pulsed at least as fast as itself (docs/repeater.md section 6).
    """
    L = np.asarray(length_km, dtype=float)
    return np.maximum(L * 1e3 / (segments_max * C_FIBRE_M_PER_S), float(t0_s))
