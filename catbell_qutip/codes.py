"""Cat codes of loss order l = 2^m - 1 (docs/model.md section 2) and their Fock truncation.

|0_N> is proportional to sum_k |alpha e^{2 pi i k / N}>, |1_N> to sum_k |alpha e^{i (2k+1) pi / N}>.
In Fock space both live on n = 0 (mod N); |1_N> carries the sign (-1)^{n/N}. The codewords of
sector r (what the explicit encoder produces after ancilla outcome r) are the projections of
|alpha> and |alpha e^{i pi / N}> onto n = r (mod N), normalised.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln, xlogy

from ._checks import ParameterError, check_loss_order, check_real
from ._qutip import qutip
from .params import ProtocolParams
from .sectors import _log_factorials, poisson_n_max, poisson_pmf, poisson_residue_masses

__all__ = [
    "CODE_FAMILIES",
    "Code",
    "squeezed_coherent_amplitudes",
    "binomial_amplitudes",
    "DEFAULT_TRUNCATION_TOL",
    "fock_amplitudes",
    "codewords",
    "sector_codeword",
    "codeword_truncation_error",
    "auto_cutoff",
    "cutoff_and_tail",
    "check_cutoff",
    "cat_cutoffs_and_tails",
    "cat_initial_amplitudes",
    "codes_of",
    "mean_photon_numbers",
]

#: Default bound on the probability mass a Fock cutoff may drop.
DEFAULT_TRUNCATION_TOL = 1e-12


def fock_amplitudes(beta: complex, cutoff: int) -> np.ndarray:
    """Fock amplitudes <n|beta> for n = 0..cutoff, computed in log space.

    Parameters
    ----------
    beta : complex
        Coherent amplitude (dimensionless, sqrt(photons)).
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

    Examples
    --------
    |<0|beta>|^2 = exp(-|beta|^2), and the vacuum is |0>:

    >>> bool(np.isclose(abs(fock_amplitudes(1.0, 10)[0]) ** 2, np.exp(-1.0)))
    True
    >>> fock_amplitudes(0.0, 2).real.tolist()
    [1.0, 0.0, 0.0]
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
        Ring radius |alpha| > 0 (dimensionless, sqrt(photons)).
    n_comp : int
        N = l + 1 (dimensionless).
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

    Raises
    ------
    ValueError
        If the sector is empty at this alpha (alpha = 0 and sector != 0).

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
        l = 2^m - 1 (dimensionless); N = l + 1.
    alpha : float
        Ring radius |alpha| >= 0 (dimensionless, sqrt(photons)).
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

    Examples
    --------
    For N = 2 the overlap <0_2|1_2> = cos(|alpha|^2) / cosh(|alpha|^2):

    >>> zero, one = codewords(1, 1.0, 20)
    >>> bool(np.isclose(abs(zero.overlap(one)), np.cos(1.0) / np.cosh(1.0)))
    True
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

    Parameters
    ----------
    loss_order : int
        l = 2^m - 1 (dimensionless); N = l + 1.
    alpha : float
        Ring radius |alpha| >= 0 (dimensionless, sqrt(photons)).
    cutoff : int
        Largest photon number kept.
    sector : int or None, optional
        None: the coherent state |alpha>; r: the codeword of sector r.

    Returns
    -------
    float
        The dropped probability (dimensionless), in [0, 1].

    Raises
    ------
    ValueError
        For an invalid loss order.

    Examples
    --------
    For |alpha> it is the Poisson tail, 1 - sum_{n <= c} e^{-x} x^n / n!:

    >>> from math import exp, factorial
    >>> tail = 1 - sum(exp(-1.0) / factorial(n) for n in range(4))
    >>> bool(np.isclose(codeword_truncation_error(1, 1.0, 3), tail))
    True
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

    Parameters
    ----------
    loss_order : int
        l = 2^m - 1 (dimensionless); N = l + 1.
    alpha : float
        Ring radius |alpha| >= 0 (dimensionless, sqrt(photons)).
    tol : float, optional
        Largest acceptable dropped probability (dimensionless).
    sector : int or None, optional
        None: the coherent state |alpha>; r: the codeword of sector r.

    Returns
    -------
    int
        The cutoff (largest photon number kept).

    Raises
    ------
    ValueError
        For an invalid loss order or a negative alpha.

    Examples
    --------
    The cutoff drops at most ``tol`` and one less would drop more:

    >>> c = auto_cutoff(1, 1.0, tol=1e-6)
    >>> codeword_truncation_error(1, 1.0, c) <= 1e-6 < codeword_truncation_error(1, 1.0, c - 1)
    True
    """
    return cutoff_and_tail(loss_order, alpha, tol=tol, sector=sector)[0]


def cutoff_and_tail(loss_order: int, alpha: float, *, tol: float = DEFAULT_TRUNCATION_TOL,
                    sector=None) -> tuple[int, float]:
    """:func:`auto_cutoff` and the probability mass that cutoff drops, in one pass.

    Parameters
    ----------
    loss_order : int
        l = 2^m - 1 (dimensionless); N = l + 1.
    alpha : float
        Ring radius |alpha| >= 0 (dimensionless, sqrt(photons)).
    tol : float, optional
        Largest acceptable dropped probability (dimensionless).
    sector : int or None, optional
        None: the coherent state |alpha>; r: the codeword of sector r.

    Returns
    -------
    cutoff : int
        As :func:`auto_cutoff`.
    tail : float
        Probability mass it drops (dimensionless), <= ``tol``.

    Raises
    ------
    ValueError
        For an invalid loss order or a negative alpha.

    Examples
    --------
    >>> c, tail = cutoff_and_tail(1, 1.0, tol=1e-6)
    >>> c == auto_cutoff(1, 1.0, tol=1e-6)
    True
    >>> bool(np.isclose(tail, codeword_truncation_error(1, 1.0, c)))
    True
    """
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


def cat_cutoffs_and_tails(loss_order: int, alphas, *, tol: float, sector=None):
    """:func:`cutoff_and_tail` for many amplitudes at once: (cutoffs, dropped masses).

    The same rule, vectorised: the tails of every amplitude are summed from the small end
    over the Poisson window of the largest one; a point whose tolerance lies beyond what
    the window resolves falls back to :func:`cutoff_and_tail`.

    Parameters
    ----------
    loss_order : int
        l = 2^m - 1 (dimensionless); N = l + 1.
    alphas : array_like
        Ring radii |alpha| >= 0 (dimensionless), any shape (flattened).
    tol : float
        Largest acceptable dropped probability (dimensionless).
    sector : int or None, optional
        None: the coherent state |alpha>; r: the codeword of sector r.

    Returns
    -------
    cutoffs : ndarray of int, shape (B,)
    tails : ndarray of float, shape (B,)
        Dropped probability of each cutoff (dimensionless).

    Raises
    ------
    ValueError
        For an invalid loss order.

    Examples
    --------
    >>> cuts, tails = cat_cutoffs_and_tails(1, [0.5, 1.0], tol=1e-6)
    >>> [int(c) for c in cuts] == [auto_cutoff(1, a, tol=1e-6) for a in (0.5, 1.0)]
    True
    """
    n_comp = check_loss_order(loss_order)
    alphas = np.asarray(alphas, dtype=float).ravel()
    x = alphas * alphas
    p = poisson_pmf(x, poisson_n_max(float(x.max()) if x.size else 0.0))
    n = np.arange(p.shape[-1])
    if sector is not None:
        p = np.where(n % n_comp == sector, p, 0.0)
        p = p / p.sum(axis=-1, keepdims=True)
    tails = np.concatenate([np.cumsum(p[:, ::-1], axis=-1)[:, ::-1][:, 1:],
                            np.zeros((x.size, 1))], axis=-1)
    ok = tails <= tol
    first = np.argmax(ok, axis=-1)
    cut = np.maximum(first, loss_order + 2)
    mass = tails[np.arange(x.size), np.minimum(cut, tails.shape[-1] - 1)]
    exact = (cut < tails.shape[-1] - 1) & (mass > 0)
    cut = cut.astype(int)
    for i in np.nonzero(~exact)[0]:
        cut[i], mass[i] = cutoff_and_tail(loss_order, float(alphas[i]), tol=tol,
                                          sector=sector)
    return cut, mass


def cat_initial_amplitudes(alphas, n_comp: int, cutoffs, L: int, *, explicit: bool):
    """The initial light of many cat-code points at once, shape (B, L).

    |alpha_b> (explicit encoder) or |0_N> (ideal), each cut at its own cutoff and zero above
    it, as :func:`fock_amplitudes` and :func:`sector_codeword` compute them.

    Parameters
    ----------
    alphas : array_like
        Ring radii |alpha| >= 0 (dimensionless), B values after flattening.
    n_comp : int
        N = l + 1 (dimensionless).
    cutoffs : array_like of int
        Cutoff of each point, shape (B,).
    L : int
        Number of Fock levels of the output (>= max(cutoffs) + 1).
    explicit : bool
        True: |alpha>; False: the codeword |0_N>.

    Returns
    -------
    ndarray
        Complex array of shape (B, L).

    Raises
    ------
    ValueError
        If sector 0 is empty at some alpha (the ideal encoder at alpha = 0).

    Examples
    --------
    >>> a = cat_initial_amplitudes([1.0], 2, [10], 12, explicit=True)
    >>> a.shape, bool(np.allclose(a[0, :11], fock_amplitudes(1.0, 10))), bool(a[0, 11] == 0)
    ((1, 12), True, True)
    """
    alphas = np.asarray(alphas, dtype=float).ravel()
    n = np.arange(L)
    r = alphas[:, None]
    amps = np.exp(xlogy(n[None, :], r) - 0.5 * r * r - 0.5 * _log_factorials(L)[None, :])
    keep = n[None, :] <= np.asarray(cutoffs)[:, None]
    if not explicit:
        keep = keep & (n % n_comp == 0)[None, :]
        mass = poisson_residue_masses(alphas ** 2, n_comp)[:, 0]
        if np.any(mass <= 0.0):
            raise ValueError("sector 0 of the code is empty")
        amps = amps / np.sqrt(mass)[:, None]
    return np.where(keep, amps, 0.0).astype(complex)


def check_cutoff(loss_order: int, alpha: float, cutoff: int, *, tol: float = DEFAULT_TRUNCATION_TOL,
                 sector=None) -> float:
    """Return the dropped mass of ``cutoff``; raise ValueError if it exceeds ``tol``.

    The message names the cutoff that would suffice.

    Parameters
    ----------
    loss_order : int
        l = 2^m - 1 (dimensionless); N = l + 1.
    alpha : float
        Ring radius |alpha| >= 0 (dimensionless, sqrt(photons)).
    cutoff : int
        The requested cutoff (largest photon number kept), >= 1.
    tol : float, optional
        Largest acceptable dropped probability (dimensionless).
    sector : int or None, optional
        None: the coherent state |alpha>; r: the codeword of sector r.

    Returns
    -------
    float
        Dropped probability of ``cutoff`` (dimensionless).

    Raises
    ------
    catbell_qutip._checks.ParameterError
        (a ValueError) if ``cutoff`` is not a positive integer or drops more than ``tol``.

    Examples
    --------
    |alpha> at alpha = 1 loses 1 - sum_{n <= 3} e^{-1}/n! = 0.019 above n = 3:

    >>> try:
    ...     check_cutoff(1, 1.0, 3, tol=1e-6)
    ... except ValueError as err:
    ...     print(str(err).split(";")[0])
    cutoff = 3 drops probability mass 0.019 > tolerance 1e-06 at alpha = 1
    >>> bool(np.isclose(check_cutoff(1, 1.0, 14), codeword_truncation_error(1, 1.0, 14)))
    True
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


# -- rotation-symmetric codes beyond cats (docs/model.md section 7) ----------------------------

#: code families: the paper's cat codes and the rotation-symmetric codes of docs/model.md 7
CODE_FAMILIES = ("cat", "squeezed-cat", "binomial", "vector")

#: a code's amplitude window ends where the remaining tail is below this fraction of the
#: state (far below any truncation tolerance, so sums over the window are exact to rounding)
WINDOW_TAIL = 1e-40

#: largest off-sector mass a user vector may carry (it is then projected onto n = 0 mod N)
VECTOR_SUPPORT_TOL = 1e-12


def squeezed_coherent_amplitudes(alpha: float, squeezing: float, n_max: int) -> np.ndarray:
    """Fock amplitudes <n|D(alpha) S(r)|0> for n = 0..n_max (docs/model.md section 7).

    Parameters
    ----------
    alpha : float
        Displacement, real (dimensionless).
    squeezing : float
        r of S(r) = exp[(r/2)(a^2 - a^dag^2)]: r > 0 squeezes the amplitude (x)
        quadrature, r < 0 the phase quadrature; r = 0 gives the coherent state |alpha>.
    n_max : int
        Largest photon number.

    Returns
    -------
    ndarray of shape (n_max + 1,), complex (real-valued for real alpha)

    Notes
    -----
    D S|0> is annihilated by D (S a S^dag) D^dag = (a - alpha) cosh r + (a^dag - alpha) sinh r,
    so with c_n = <n|D S|0>

        cosh r sqrt(n + 1) c_{n+1} + sinh r sqrt(n) c_{n-1} = gamma c_n,
        gamma = alpha (cosh r + sinh r) = alpha e^r,

    from c_0 = exp(-alpha^2 (1 + tanh r) / 2) / sqrt(cosh r). The recurrence runs forward in
    extended precision (the Hermite-polynomial solution it follows is the dominant one);
    the tests check it against ``qutip.displace(...) * qutip.squeeze(...)`` in a large space.

    Examples
    --------
    r = 0 is the coherent state:

    >>> c = squeezed_coherent_amplitudes(1.2, 0.0, 30)
    >>> bool(np.allclose(c, fock_amplitudes(1.2, 30), rtol=1e-13, atol=1e-16))
    True
    """
    ld = np.longdouble
    a, r = ld(alpha), ld(squeezing)
    ch, sh = np.cosh(r), np.sinh(r)
    gamma = a * np.exp(r)
    c = np.zeros(int(n_max) + 1, dtype=ld)
    c[0] = np.exp(-a * a * (1 + np.tanh(r)) / 2) / np.sqrt(ch)
    if n_max >= 1:
        c[1] = gamma * c[0] / ch
    sq = np.sqrt(np.arange(int(n_max) + 2, dtype=ld))
    for n in range(1, int(n_max)):
        c[n + 1] = (gamma * c[n] - sh * sq[n] * c[n - 1]) / (ch * sq[n + 1])
    return c.astype(float).astype(complex)


def binomial_amplitudes(n_comp: int, binomial_m: int, n_max: int) -> np.ndarray:
    """|Theta_N> of the binomial code on n = 0..n_max.

    |Theta_N> = 2^{-(M+1)/2} sum_k sqrt(C(M+1, k)) |k N> (docs/model.md section 7;
    Michael et al. 2016).

    Parameters
    ----------
    n_comp : int
        N, the spacing of the occupied Fock states (dimensionless).
    binomial_m : int
        M of the binomial code (dimensionless); M + 2 Fock states are occupied.
    n_max : int
        Largest photon number kept.

    Returns
    -------
    ndarray of shape (n_max + 1,), complex
        Unit norm when n_max >= N (M + 1).

    Examples
    --------
    The kitten code (N = 2, M = 1), (|0> + sqrt2 |2> + |4>) / 2:

    >>> np.round(binomial_amplitudes(2, 1, 4).real, 6)
    array([0.5     , 0.      , 0.707107, 0.      , 0.5     ])
    """
    M = int(binomial_m)
    k = np.arange(M + 2)
    logc = gammaln(M + 2.0) - gammaln(k + 1.0) - gammaln(M + 2.0 - k)
    w = np.exp(0.5 * (logc - (M + 1) * np.log(2.0)))
    out = np.zeros(int(n_max) + 1, dtype=complex)
    keep = k * n_comp <= n_max
    out[k[keep] * n_comp] = w[keep]
    return out


def _window_size(family: str, n_comp: int, alpha: float, squeezing: float, m: int | None,
                 vector) -> int:
    """Largest photon number of a code's amplitude window (an estimate; the window is then
    checked and extended, see :meth:`Code.window`)."""
    if family == "binomial":
        return n_comp * (m + 1)
    if family == "vector":
        return len(vector) - 1
    x = alpha * alpha
    if family == "cat" or squeezing == 0.0:
        return poisson_n_max(x)
    # a squeezed state's photon-number tail falls like tanh|r|^n: reach WINDOW_TAIL there
    t = np.tanh(abs(squeezing))
    nbar = x * np.exp(2 * abs(squeezing)) + np.sinh(squeezing) ** 2
    return int(np.ceil(2 * nbar + 12 * np.sqrt(nbar + 1) + 40
                       + np.log(WINDOW_TAIL) / np.log(t)))


class Code:
    """A code of order N = l + 1 in the paper's convention (docs/model.md section 7): the
    pair (|Theta_N>, exp(i pi n / N) |Theta_N>), |Theta_N> supported on n = 0 mod N.

    Parameters
    ----------
    family : {"cat", "squeezed-cat", "binomial", "vector"}
        The construction of |Theta_N>.
    n_comp : int
        N = l + 1.
    alpha : float, optional
        Displacement |alpha| (cat, squeezed cat).
    squeezing : float
        r of the squeezed cat's primitive D(alpha) S(r)|0> (0 for the others).
    binomial_m : int, optional
        M of the binomial code (default N - 1).
    vector : sequence of complex, optional
        Fock amplitudes of |Theta_N> (family "vector"), n = 0, 1, ...; normalised here.

    Attributes
    ----------
    primitive : str
        What the explicit encoder starts from: |alpha> (cat), D(alpha) S(r)|0> (squeezed
        cat), |Theta_N> itself (binomial, vector). |Theta_N> is the normalised projection
        of the primitive onto n = 0 mod N.

    Raises
    ------
    ValueError
        From :meth:`codeword_amplitudes` when the requested sector of the primitive is
        empty (the constructor itself does not validate: :class:`ProtocolParams` does).

    Notes
    -----
    Fock amplitudes are exact up to rounding: closed forms for cat (log space) and
    binomial codes, an extended-precision recurrence for squeezed cats
    (:func:`squeezed_coherent_amplitudes`), the given vector. Sector masses and truncation
    tails are summed over the code's whole amplitude window (:meth:`window`, tail below
    :data:`WINDOW_TAIL`), so they are exact however small. Cat codes keep the closed
    forms of :func:`sector_codeword`, :func:`codeword_truncation_error` and
    :func:`cutoff_and_tail`, so their numbers are those of the paper's model to the bit.

    Examples
    --------
    >>> c = Code("binomial", 2)
    >>> c.binomial_m, c.mean_photon_number()
    (1, 2.0)
    >>> np.round(c.codeword_amplitudes(0, 4).real, 6)
    array([0.5     , 0.      , 0.707107, 0.      , 0.5     ])
    """

    __slots__ = ("family", "n_comp", "alpha", "squeezing", "binomial_m", "vector",
                 "_window", "_masses", "_key")

    def __init__(self, family: str, n_comp: int, *, alpha: float | None = None,
                 squeezing: float = 0.0, binomial_m: int | None = None, vector=None):
        self.family = family
        self.n_comp = int(n_comp)
        self.alpha = None if alpha is None else float(alpha)
        self.squeezing = float(squeezing)
        self.binomial_m = (self.n_comp - 1 if binomial_m is None else int(binomial_m)) \
            if family == "binomial" else None
        if family == "vector":
            v = np.asarray(vector, dtype=complex).ravel()
            self.vector = v / np.linalg.norm(v)
            self.vector.flags.writeable = False
        else:
            self.vector = None
        self._window = None
        self._masses = None
        vec_key = None if self.vector is None else self.vector.tobytes()
        self._key = (family, self.n_comp, self.alpha, self.squeezing, self.binomial_m, vec_key)

    # Codes are values: equal parameters give equal (and equally hashed) codes, so the
    # caches below key on them
    def __eq__(self, other):
        return isinstance(other, Code) and self._key == other._key

    def __hash__(self):
        return hash(self._key)

    def __repr__(self):
        return f"Code({self.describe()})"

    @property
    def is_cat(self) -> bool:
        """Whether this is the paper's cat code (squeezed cats with r = 0 are not: they
        run the general construction, which the tests compare with the cat's)."""
        return self.family == "cat"

    @property
    def primitive(self) -> str:
        return {"cat": "|alpha>", "squeezed-cat": "D(alpha) S(r)|0>"}.get(self.family,
                                                                         "|Theta_N>")

    # -- amplitudes ------------------------------------------------------------------------
    def _amplitudes(self, n_max: int) -> np.ndarray:
        """The primitive's amplitudes on n = 0..n_max (exact, not renormalised)."""
        if self.family == "cat":
            return fock_amplitudes(self.alpha, n_max)
        if self.family == "squeezed-cat":
            return squeezed_coherent_amplitudes(self.alpha, self.squeezing, n_max)
        if self.family == "binomial":
            return binomial_amplitudes(self.n_comp, self.binomial_m, n_max)
        out = np.zeros(n_max + 1, dtype=complex)
        k = min(n_max + 1, self.vector.size)
        out[:k] = self.vector[:k]
        return out

    def window(self) -> np.ndarray:
        """The primitive's amplitudes up to where the rest of the state is below
        :data:`WINDOW_TAIL` (read-only, computed once)."""
        if self._window is None:
            n_hi = _window_size(self.family, self.n_comp, self.alpha or 0.0, self.squeezing,
                                self.binomial_m, self.vector)
            amps = self._amplitudes(n_hi)
            if self.family == "squeezed-cat":  # extend until the last terms are negligible
                p = np.abs(amps) ** 2
                while p[-20:].sum() > WINDOW_TAIL * p.sum() * 1e-3:
                    n_hi = 2 * n_hi
                    amps = self._amplitudes(n_hi)
                    p = np.abs(amps) ** 2
            amps.flags.writeable = False
            self._window = amps
        return self._window

    def sector_masses(self) -> np.ndarray:
        """Probability of each sector n = r mod N in the primitive state, shape (N,)."""
        if self._masses is None:
            if self.family == "cat":
                m = poisson_residue_masses(self.alpha ** 2, self.n_comp)
            else:
                p = np.abs(self.window()) ** 2
                m = np.array([p[r::self.n_comp].sum() for r in range(self.n_comp)])
                m = m / m.sum()
            m.flags.writeable = False
            self._masses = m
        return self._masses

    def primitive_amplitudes(self, cutoff: int) -> np.ndarray:
        """Amplitudes of the state the explicit encoder starts from, on n = 0..cutoff
        (squared norm 1 minus the mass beyond the cutoff)."""
        if self.family == "cat":
            return fock_amplitudes(self.alpha, cutoff)
        w = self.window()
        out = np.zeros(cutoff + 1, dtype=complex)
        k = min(cutoff + 1, w.size)
        out[:k] = w[:k]
        return out / np.sqrt(np.sum(np.abs(w) ** 2))

    def codeword_amplitudes(self, sector: int, cutoff: int) -> np.ndarray:
        """|Theta_N^r>: the primitive projected onto n = sector (mod N), normalised with the
        exact (untruncated) sector mass, on n = 0..cutoff (sector 0: |Theta_N>)."""
        if self.family == "cat":
            return sector_codeword(self.alpha, self.n_comp, sector, cutoff)
        mass = self.sector_masses()[sector]
        if not mass > 0.0:
            raise ValueError(f"sector {sector} of {self!r} is empty")
        amps = self.primitive_amplitudes(cutoff)
        amps[np.arange(cutoff + 1) % self.n_comp != sector] = 0.0
        return amps / np.sqrt(mass)

    def initial_amplitudes(self, explicit: bool, cutoff: int) -> np.ndarray:
        """The light before encoding: the primitive (explicit encoder) or |Theta_N>."""
        return self.primitive_amplitudes(cutoff) if explicit else \
            self.codeword_amplitudes(0, cutoff)

    # -- truncation ------------------------------------------------------------------------
    def _tails(self, sector) -> np.ndarray:
        """tails[c] = mass beyond cutoff c of the initial state (sector None: primitive)."""
        p = np.abs(self.window()) ** 2
        p = p / p.sum()
        if sector is not None:
            n = np.arange(p.size)
            p = np.where(n % self.n_comp == sector, p, 0.0) / self.sector_masses()[sector]
        return np.concatenate([np.cumsum(p[::-1])[::-1][1:], [0.0]])

    def truncation_error(self, cutoff: int, sector=None) -> float:
        """Probability mass a cutoff drops from the initial light state (sector None: the
        primitive, the explicit encoder's input; 0: |Theta_N>)."""
        if self.family == "cat":
            return codeword_truncation_error(self.n_comp - 1, self.alpha, cutoff,
                                             sector=sector)
        t = self._tails(sector)
        return float(t[cutoff]) if cutoff < t.size else 0.0

    def cutoff_and_tail(self, tol: float, sector=None) -> tuple[int, float]:
        """Smallest cutoff dropping at most ``tol`` (never below l + 2) and its dropped mass."""
        if self.family == "cat":
            return cutoff_and_tail(self.n_comp - 1, self.alpha, tol=tol, sector=sector)
        t = self._tails(sector)
        c = max(int(np.nonzero(t <= tol)[0][0]), self.n_comp + 1)
        return c, (float(t[c]) if c < t.size else 0.0)

    def cutoff_estimate(self, tol: float) -> float:
        """A cheap upper estimate of the automatic cutoff (before any amplitude is
        computed), for the memory guard: huge squeezing or M is refused from it."""
        if self.family == "binomial":
            return float(self.n_comp * (self.binomial_m + 1))
        if self.family == "vector":
            return float(self.vector.size - 1)
        x = (self.alpha or 0.0) ** 2
        if self.family == "cat" or self.squeezing == 0.0:
            return x + np.sqrt(x)
        # log tanh|r| = log1p(-e^{-2|r|}) - log1p(e^{-2|r|}): tanh|r| rounds to 1 from
        # |r| ~ 19 on, where log(tanh|r|) would be 0 and the estimate infinite
        e = np.exp(-2 * abs(self.squeezing))
        log_t = np.log1p(-e) - np.log1p(e)
        nbar = x * np.exp(2 * abs(self.squeezing)) + np.sinh(self.squeezing) ** 2
        return float(nbar + np.log(tol) / log_t)

    # -- what Bob's USD is built for ---------------------------------------------------------
    def reference_vector(self, encoder_sector: int, syndrome: int, eta_det: float,
                         cutoff: int) -> np.ndarray:
        """|e> of the generalised TUB (docs/model.md section 7, docs/model-notes.md):
        the state Bob would hold for record (r, s) had the smallest loss consistent with
        it happened, j0 = (r - s) mod N photons: a^{j0} eta_det^{n/2} |Theta_N^r>
        (normalised on n = 0..cutoff; zero if empty). ``eta_det`` is the transmission of
        every loss the light met up to the detectors.

        For cats this is the projection of |sqrt(eta_det) alpha> onto n = s (mod N), the
        paper's TUB. If the primitive has no sector r (binomial and vector codes, whose
        primitive is |Theta_N>, after lossy encoder rounds) |Theta_N^r> is taken as the
        normalised a^{(-r mod N)} |Theta_N>, so that j0 + (-r mod N) = (-s) mod N is again
        the smallest total loss.
        """
        N = self.n_comp
        n = np.arange(cutoff + 1)
        if self.family == "cat":
            amps = fock_amplitudes(np.sqrt(eta_det) * self.alpha, cutoff)
            return np.where(n % N == syndrome, amps, 0.0)
        j0 = (encoder_sector - syndrome) % N
        if self.sector_masses()[encoder_sector] > 0.0:
            src = self.codeword_amplitudes(encoder_sector, cutoff + j0)
        else:
            k = (-encoder_sector) % N
            src = _lowered(self.codeword_amplitudes(0, cutoff + j0 + k), k, 1.0)
        if eta_det <= 0.0:
            return np.zeros(cutoff + 1, dtype=complex)
        e = _lowered(src, j0, eta_det)[: cutoff + 1]
        nrm = np.linalg.norm(e)
        return e / nrm if nrm > 0 else e

    # -- description -------------------------------------------------------------------------
    def mean_photon_number(self, explicit: bool = False) -> float:
        """<n> of the light Alice sends into the channel without losses: |Theta_N>
        (ideal encoder) or the primitive, averaged over the encoder's outcomes (explicit)."""
        if self.family == "cat":
            x = self.alpha ** 2
            if explicit:
                return x
            # <n> of |0_N> = x S_{N-1}(x) / S_0(x) (a lowers the sector by one)
            w = poisson_residue_masses(x, self.n_comp)
            return float(x * w[self.n_comp - 1] / w[0]) if w[0] > 0 else 0.0
        p = np.abs(self.window()) ** 2
        n = np.arange(p.size)
        if not explicit:
            p = np.where(n % self.n_comp == 0, p, 0.0)
        return float(np.sum(n * p) / np.sum(p))

    def describe(self) -> dict:
        """JSON-ready description: family, N, the family's own parameters."""
        out = {"family": self.family, "N": self.n_comp}
        if self.family in ("cat", "squeezed-cat"):
            out["alpha"] = self.alpha
        if self.family == "squeezed-cat":
            out["squeezing"] = self.squeezing
        if self.family == "binomial":
            out["binomial_m"] = self.binomial_m
        if self.family == "vector":
            out["vector_length"] = int(self.vector.size)
        return out


def _lowered(v: np.ndarray, j: int, eta: float) -> np.ndarray:
    """a^j eta^{n/2} v (unnormalised), in log space: out[n] = sqrt((n+j)!/n!) eta^{(n+j)/2}
    v[n + j], length len(v) - j."""
    size = v.size - j
    if size <= 0:
        return np.zeros(0, dtype=complex)
    n = np.arange(size)
    logw = 0.5 * (gammaln(n + j + 1.0) - gammaln(n + 1.0)) + 0.5 * xlogy(n + j, eta)
    return np.exp(logw) * v[j:]


def codes_of(params: ProtocolParams) -> list[Code]:
    """The code of every point of ``params``' flattened batch (docs/model.md 7).

    Parameters
    ----------
    params : ProtocolParams
        The protocol point(s); uses ``code``, ``n_components``, ``alpha``, ``squeezing``,
        ``binomial_m`` and ``code_vector``.

    Returns
    -------
    list of Code
        One per point of the flattened batch (``prod(params.batch_shape)`` entries).

    Examples
    --------
    >>> from catbell_qutip.params import ProtocolParams
    >>> [c.alpha for c in codes_of(ProtocolParams(loss_order=1, alpha=[1.0, 2.0]))]
    [1.0, 2.0]
    """
    shape = params.batch_shape
    if shape == () and params.code == "cat" and params.alpha is not None:  # one cat point
        return [Code("cat", params.n_components, alpha=float(params.alpha),
                     squeezing=float(params.squeezing), binomial_m=params.binomial_m,
                     vector=params.code_vector)]
    n = int(np.prod(shape)) if shape else 1
    alpha = (np.broadcast_to(np.asarray(params.alpha, dtype=float), shape).reshape(-1)
             if params.alpha is not None else np.full(n, np.nan))
    r = np.broadcast_to(np.asarray(params.squeezing, dtype=float), shape).reshape(-1)
    return [Code(params.code, params.n_components,
                 alpha=None if np.isnan(alpha[i]) else float(alpha[i]),
                 squeezing=float(r[i]), binomial_m=params.binomial_m,
                 vector=params.code_vector) for i in range(n)]


def mean_photon_numbers(params: ProtocolParams) -> np.ndarray:
    """<n> of the light Alice sends at every point of ``params`` (shape ``batch_shape``).

    |Theta_N> with the ideal encoder, the primitive with the explicit one
    (:meth:`Code.mean_photon_number`).

    Parameters
    ----------
    params : ProtocolParams
        The protocol point(s).

    Returns
    -------
    ndarray
        Mean photon number (photons), shape ``params.batch_shape``.

    Examples
    --------
    For N = 2 the ideal codeword |0_2> has <n> = |alpha|^2 tanh(|alpha|^2):

    >>> from catbell_qutip.params import ProtocolParams
    >>> x = np.array([1.0, 4.0])
    >>> n = mean_photon_numbers(ProtocolParams(loss_order=1, alpha=np.sqrt(x)))
    >>> bool(np.allclose(n, x * np.tanh(x)))
    True
    """
    explicit = params.encoder == "explicit"
    shape = params.batch_shape
    if params.code == "cat":  # vectorised: x S_{N-1}(x) / S_0(x), or x
        x = np.broadcast_to(np.asarray(params.alpha, dtype=float) ** 2, shape)
        if explicit:
            return np.array(x, dtype=float)
        w = poisson_residue_masses(x, params.n_components)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(w[..., 0] > 0, x * w[..., -1] / np.where(w[..., 0] > 0,
                                                                     w[..., 0], 1.0), 0.0)
        return np.asarray(out, dtype=float)
    vals = [c.mean_photon_number(explicit) for c in codes_of(params)]
    return np.asarray(vals, dtype=float).reshape(shape)
