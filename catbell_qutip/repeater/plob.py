"""The repeaterless PLOB bound, and the clock it is compared on (docs/repeater.md section 6).

:func:`plob_key_rate` is -log2(1 - eta) bits per channel use times uses per second, eta the
fibre transmission over the total distance; :func:`plob_clock_s` is the time per channel use
of the comparison: one use per 1 / R_src for a source rate R_src the user states, by default
one use per attempt of a single link over the whole distance. Neither depends on which
chains are compared.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_rate_hz, check_real
from ..fibre import attempt_time_s, fibre_transmission

__all__ = ["plob_key_rate", "plob_clock_s", "plob_clock_text"]


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
        Bit/s. For eta << 1 this is eta / ln 2 per use.

    Raises
    ------
    catbell_qutip._checks.ParameterError
        If ``length_km`` < 0 or ``clock_s`` <= 0.

    Examples
    --------
    15.05 km at 0.2 dB/km is eta = 10^(-0.301) = 1/2: one bit per use.

    >>> round(plob_key_rate(10 * np.log10(2) / 0.2, 1.0), 12)
    1.0
    """
    L = np.asarray(check_real(length_km, "length_km", low=0.0, unit="km"), dtype=float)
    clock = np.asarray(check_real(clock_s, "clock_s", low=0.0, low_open=True, unit="s"))
    eta = fibre_transmission(L, db_per_km)
    with np.errstate(divide="ignore"):  # L = 0: eta = 1, an infinite bound
        out = -np.log1p(-eta) / np.log(2.0) / clock  # -log2(1 - eta), exact for eta << 1
    return float(out) if np.ndim(out) == 0 else out


def plob_clock_s(length_km, *, rate_hz: float | None = None, t0_s: float = 0.0,
                 wait_rule: str = "one-way"):
    """Time per channel use of the PLOB comparison, in s (docs/repeater.md section 6).

    Parameters
    ----------
    length_km : float or ndarray
        Total distance L in km.
    rate_hz : float, optional
        Source rate R_src in channel uses per second, stated by the user: the clock is
        1 / R_src at every L.
    t0_s : float
        Without ``rate_hz``: the repetition time of the link (s).
    wait_rule : {"one-way", "round-trip", "none"}
        Without ``rate_hz``: the link's wait rule.

    Returns
    -------
    ndarray
        Without ``rate_hz``, the attempt time of one link over the whole distance,
        max(L / c_f, t0) (max(2 L / c_f, t0) with ``wait_rule="round-trip"``); the same
        whichever chains it is compared with.

    Raises
    ------
    catbell_qutip._checks.ParameterError
        If ``rate_hz`` is given and not > 0, or ``wait_rule`` is unknown.

    Examples
    --------
    >>> plob_clock_s([100.0, 200.0]), plob_clock_s([100.0, 200.0], rate_hz=1e6)
    (array([0.0005, 0.001 ]), array([1.e-06, 1.e-06]))
    """
    L = np.asarray(length_km, dtype=float)
    if rate_hz is None:
        return np.asarray(attempt_time_s(L, t0_s, wait_rule), dtype=float)
    rate = float(check_rate_hz(rate_hz))
    return np.full(L.shape, 1.0 / rate)


def plob_clock_text(rate_hz: float | None = None, *, wait_rule: str = "one-way",
                    math: bool = False) -> str:
    """What :func:`plob_clock_s` is, in words (``math=True``: matplotlib mathtext), for the
    dataset's attributes and the figure's legend.

    Parameters
    ----------
    rate_hz : float, optional
        Source rate in channel uses per second [Hz], as given to :func:`plob_clock_s`.
    wait_rule : {"one-way", "round-trip", "none"}
        The link's wait rule (without ``rate_hz``).
    math : bool
        Write matplotlib mathtext (for legends) instead of plain text.

    Returns
    -------
    str
        One phrase describing the clock.

    Examples
    --------
    >>> plob_clock_text()
    'one channel use per max(L / c_f, t0), the attempt time of one link over L'
    >>> plob_clock_text(1e6, math=True)
    '$10^{6}$ channel uses/s'
    """
    if rate_hz is not None:
        mant, exp = f"{float(rate_hz):.3e}".split("e")
        value = (f"${float(mant):g} \\times 10^{{{int(exp)}}}$" if float(mant) != 1
                 else f"$10^{{{int(exp)}}}$")
        return f"{value} channel uses/s" if math else f"{float(rate_hz):g} channel uses/s"
    k = "2 " if wait_rule == "round-trip" else ""
    if math:
        return rf"one use per $\max({k.strip()}L/c_f, t_0)$"
    return f"one channel use per max({k}L / c_f, t0), the attempt time of one link over L"
