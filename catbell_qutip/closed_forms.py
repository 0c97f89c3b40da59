"""Closed forms to test the engines against (docs/model.md section 5).

Notation: x = |alpha|^2, eta the single pure loss between Alice's and Bob's entangling
reflections, y = (1 - eta) x the mean number of photons lost, N = l + 1 and
W_r^{(M)}(z) = exp(-z) sum_{n = r mod M} z^n / n! (the Poisson residue masses of
:func:`catbell_qutip.sectors.poisson_residue_masses`).

Derivation (any N, ideal syndrome, TUB USD)
-------------------------------------------
The pure-loss Kraus operator A_j acts on a sector-projected coherent state as
A_j P_r |a> = sqrt((1 - eta)^j / j!) a^j exp(-(1 - eta)|a|^2 / 2) P_{r-j} |sqrt(eta) a>, so after
Alice's reflection, (|up> P_r|alpha> + |down> P_r|alpha w>) (w = e^{i pi/N}) loses j photons
with probability

    p(j | r) = Pois(j; y) W_{r-j}^{(N)}(eta x) / W_r^{(N)}(x)

and becomes |up> P_s|a'> + w^j |down> P_s|a' w>, s = r - j (mod N), a' = sqrt(eta) alpha.
Bob's syndrome reads s, he infers j0 = (r - s) mod N and removes w^{j0}; what is left is
w^{j - j0} = (-1)^{floor(j/N)}: a logical phase flip iff floor(j / N) is odd. Summing j over
a residue class mod 2N gives Poisson residue masses of y, so with d = (r - s) mod N

    p(r, s, no flip) = W_s^{(N)}(eta x) W_d^{(2N)}(y) / c_r,
    p(r, s, flip)    = W_s^{(N)}(eta x) W_{d+N}^{(2N)}(y) / c_r,

c_r = W_0^{(N)}(x) for the ideal encoder (r = 0 only) and c_r = 1 for the explicit encoder,
which produces sector r with probability W_r^{(N)}(x). In sector s the two light states are
u = P_s|a'> = f_s + f_{s+N} and v ~ f_s - f_{s+N} (f_q the mod-2N components of |a'>, of
squared norms W_q^{(2N)}(eta x)), so the optimal USD succeeds with probability

    sigma_s = 1 - |<u|v>| / |u|^2
            = 2 min(W_s^{(2N)}, W_{s+N}^{(2N)}) / (W_s^{(2N)} + W_{s+N}^{(2N)})

at eta x, for both states alike. Hence P = sum p(r, s) sigma_s, the heralded
F = sum p(r, s, no flip) sigma_s / P, and the unweighted syndrome average is
sum p(r, s, no flip). For N = 1 this reduces to the l = 0 formulas below. The sigma_s form
has no cancellation, also when 1 - |c| is tiny.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_choice, check_loss_order, check_real
from .sectors import poisson_n_max, poisson_pmf, poisson_residue_masses

__all__ = [
    "l0_fidelity",
    "l0_success",
    "loss_distribution",
    "tub_sector_success",
    "ideal_protocol",
]


def l0_fidelity(alpha, eta_pre, memory_factor=1.0):
    """F = (1 + d exp(-2 (1 - eta_pre) |alpha|^2)) / 2 for l = 0 (docs/model.md section 5).

    Parameters
    ----------
    alpha : float or array_like
        Coherent amplitude |alpha| (dimensionless).
    eta_pre : float or array_like
        Transmission (dimensionless, in [0, 1]) of all losses between Alice's and Bob's
        entangling reflections.
    memory_factor : float or array_like
        d = exp(-t_w / t_c) (dimensionless): the memory's dephasing during the wait
        (default 1, an ideal memory).

    Returns
    -------
    numpy.ndarray
        The heralded fidelity F with phi+ (dimensionless), broadcast over the inputs.

    Examples
    --------
    (1 + exp(-0.2)) / 2 at alpha = 1, eta_pre = 0.9:

    >>> round(float(l0_fidelity(1.0, 0.9)), 9)
    0.909365377
    """
    alpha = np.asarray(alpha, dtype=float)
    return 0.5 * (1.0 + memory_factor * np.exp(-2.0 * (1.0 - np.asarray(eta_pre)) * alpha ** 2))


def l0_success(alpha, eta_tot):
    """P = 1 - exp(-2 eta_tot |alpha|^2) for l = 0 (``eta_tot``: all losses up to detection).

    Parameters
    ----------
    alpha : float or array_like
        Coherent amplitude |alpha| (dimensionless).
    eta_tot : float or array_like
        Transmission (dimensionless, in [0, 1]) of every loss up to Bob's detectors.

    Returns
    -------
    numpy.ndarray
        The heralding probability P (dimensionless), broadcast over the inputs.

    Examples
    --------
    1 - exp(-1.8) at alpha = 1, eta_tot = 0.9:

    >>> round(float(l0_success(1.0, 0.9)), 9)
    0.834701112
    """
    alpha = np.asarray(alpha, dtype=float)
    return -np.expm1(-2.0 * np.asarray(eta_tot) * alpha ** 2)


def loss_distribution(alpha: float, eta: float, loss_order: int, j_max: int | None = None):
    """p(j), j = 0..j_max: probability that the code |0_N> loses j photons (docs/model.md 5).

    p(j) = ((1 - eta) x)^j / j! S_{(-j mod N)}(eta x) / S_0(x), written with Poisson masses as
    Pois(j; (1 - eta) x) W_{-j}(eta x) / W_0(x).

    Parameters
    ----------
    alpha : float
        Coherent amplitude |alpha| >= 0 (dimensionless).
    eta : float
        Transmission of the pure loss (dimensionless, in [0, 1]).
    loss_order : int
        l = 2^m - 1; the code has N = l + 1 components.
    j_max : int, optional
        Largest number of lost photons listed; default: the Poisson tail rule
        :func:`~catbell_qutip.sectors.poisson_n_max` of (1 - eta) x.

    Returns
    -------
    numpy.ndarray
        p(j) for j = 0 ... j_max (dimensionless), shape (j_max + 1,).

    Raises
    ------
    ValueError
        If ``loss_order`` is not 2^m - 1, ``alpha`` < 0 or ``eta`` outside [0, 1].

    Examples
    --------
    For l = 0 every photon number mod 1 is the same sector, so p(j) is Poisson with mean
    (1 - eta) |alpha|^2 = 0.5: e^-0.5 0.5^j / j!

    >>> loss_distribution(1.0, 0.5, 0, j_max=3).round(6)
    array([0.606531, 0.303265, 0.075816, 0.012636])
    """
    n_comp = check_loss_order(loss_order)
    alpha = check_real(alpha, "alpha", low=0.0)
    eta = check_real(eta, "eta", low=0.0, high=1.0)
    x = alpha * alpha
    y = (1.0 - eta) * x
    if j_max is None:
        j_max = poisson_n_max(y)
    j = np.arange(j_max + 1)
    W = poisson_residue_masses(eta * x, n_comp)
    W0 = poisson_residue_masses(x, n_comp)[0]
    return poisson_pmf(y, j_max) * W[(-j) % n_comp] / W0


def tub_sector_success(x_det, loss_order: int, sector: int):
    """Optimal USD success 1 - |<u|v>| in syndrome sector ``sector`` at |beta|^2 = ``x_det``.

    Parameters
    ----------
    x_det : float or array_like
        Mean photon number |beta|^2 at the detectors (dimensionless).
    loss_order : int
        l = 2^m - 1; the code has N = l + 1 components.
    sector : int or array_like of int
        Syndrome sector s in 0 ... N - 1.

    Returns
    -------
    numpy.ndarray
        2 min(W_s, W_{s+N}) / (W_s + W_{s+N}) of the mod-2N Poisson masses at ``x_det``
        (dimensionless, in [0, 1]); 0 where both masses vanish.

    Raises
    ------
    ValueError
        If ``loss_order`` is not 2^m - 1.

    Examples
    --------
    For l = 0 it is 1 - exp(-2 |beta|^2) (:func:`l0_success` with eta_tot = 1):

    >>> round(float(tub_sector_success(1.0, 0, 0)), 9)
    0.864664717
    """
    n_comp = check_loss_order(loss_order)
    w = poisson_residue_masses(x_det, 2 * n_comp)
    a, b = w[..., sector], w[..., sector + n_comp]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(a + b > 0, 2.0 * np.minimum(a, b) / (a + b), 0.0)


def ideal_protocol(loss_order: int, alpha, eta, *, encoder: str = "ideal") -> dict:
    """P, heralded F, unweighted F and S of the ideal protocol with one pure loss ``eta``.

    Parameters
    ----------
    loss_order : int
        l = 2^m - 1.
    alpha, eta : float or ndarray
        Amplitude |alpha| (dimensionless) and the transmission (dimensionless, in [0, 1])
        between the two entangling reflections (broadcast).
    encoder : {"ideal", "explicit"}
        Whether Alice writes |0_N> or keeps every outcome r of the explicit rounds.

    Returns
    -------
    dict
        ``P``, ``F`` (heralded: each sector weighted by its USD success), ``F_unweighted``
        (the syndrome average without that weight), ``S`` = 2 sqrt(1 + (2F - 1)^2),
        ``sector_probability`` (..., N) and ``sector_success`` (..., N); all dimensionless.

    Raises
    ------
    ValueError
        If ``loss_order`` is not 2^m - 1, ``alpha`` < 0, ``eta`` outside [0, 1] or
        ``encoder`` unknown.

    Examples
    --------
    For l = 0 it agrees with :func:`l0_success` and :func:`l0_fidelity`:

    >>> r = ideal_protocol(0, 1.0, 0.9)
    >>> round(float(r["P"]), 9), round(float(r["F"]), 9), round(float(r["S"]), 6)
    (0.834701112, 0.909365377, 2.584817)
    """
    n_comp = check_loss_order(loss_order)
    check_choice(encoder, "encoder", ("ideal", "explicit"))
    alpha = np.asarray(check_real(alpha, "alpha", low=0.0))
    eta = np.asarray(check_real(eta, "eta", low=0.0, high=1.0))
    x = alpha ** 2
    y = (1.0 - eta) * x
    Ws = poisson_residue_masses(eta * x, n_comp)  # (..., N) by s
    Wy = poisson_residue_masses(y, 2 * n_comp)  # (..., 2N) by j mod 2N
    sigma = tub_sector_success(eta * x, loss_order, np.arange(n_comp))
    if encoder == "ideal":
        sectors_r = [0]
        norm = poisson_residue_masses(x, n_comp)[..., 0]
    else:
        sectors_r = range(n_comp)
        norm = 1.0
    shape = np.broadcast_shapes(x.shape, eta.shape) + (n_comp,)
    p_nf = np.zeros(shape)
    p_f = np.zeros(shape)
    for r in sectors_r:
        for s in range(n_comp):
            d = (r - s) % n_comp
            p_nf[..., s] += Ws[..., s] * Wy[..., d]
            p_f[..., s] += Ws[..., s] * Wy[..., d + n_comp]
    p_nf = p_nf / np.asarray(norm)[..., None]
    p_f = p_f / np.asarray(norm)[..., None]
    P = np.sum((p_nf + p_f) * sigma, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        F = np.sum(p_nf * sigma, axis=-1) / P
    F_unw = np.sum(p_nf, axis=-1) / np.sum(p_nf + p_f, axis=-1)
    return {
        "P": P,
        "F": F,
        "F_unweighted": F_unw,
        "S": 2.0 * np.sqrt(1.0 + (2.0 * F - 1.0) ** 2),
        "sector_probability": p_nf + p_f,
        "sector_success": np.broadcast_to(sigma, shape),
    }
