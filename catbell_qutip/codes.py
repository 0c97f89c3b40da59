"""Cat codes of loss order l = 2^m - 1 (docs/model.md section 2) and their Fock truncation.

|0_N> is proportional to sum_k |alpha e^{2 pi i k / N}>, |1_N> to sum_k |alpha e^{i (2k+1) pi / N}>.
In Fock space both live on n = 0 (mod N); |1_N> carries the sign (-1)^{n/N}. The codewords of
sector r (what the explicit encoder produces after ancilla outcome r) are the projections of
|alpha> and |alpha e^{i pi / N}> onto n = r (mod N), normalised.
"""

from __future__ import annotations

import numpy as np
import qutip
from scipy.special import gammaln, xlogy

from ._checks import ParameterError, check_loss_order, check_real
from .sectors import poisson_n_max, poisson_pmf, poisson_residue_masses

__all__ = [
    "DEFAULT_TRUNCATION_TOL",
    "fock_amplitudes",
    "codewords",
    "sector_codeword",
    "codeword_truncation_error",
    "auto_cutoff",
    "cutoff_and_tail",
    "check_cutoff",
]

#: Default bound on the probability mass a Fock cutoff may drop.
DEFAULT_TRUNCATION_TOL = 1e-12


def fock_amplitudes(beta: complex, cutoff: int) -> np.ndarray:
    """Fock amplitudes <n|beta> for n = 0..cutoff, computed in log space.

    Parameters
    ----------
    beta : complex
        Coherent amplitude.
    cutoff : int
        Largest photon number kept (the space has ``cutoff + 1`` levels).

    Returns
    -------
    ndarray of shape (cutoff + 1,), complex

    Notes
    -----
    exp(-|beta|^2/2) beta^n / sqrt(n!) evaluated as exp(n log|beta| - |beta|^2/2 - lgamma(n+1)/2)
    times the phase e^{i n arg beta}; unlike ``qutip.coherent(method='operator')`` this is
    exact up to rounding at every n, including near the cutoff.
    """
    n = np.arange(cutoff + 1)
    r = abs(beta)
    logmag = xlogy(n, r) - 0.5 * r * r - 0.5 * gammaln(n + 1.0)
    return np.exp(logmag) * np.exp(1j * n * np.angle(beta))


def sector_codeword(alpha: float, n_comp: int, sector: int, cutoff: int, *,
                    odd: bool = False) -> np.ndarray:
    """Fock amplitudes of the projection of |alpha> (or of |alpha e^{i pi / N}>, ``odd``)
    onto n = sector (mod N), normalised with the exact, untruncated sector mass.

    Parameters
    ----------
    alpha : float
        Ring radius |alpha| > 0.
    n_comp : int
        N = l + 1.
    sector : int
        Photon-number sector r in 0..N-1 (0: the codewords of docs/model.md section 2).
    cutoff : int
        Largest photon number kept.
    odd : bool
        False: |alpha> (|0_N> for sector 0); True: |alpha e^{i pi / N}>.

    Returns
    -------
    ndarray of shape (cutoff + 1,), complex
        Squared norm 1 minus the mass beyond the cutoff (the truncation shows as a deficit).

    Examples
    --------
    |0_2> at alpha = 1 is (|0> + |2> / sqrt 2 + ...) / sqrt(cosh 1):

    >>> c = sector_codeword(1.0, 2, 0, 4)
    >>> np.round(c.real * np.sqrt(np.cosh(1.0)), 6)
    array([1.      , 0.      , 0.707107, 0.      , 0.204124])
    """
    n = np.arange(cutoff + 1)
    phase = np.exp(1j * np.pi / n_comp) if odd else 1.0
    amps = fock_amplitudes(alpha * phase, cutoff)
    amps[n % n_comp != sector] = 0.0
    # normalise with the exact (untruncated) sector mass, so the truncation shows as a deficit
    mass = poisson_residue_masses(alpha * alpha, n_comp)[sector]
    if mass <= 0.0:
        raise ValueError(f"sector {sector} of the code is empty at alpha = {alpha:g}")
    return amps / np.sqrt(mass)


def codewords(loss_order: int, alpha: float, cutoff: int, *, sector: int = 0):
    """The codewords |0_N>, |1_N> as QuTiP kets on ``cutoff + 1`` Fock levels.

    Parameters
    ----------
    loss_order : int
        l = 2^m - 1.
    alpha : float
        Ring radius |alpha| >= 0.
    cutoff : int
        Largest photon number kept.
    sector : int, optional
        Photon-number sector n = sector (mod N) (default 0, the code of docs/model.md section 2).
        Other sectors are what the explicit encoder writes after non-"+" ancilla outcomes.

    Returns
    -------
    (qutip.Qobj, qutip.Qobj)
        Kets normalised with the exact sector mass: their norms squared are
        ``1 - codeword_truncation_error(...)``.

    Raises
    ------
    ValueError
        For an invalid loss order, a negative alpha, or a sector out of range.
    """
    n_comp = check_loss_order(loss_order)
    alpha = check_real(alpha, "alpha", low=0.0)
    if not 0 <= sector < n_comp:
        raise ValueError(f"sector must be in 0..{n_comp - 1}, got {sector}")
    zero = sector_codeword(alpha, n_comp, sector, cutoff, odd=False)
    one = sector_codeword(alpha, n_comp, sector, cutoff, odd=True)
    # R(pi/N) on sector r multiplies by e^{i pi r/N}; drop that global phase of |1_N^r>
    one = one * np.exp(-1j * np.pi * sector / n_comp)
    return qutip.Qobj(zero), qutip.Qobj(one)


def codeword_truncation_error(loss_order: int, alpha: float, cutoff: int, *, sector=None) -> float:
    """Probability mass a cutoff drops from the initial light state.

    With ``sector=None`` the light is the coherent state |alpha> (explicit encoder); with an
    integer sector it is the normalised codeword of that sector (ideal encoder: sector 0).
    Computed from the tail terms themselves, so it stays accurate far below 1e-16.
    """
    n_comp = check_loss_order(loss_order)
    x = alpha * alpha
    p = poisson_pmf(x, poisson_n_max(x, n_from=cutoff + 1))[cutoff + 1:]
    n = np.arange(cutoff + 1, cutoff + 1 + p.size)
    if sector is None:
        return float(p.sum())
    mass = poisson_residue_masses(x, n_comp)[sector]
    return float(p[n % n_comp == sector].sum() / mass)


def _tails(loss_order: int, alpha: float, sector) -> np.ndarray:
    """tails[c] = probability mass beyond cutoff c, for every c up to where it underflows."""
    n_comp = check_loss_order(loss_order)
    x = alpha * alpha
    p = poisson_pmf(x, poisson_n_max(x))
    n = np.arange(p.size)
    if sector is not None:
        p = np.where(n % n_comp == sector, p, 0.0)
        p = p / p.sum()  # the window holds all but ~1e-18 of the sector's mass
    # tails[c] = sum_{n > c} p_n, summed from the small end so tiny tails stay accurate
    return np.concatenate([np.cumsum(p[::-1])[::-1][1:], [0.0]])


def auto_cutoff(loss_order: int, alpha: float, *, tol: float = DEFAULT_TRUNCATION_TOL,
                sector=None) -> int:
    """Smallest Fock cutoff whose dropped probability mass is <= ``tol``.

    The rule: the light starts in |alpha> (or a codeword); every later operation (loss,
    conditional rotations, sector projections) keeps or lowers photon numbers, so the mass
    missing from the initial state is the only truncation the Fock engine makes. All the
    tails are computed at once from the Poisson terms (accurate far below 1e-16) and the
    smallest cutoff within ``tol`` is returned (never below l + 2). Where ``tol`` is below
    what the tail window of :func:`~catbell_qutip.sectors.poisson_n_max` resolves, the
    cutoff grows until the exact tail fits.
    """
    return cutoff_and_tail(loss_order, alpha, tol=tol, sector=sector)[0]


def cutoff_and_tail(loss_order: int, alpha: float, *, tol: float = DEFAULT_TRUNCATION_TOL,
                    sector=None) -> tuple[int, float]:
    """:func:`auto_cutoff` and the probability mass that cutoff drops, in one pass."""
    check_loss_order(loss_order)
    alpha = check_real(alpha, "alpha", low=0.0)
    tails = _tails(loss_order, alpha, sector)
    ok = np.nonzero(tails <= tol)[0]
    cutoff = max(int(ok[0]), loss_order + 2)
    if cutoff < tails.size - 1 and tails[cutoff] > 0:
        return cutoff, float(tails[cutoff])
    while (err := codeword_truncation_error(loss_order, alpha, cutoff, sector=sector)) > tol:
        cutoff += 1
    return cutoff, err


def check_cutoff(loss_order: int, alpha: float, cutoff: int, *, tol: float = DEFAULT_TRUNCATION_TOL,
                 sector=None) -> float:
    """Return the dropped mass of ``cutoff``; raise ValueError if it exceeds ``tol``.

    The message names the cutoff that would suffice.
    """
    if isinstance(cutoff, bool) or not isinstance(cutoff, (int, np.integer)) or cutoff < 1:
        raise ParameterError(f"cutoff must be a positive integer, got {cutoff!r}", "cutoff")
    err = codeword_truncation_error(loss_order, alpha, int(cutoff), sector=sector)
    if err > tol:
        need = auto_cutoff(loss_order, alpha, tol=tol, sector=sector)
        raise ParameterError(
            f"cutoff = {cutoff} drops probability mass {err:.3g} > tolerance {tol:g} at "
            f"alpha = {alpha:g}; use cutoff >= {need} (or cutoff=None for the automatic rule)",
            "cutoff")
    return err
