"""The fibre link's timing and loss, in one place (docs/model.md sections 3.2, 3.7 and 4).

- :func:`fibre_transmission`: eta_f = 10^(-a_dB L / 10);
- :func:`travel_time_s`: the light's one-way travel time L / c_f, c_f = 2e8 m/s;
- :func:`wait_time_s` and :func:`attempt_time_s`: how long Alice's atom waits and how long
  one attempt takes, both decided by one parameter, the wait rule (:data:`WAIT_RULES`).

Which wait rule? The paper's eq. 8, R_eg = P / max(L / c_f, t0), starts an attempt every
one-way travel time: Alice does not wait for Bob's herald before she starts the next one,
and her atom waits L / c_f, until the light has reached Bob ("one-way", the default).
If Alice must keep her atom until the herald is back, it waits 2 L / c_f and she cannot
start again before then, so an attempt takes max(2 L / c_f, t0) ("round-trip"; a repeater
node with one memory per link needs it). "none" idealises the memory (no wait) and keeps
the paper's clock.

This module imports nothing of the package but the argument checks: every other module
(:mod:`.params`, :mod:`.formulas`, the repeater's PLOB bound) takes these formulas from here.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_choice

__all__ = [
    "C_FIBRE_M_PER_S",
    "WAIT_RULES",
    "fibre_transmission",
    "travel_time_s",
    "wait_time_s",
    "attempt_time_s",
]

#: Speed of light in fibre, m/s (the paper's eq. 8).
C_FIBRE_M_PER_S = 2.0e8
#: How long Alice's atom waits, in one-way travel times L / c_f, and how many of them one
#: attempt takes (at least; t0 can be longer), by wait rule (docs/model.md 3.7 and 4).
_TRAVELS = {"one-way": (1.0, 1.0), "round-trip": (2.0, 2.0), "none": (0.0, 1.0)}
WAIT_RULES = tuple(_TRAVELS)


def fibre_transmission(length_km, db_per_km=0.2):
    """Fibre transmission eta_f = 10^(-a_dB L / 10) (docs/model.md 3.2).

    Parameters
    ----------
    length_km : float or ndarray
        Fibre length L in km.
    db_per_km : float or ndarray
        Attenuation a_dB in dB/km (default 0.2).

    Returns
    -------
    ndarray
        eta_f in (0, 1], broadcast shape.

    Examples
    --------
    >>> float(fibre_transmission(50.0))
    0.1
    """
    return 10.0 ** (-np.asarray(db_per_km) * np.asarray(length_km) / 10.0)


def travel_time_s(length_km):
    """One-way travel time of light through L km of fibre, L / c_f, in s.

    Parameters
    ----------
    length_km : float or ndarray
        Fibre length L in km.

    Returns
    -------
    ndarray
        L / c_f in s (c_f = :data:`C_FIBRE_M_PER_S`), the shape of ``length_km``.

    Examples
    --------
    >>> float(travel_time_s(5.0))  # 5e3 m / 2e8 m/s
    2.5e-05
    """
    return np.asarray(length_km) * 1e3 / C_FIBRE_M_PER_S


def wait_time_s(length_km, wait_rule: str = "one-way"):
    """How long Alice's atom waits in memory during one attempt, in s (docs/model.md 3.7).

    L / c_f ("one-way", default), 2 L / c_f ("round-trip": until Bob's herald is back) or 0
    ("none").

    Parameters
    ----------
    length_km : float or ndarray
        Fibre length L in km.
    wait_rule : {"one-way", "round-trip", "none"}
        See :data:`WAIT_RULES`.

    Returns
    -------
    ndarray
        The wait t_w in s, the shape of ``length_km``.

    Raises
    ------
    ValueError
        If ``wait_rule`` is not one of :data:`WAIT_RULES`.

    Examples
    --------
    >>> [float(wait_time_s(5.0, rule)) for rule in WAIT_RULES]  # L / c_f = 2.5e-5 s
    [2.5e-05, 5e-05, 0.0]
    """
    check_choice(wait_rule, "wait_rule", WAIT_RULES)
    return _TRAVELS[wait_rule][0] * travel_time_s(length_km)


def attempt_time_s(length_km, t0_s=0.0, wait_rule: str = "one-way"):
    """The time one attempt takes, in s (docs/model.md section 4).

    max(L / c_f, t0) for "one-way" (the paper's eq. 8) and "none"; max(2 L / c_f, t0) for
    "round-trip", where the next attempt waits for the herald.

    Parameters
    ----------
    length_km : float or ndarray
        Fibre length L in km.
    t0_s : float or ndarray
        Repetition time of the slowest local operation in s (default 0).
    wait_rule : {"one-way", "round-trip", "none"}
        See :data:`WAIT_RULES`.

    Returns
    -------
    ndarray
        The attempt time in s, broadcast shape.

    Raises
    ------
    ValueError
        If ``wait_rule`` is not one of :data:`WAIT_RULES`.

    Examples
    --------
    >>> float(attempt_time_s(5.0)), float(attempt_time_s(5.0, wait_rule="round-trip"))
    (2.5e-05, 5e-05)
    >>> float(attempt_time_s(5.0, t0_s=1e-3, wait_rule="round-trip"))
    0.001
    """
    check_choice(wait_rule, "wait_rule", WAIT_RULES)
    return np.maximum(_TRAVELS[wait_rule][1] * travel_time_s(length_km), np.asarray(t0_s))
