"""Photon-number sector sums, the special functions behind every closed form.

docs/model.md section 5 writes the closed forms through

    S_r(y) = sum_{n = r (mod M)} y^n / n!

For real ``y >= 0`` this module returns the *Poisson residue masses*
``w_r(y) = exp(-y) S_r(y)``: the probability that a Poisson variable of mean ``y`` is
``r`` modulo ``M``. They are sums of positive terms, computed in log space, so they are
accurate to machine precision for ``y`` from 0 to several hundred, including the tiny
masses of high residues at small ``y`` (where the textbook roots-of-unity formula
``S_r(y) = (1/M) sum_k w^{-kr} exp(y w^k)`` cancels catastrophically).
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy.special import gammainc, gammaln

__all__ = ["POISSON_MARGIN", "poisson_n_max", "poisson_pmf", "poisson_residue_masses",
           "poisson_tail"]

#: photon numbers added beyond 12 standard deviations in :func:`poisson_n_max`
POISSON_MARGIN = 40


def poisson_n_max(y_max: float, n_from: int = 0) -> int:
    """The Poisson tail rule: the largest photon number any sum over a Poisson(y) needs.

    Parameters
    ----------
    y_max : float
        Largest mean photon number of the sum, >= 0.
    n_from : int
        First photon number of the sum (default 0); the window then starts there.

    Returns
    -------
    int
        ``ceil(max(y_max, n_from) + 12 sqrt(y_max) + POISSON_MARGIN)``. Photon numbers above
        it carry less than ~1e-18 of the terms from ``n_from`` on (12 standard deviations
        beyond the larger of the mean and ``n_from``, then 40 more terms that each shrink
        the tail), so every sum truncated there is exact to rounding, relative to its own
        value, also for tails far below 1e-16 (docs/model.md section 5). Codes, sectors and
        closed forms all truncate with this one rule.

    Examples
    --------
    >>> poisson_n_max(0.0), poisson_n_max(4.0), poisson_n_max(4.0, n_from=30)
    (40, 68, 94)
    """
    y_max = float(y_max)
    return int(np.ceil(max(y_max, n_from) + 12.0 * np.sqrt(y_max) + POISSON_MARGIN))


@functools.lru_cache(maxsize=32)
def _log_factorials(size: int) -> np.ndarray:
    """log(n!) for n = 0..size-1 (read-only, cached)."""
    out = gammaln(np.arange(size) + 1.0)
    out.flags.writeable = False
    return out


def poisson_pmf(y, n_max: int) -> np.ndarray:
    """Poisson probabilities ``exp(-y) y^n / n!`` for n = 0..n_max, in log space.

    Parameters
    ----------
    y : float or array_like
        Mean(s), ``y >= 0`` (dimensionless).
    n_max : int
        Largest n.

    Returns
    -------
    ndarray of shape ``(*y.shape, n_max + 1)``
        Exact to rounding in relative terms, however small (0**0 = 1 at y = 0).

    Examples
    --------
    >>> poisson_pmf(2.0, 3).round(6)  # e^-2 (1, 2, 2, 4/3)
    array([0.135335, 0.270671, 0.270671, 0.180447])
    """
    y = np.asarray(y, dtype=float)
    size = int(n_max) + 1
    # n log y without xlogy's cost (0 for n = 0, also at y = 0)
    with np.errstate(divide="ignore"):
        logy = np.log(y)[..., None]
    nlogy = np.empty(y.shape + (size,))
    nlogy[..., 0] = 0.0
    np.multiply(np.arange(1, size), logy, out=nlogy[..., 1:])
    logp = nlogy - y[..., None] - _log_factorials(size)
    return np.exp(logp, out=logp)


def poisson_residue_masses(y, modulus: int) -> np.ndarray:
    """Probability that a Poisson variable of mean ``y`` equals ``r`` modulo ``modulus``.

    Parameters
    ----------
    y : float or array_like
        Mean photon number(s), ``y >= 0`` (dimensionless).
    modulus : int
        The modulus ``M >= 1``.

    Returns
    -------
    ndarray of shape ``(*y.shape, M)``
        ``w[..., r] = exp(-y) * sum_{n = r mod M} y^n / n!``; the last axis sums to 1.

    Notes
    -----
    Summed term by term in log space over the photon numbers of :func:`poisson_n_max`,
    then renormalised, so every entry has a small *relative* error, even a mass of 1e-40
    at tiny ``y`` (docs/model.md section 5).

    Raises
    ------
    ValueError
        If some ``y`` is negative or not finite.

    Examples
    --------
    Modulo 2 the masses are exp(-y) cosh y and exp(-y) sinh y:

    >>> w = poisson_residue_masses(1.0, 2)
    >>> bool(np.allclose(w, np.exp(-1.0) * np.array([np.cosh(1.0), np.sinh(1.0)])))
    True
    >>> poisson_residue_masses([0.0, 2.0], 3).shape
    (2, 3)
    """
    y = np.asarray(y, dtype=float)
    if y.ndim == 0:
        return _residue_masses_scalar(y, modulus)
    return _residue_masses_array(y, modulus)


def _residue_masses_array(y: np.ndarray, modulus: int) -> np.ndarray:
    """:func:`poisson_residue_masses` for an array ``y`` (float64)."""
    # (called ~6 times per point by the rate solvers: ufunc methods, not np.any / np.sum,
    # whose Python wrappers took half of its time at a single point; same arithmetic)
    if not (np.isfinite(y).all() and (y >= 0).all()):
        raise ValueError("poisson_residue_masses: y must be finite and >= 0")
    y_max = float(y.max()) if y.size else 0.0
    # poisson_n_max(y_max) (math's sqrt is correctly rounded as NumPy's, ceil is exact)
    p = poisson_pmf(y, int(math.ceil(y_max + 12.0 * math.sqrt(y_max) + POISSON_MARGIN)))
    out = np.empty(y.shape + (modulus,))
    add = np.add.reduce
    for r in range(modulus):
        add(p[..., r::modulus], axis=-1, out=out[..., r])
    # the window holds all but ~1e-18 of the mass; renormalising removes the ~1e-13
    # systematic error that log-space terms pick up at large y (n log y - lgamma(n+1) cancels)
    # (np.add.reduce is what ndarray.sum calls)
    return out / add(out, axis=-1, keepdims=True)


@functools.lru_cache(maxsize=32)
def _photon_numbers(size: int) -> np.ndarray:
    """1..size-1 as int64 (read-only, cached): the n of n log y in :func:`poisson_pmf`."""
    out = np.arange(1, size)
    out.flags.writeable = False
    return out


def _residue_masses_scalar(y: np.ndarray, modulus: int) -> np.ndarray:
    """:func:`poisson_residue_masses` for a 0-d ``y``: the same NumPy operations on the same
    arrays (so the same numbers, bit for bit), without the batch machinery's Python
    overhead; the coherent engine calls it ~5 times per point of a single-point P."""
    yf = float(y)
    if not (math.isfinite(yf) and yf >= 0.0):
        raise ValueError("poisson_residue_masses: y must be finite and >= 0")
    # poisson_n_max: sqrt is correctly rounded in math and NumPy alike, ceil is exact
    size = int(math.ceil(yf + 12.0 * math.sqrt(yf) + POISSON_MARGIN)) + 1
    if yf == 0.0:  # log(0) = -inf: the general route, which silences its warning
        return _residue_masses_array(y[None], modulus)[0]
    logy = np.log(y)  # poisson_pmf's arithmetic on a 1-d array from here
    nlogy = np.empty(size)
    nlogy[0] = 0.0
    np.multiply(_photon_numbers(size), logy, out=nlogy[1:])
    logp = nlogy - y - _log_factorials(size)
    p = np.exp(logp, out=logp)
    out = np.empty(modulus)
    add = np.add.reduce
    for r in range(modulus):
        out[r] = add(p[r::modulus])
    return out / add(out)  # (np.add.reduce is what ndarray.sum calls)


def poisson_tail(y, n_max) -> np.ndarray:
    """Probability that a Poisson variable of mean ``y`` exceeds ``n_max``.

    Accurate in relative terms (regularised incomplete gamma function), also when the
    tail is far below machine epsilon.

    Parameters
    ----------
    y : float or array_like
        Mean photon number (dimensionless, >= 0).
    n_max : int or array_like
        Largest photon number kept.

    Returns
    -------
    numpy.ndarray
        P(n > n_max) (dimensionless), broadcast over the inputs; 0 where y = 0.

    Examples
    --------
    For mean 1, P(n > 0) = 1 - e^-1 and P(n > 14) = e^-1 (1/15! + 1/16! + ...)
    = 2.813e-13 (1 + 1/16 + 1/272 + ...) = 3.00e-13:

    >>> round(float(poisson_tail(1.0, 0)), 12), f"{float(poisson_tail(1.0, 14)):.2e}"
    (0.632120558829, '3.00e-13')
    """
    y = np.asarray(y, dtype=float)
    return np.where(y > 0, gammainc(np.asarray(n_max) + 1.0, y), 0.0)
