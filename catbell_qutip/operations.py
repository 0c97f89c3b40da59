"""The protocol's operations as explicit QuTiP operators in truncated Fock space.

docs/model.md sections 1 and 3. Each operation has an array core (used by the Fock engine's
block-structured hot path) and a QuTiP builder on the explicit tensor-product space
qubits (x) light, which is what a QuTiP user would write and what the tests check the
engine against:

- :func:`conditional_rotation` -- CR(theta) = |up><up| (x) 1 + |down><down| (x) R(theta)
- :func:`loss_kraus` / :func:`loss_superoperator` -- the pure-loss (beam-splitter) channel
- :func:`sector_projector` -- projection onto n = r (mod N)
- :func:`x_basis_projectors` -- ancilla X measurement
- :func:`tub_povm` -- the optimal (Ivanovic-Dieks-Peres) USD of one syndrome sector
- :func:`linear_optics_povm` -- the 2N-mode displacement-nulling scheme, on/off detectors

Qubit basis: |up> = basis(2, 0), |down> = basis(2, 1). Light: ``cutoff + 1`` Fock levels.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
from scipy.special import gammaln, xlogy

from ._qutip import qutip
from .codes import fock_amplitudes

__all__ = [
    "clear_effect_caches",
    "conditional_rotation",
    "loss_weights",
    "loss_kraus",
    "loss_superoperator",
    "sector_projector",
    "x_basis_projectors",
    "tub_povm_matrices",
    "sector_idp_effects",
    "sector_idp_factors",
    "idp_povm",
    "tub_povm",
    "no_click_matrix",
    "linear_optics_povm_matrices",
    "linear_optics_povm",
    "bell_state",
]


def _check_eta(eta) -> float:
    eta = float(eta)
    if not 0.0 <= eta <= 1.0:
        raise ValueError(f"eta = {eta:g} is outside the allowed range [0, 1]")
    return eta


def conditional_rotation(theta: float, cutoff: int, *, n_qubits: int = 1,
                         control: int = 0) -> qutip.Qobj:
    """CR(theta) on qubits (x) light, with qubit ``control`` as the atom (docs/model.md 1).

    CR(theta) = |up><up| (x) 1 + |down><down| (x) exp(i theta a^dag a).

    Parameters
    ----------
    theta : float
        Rotation angle of the light when the control qubit is |down> [rad].
    cutoff : int
        Fock cutoff of the light (``cutoff + 1`` levels, dimensionless).
    n_qubits : int, optional
        Number of qubit factors in front of the light (dimensionless), default 1.
    control : int, optional
        Index of the qubit that controls the rotation, default 0.

    Returns
    -------
    qutip.Qobj
        Diagonal unitary with dims ``[[2]*n_qubits + [cutoff+1]] * 2``.

    Examples
    --------
    >>> import numpy as np
    >>> cr = conditional_rotation(np.pi, 3)
    >>> cr.dims
    [[2, 4], [2, 4]]
    >>> bool((cr * cr.dag()).tidyup() == cr.dag() * cr)  # unitary
    True
    """
    n = qutip.num(cutoff + 1)
    rot = (1j * theta * n).expm()
    ident = [qutip.qeye(2)] * n_qubits
    up = ident.copy()
    up[control] = qutip.basis(2, 0).proj()
    down = ident.copy()
    down[control] = qutip.basis(2, 1).proj()
    return qutip.tensor(*up, qutip.qeye(cutoff + 1)) + qutip.tensor(*down, rot)


def loss_weights(eta: float, cutoff: int) -> np.ndarray:
    """Binomial Kraus weights W[k, n] = sqrt(C(n, k) eta^(n-k) (1-eta)^k), zero for k > n.

    The pure-loss Kraus operators are A_k = sum_n W[k, n] |n-k><n|. Computed in log space,
    so they stay exact for eta near 0 and 1 and large n.

    Parameters
    ----------
    eta : float
        Channel transmission in [0, 1] (dimensionless).
    cutoff : int
        Fock cutoff (``cutoff + 1`` levels, dimensionless).

    Returns
    -------
    ndarray
        Real array of shape (cutoff + 1, cutoff + 1), indexed [k lost photons, n input photons].

    Raises
    ------
    ValueError
        If ``eta`` is outside [0, 1].

    Examples
    --------
    The squared weights of each column are a binomial distribution, so they sum to one:

    >>> import numpy as np
    >>> W = loss_weights(0.5, 4)
    >>> bool(np.allclose((W ** 2).sum(axis=0), 1.0))
    True
    """
    eta = _check_eta(eta)
    n = np.arange(cutoff + 1)[None, :]
    k = np.arange(cutoff + 1)[:, None]
    valid = n >= k
    nk = np.where(valid, n - k, 0)
    logw = 0.5 * (gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(nk + 1.0)
                  + xlogy(nk, eta) + xlogy(k, 1.0 - eta))
    return np.where(valid, np.exp(logw), 0.0)


def loss_kraus(eta: float, cutoff: int) -> list[qutip.Qobj]:
    """Kraus operators A_k (k = 0..cutoff) of the pure-loss channel of transmission ``eta``.

    Parameters
    ----------
    eta : float
        Channel transmission in [0, 1] (dimensionless).
    cutoff : int
        Fock cutoff (``cutoff + 1`` levels, dimensionless).

    Returns
    -------
    list of qutip.Qobj
        ``cutoff + 1`` operators A_k = sum_n W[k, n] |n-k><n| (see :func:`loss_weights`).

    Raises
    ------
    ValueError
        If ``eta`` is outside [0, 1].

    Examples
    --------
    The channel is trace preserving, sum_k A_k^dag A_k = 1:

    >>> import qutip
    >>> ks = loss_kraus(0.3, 5)
    >>> len(ks), bool(sum(k.dag() * k for k in ks) == qutip.qeye(6))
    (6, True)
    """
    W = loss_weights(eta, cutoff)
    ops = []
    for k in range(cutoff + 1):
        A = np.zeros((cutoff + 1, cutoff + 1))
        idx = np.arange(k, cutoff + 1)
        A[idx - k, idx] = W[k, idx]
        ops.append(qutip.Qobj(A))
    return ops


def loss_superoperator(eta: float, cutoff: int) -> qutip.Qobj:
    """The pure-loss channel as a QuTiP superoperator on the light.

    Parameters
    ----------
    eta : float
        Channel transmission in [0, 1] (dimensionless).
    cutoff : int
        Fock cutoff (``cutoff + 1`` levels, dimensionless).

    Returns
    -------
    qutip.Qobj
        Superoperator of dims [[[cutoff+1], [cutoff+1]]] * 2 built from :func:`loss_kraus`.

    Raises
    ------
    ValueError
        If ``eta`` is outside [0, 1].

    Examples
    --------
    A one-photon state keeps its photon with probability eta:

    >>> import qutip
    >>> S = loss_superoperator(0.3, 2)
    >>> rho = qutip.vector_to_operator(S * qutip.operator_to_vector(qutip.fock_dm(3, 1)))
    >>> round(float(rho[1, 1].real), 6)
    0.3
    """
    return qutip.kraus_to_super(loss_kraus(eta, cutoff))


def sector_projector(n_comp: int, sector: int, cutoff: int) -> qutip.Qobj:
    """Projector onto Fock states n = sector (mod n_comp).

    Parameters
    ----------
    n_comp : int
        Number of cat components N (the syndrome modulus, dimensionless).
    sector : int
        Residue r in 0..n_comp-1.
    cutoff : int
        Fock cutoff (``cutoff + 1`` levels, dimensionless).

    Returns
    -------
    qutip.Qobj
        Diagonal 0/1 operator of shape (cutoff + 1, cutoff + 1).

    Examples
    --------
    >>> sector_projector(2, 1, 5).diag().tolist()
    [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    """
    diag = (np.arange(cutoff + 1) % n_comp == sector).astype(float)
    return qutip.qdiags(diag, 0)


def x_basis_projectors() -> tuple[qutip.Qobj, qutip.Qobj]:
    """|+><+| and |-><-| of a qubit.

    Returns
    -------
    tuple of qutip.Qobj
        (|+><+|, |-><-|), with |+-> = (|up> +- |down>)/sqrt(2); each 2x2.

    Examples
    --------
    >>> import qutip
    >>> plus, minus = x_basis_projectors()
    >>> bool(plus + minus == qutip.qeye(2)), round(float(plus[0, 1].real), 6)
    (True, 0.5)
    """
    plus = (qutip.basis(2, 0) + qutip.basis(2, 1)).unit()
    minus = (qutip.basis(2, 0) - qutip.basis(2, 1)).unit()
    return plus.proj(), minus.proj()


def _idp_effect(target: np.ndarray, other: np.ndarray, overlap_abs: float) -> np.ndarray:
    """|t_perp><t_perp| / (1 + |c|): identifies ``target``, never fires on ``other``."""
    perp = target - other * np.vdot(other, target)
    nrm = np.linalg.norm(perp)
    if nrm == 0.0:
        return np.zeros((target.size, target.size), dtype=complex)
    perp = perp / nrm
    return np.outer(perp, perp.conj()) / (1.0 + overlap_abs)


def tub_povm_matrices(n_comp: int, sector: int, beta: float, cutoff: int):
    """Optimal USD effects (cached per argument tuple; returned arrays are read-only).

    See :func:`_tub_povm` for the construction (the Ivanovic-Dieks-Peres POVM of one
    syndrome sector, docs/model.md section 3.5).

    Parameters
    ----------
    n_comp : int
        Number of cat components N (dimensionless).
    sector : int
        Syndrome residue s in 0..n_comp-1.
    beta : float
        Amplitude of the reference coherent state |beta> (dimensionless, sqrt(photons)).
    cutoff : int
        Fock cutoff (``cutoff + 1`` levels, dimensionless).

    Returns
    -------
    tuple of ndarray
        (E_even, E_odd), each complex of shape (cutoff + 1, cutoff + 1), read-only.

    Examples
    --------
    >>> import numpy as np
    >>> e, o = tub_povm_matrices(2, 0, 1.0, 12)
    >>> e.shape, bool(np.allclose(e, e.conj().T)), bool(np.allclose(e @ o, 0))
    ((13, 13), True, False)
    """
    return _tub_povm(int(n_comp), int(sector), float(beta), int(cutoff))


def clear_effect_caches() -> None:
    """Empty the caches of USD effects (keyed by amplitude, cutoff and dark-count
    probability): for benchmarks that time a point met for the first time.

    Examples
    --------
    >>> clear_effect_caches()
    >>> _tub_povm.cache_info().currsize
    0
    """
    _tub_povm.cache_clear()
    _linear_optics_cached.cache_clear()


@functools.lru_cache(maxsize=256)
def _tub_povm(n_comp: int, sector: int, beta: float, cutoff: int):
    """Optimal USD effects (E_even, E_odd) for the two states of one syndrome sector.

    The two states are u = P_s|beta> (A = B, "even") and v = P_s|beta e^{i pi/N}>
    (A != B, "odd"), P_s the projector onto n = s (mod N). For equal priors the
    Ivanovic-Dieks-Peres POVM E_u = |v_perp><v_perp| / (1 + |c|) (and u <-> v) succeeds with
    probability 1 - |c|, c = <u|v>/(|u||v|) (docs/model.md section 3.5). Light outside the
    sector, or anything orthogonal to both, is inconclusive. Built by
    :func:`sector_idp_effects` from u's components on n = s and n = s + N (mod 2N).
    """
    amps = fock_amplitudes(beta, cutoff)
    e, o = sector_idp_effects(amps, n_comp, sector)
    e.flags.writeable = False
    o.flags.writeable = False
    return e, o


def sector_idp_effects(ref: np.ndarray, n_comp: int, sector: int):
    """IDP effects (E_even, E_odd) for |e> = P_s ref and |o> = exp(i pi n / N)|e>.

    The generalised TUB of docs/model.md section 7: ``ref`` is the light state Bob's
    POVM is built for (any vector; only its components on n = s mod N count), |o> the
    same state after his CR(pi/N) with A and B different. For cats ``ref`` = |beta> and
    this is the TUB of section 3.5.

    Parameters
    ----------
    ref : ndarray
        Fock amplitudes of the reference light state, shape (cutoff + 1,) (dimensionless).
    n_comp : int
        Number of cat components N (dimensionless).
    sector : int
        Syndrome residue s in 0..n_comp-1.

    Returns
    -------
    tuple of ndarray
        (E_even, E_odd), complex of shape (cutoff + 1, cutoff + 1).

    Notes
    -----
    Built in the orthonormal basis e1, e2 of the components f, g of |e> on n = s and
    n = s + N (mod 2N), with norms a and b: |e> = a e1 + b e2 and |o> ~ a e1 - b e2, so
    o_perp = (b e1 + a e2)/sqrt(a^2 + b^2), e_perp = (b e1 - a e2)/sqrt(a^2 + b^2) and
    1 + |c| = 2 max(a^2, b^2)/(a^2 + b^2). Gram-Schmidt on |e> and |o> would cancel
    catastrophically when 1 - |c| is tiny (weak light); this form does not. The generic
    construction is kept in :func:`idp_povm` and the tests check both agree. Either
    effect is zero when f or g is (then |e> and |o> coincide up to a phase and nothing is
    unambiguous); for orthogonal |e>, |o> (a = b) the POVM is projective and always
    succeeds on the sector.

    Examples
    --------
    E_even never fires on |o> (unambiguous):

    >>> import numpy as np
    >>> from catbell_qutip.codes import fock_amplitudes
    >>> ref = fock_amplitudes(1.0, 12)
    >>> e, o = sector_idp_effects(ref, 2, 0)
    >>> odd = np.exp(1j * np.pi * np.arange(13) / 2) * np.where(np.arange(13) % 2 == 0, ref, 0)
    >>> bool(abs(np.vdot(odd, e @ odd)) < 1e-12)
    True
    """
    weight, v_perp, u_perp = sector_idp_factors(ref, n_comp, sector)
    e = weight * np.outer(v_perp, v_perp.conj()).astype(complex)
    o = weight * np.outer(u_perp, u_perp.conj()).astype(complex)
    return e, o


def sector_idp_factors(ref: np.ndarray, n_comp: int, sector: int):
    """The rank-one factors (weight, o_perp, e_perp) of :func:`sector_idp_effects`.

    E_even = weight |o_perp><o_perp| and E_odd = weight |e_perp><e_perp| (weight 0 when
    either component of |e> is empty).

    Parameters
    ----------
    ref : ndarray
        Fock amplitudes of the reference light state, shape (cutoff + 1,) (dimensionless).
    n_comp : int
        Number of cat components N (dimensionless).
    sector : int
        Syndrome residue s in 0..n_comp-1.

    Returns
    -------
    weight : float
        (a^2 + b^2) / (2 max(a^2, b^2)) = 1 / (1 + |c|), in [1/2, 1] (dimensionless), or 0.
    o_perp, e_perp : ndarray
        Unit vectors of shape (cutoff + 1,) (zero vectors when ``weight`` is 0).

    Examples
    --------
    Equal components (a = b) give a projective measurement, weight 1:

    >>> import numpy as np
    >>> w, o_perp, e_perp = sector_idp_factors(np.array([1.0, 0.0, 1.0]), 2, 0)
    >>> float(w), bool(np.isclose(abs(np.vdot(o_perp, e_perp)), 0.0))
    (1.0, True)
    """
    ref = np.asarray(ref)
    n = np.arange(ref.size)
    f = np.where(n % (2 * n_comp) == sector, ref, 0.0)
    g = np.where(n % (2 * n_comp) == sector + n_comp, ref, 0.0)
    a, b = np.linalg.norm(f), np.linalg.norm(g)
    if a == 0.0 or b == 0.0:
        zero = np.zeros(ref.size, dtype=complex)
        return 0.0, zero, zero.copy()
    e1, e2 = f / a, g / b
    norm = np.hypot(a, b)
    v_perp = (b * e1 + a * e2) / norm
    u_perp = (b * e1 - a * e2) / norm
    weight = (a * a + b * b) / (2.0 * max(a * a, b * b))
    return weight, v_perp, u_perp


def idp_povm(u: np.ndarray, v: np.ndarray):
    """Generic Ivanovic-Dieks-Peres effects (E_u, E_v) for two pure states of equal prior.

    Gram-Schmidt form, for reference and tests: accurate while 1 - |<u|v>| >> 1e-16.

    Parameters
    ----------
    u, v : ndarray
        The two state vectors, same shape (d,); need not be normalised.

    Returns
    -------
    tuple of ndarray
        (E_u, E_v), complex of shape (d, d); E_u never fires on v and vice versa.

    Examples
    --------
    For |<u|v>| = c each state is identified with probability 1 - c:

    >>> import numpy as np
    >>> u, v = np.array([1.0, 0.0]), np.array([1.0, 1.0]) / np.sqrt(2)
    >>> E_u, E_v = idp_povm(u, v)
    >>> bool(np.isclose(np.vdot(u, E_u @ u).real, 1 - 1 / np.sqrt(2)))
    True
    >>> bool(abs(np.vdot(v, E_u @ v)) < 1e-15)
    True
    """
    u = u / np.linalg.norm(u)
    v = v / np.linalg.norm(v)
    c = abs(np.vdot(u, v))
    return _idp_effect(u, v, c), _idp_effect(v, u, c)


def tub_povm(n_comp: int, sector: int, beta: float, cutoff: int) -> tuple[qutip.Qobj, ...]:
    """(E_even, E_odd, E_inconclusive) of :func:`tub_povm_matrices` as Qobj.

    Parameters
    ----------
    n_comp : int
        Number of cat components N (dimensionless).
    sector : int
        Syndrome residue s in 0..n_comp-1.
    beta : float
        Amplitude of the reference coherent state (dimensionless, sqrt(photons)).
    cutoff : int
        Fock cutoff (``cutoff + 1`` levels, dimensionless).

    Returns
    -------
    tuple of qutip.Qobj
        The three effects, each (cutoff + 1) x (cutoff + 1); they sum to the identity.

    Examples
    --------
    >>> import qutip
    >>> effects = tub_povm(2, 0, 1.0, 12)
    >>> bool(sum(effects) == qutip.qeye(13))
    True
    """
    e, o = tub_povm_matrices(n_comp, sector, beta, cutoff)
    inc = np.eye(cutoff + 1) - e - o
    return qutip.Qobj(e), qutip.Qobj(o), qutip.Qobj(inc)


def no_click_matrix(modes, n_comp: int, beta: float, cutoff: int, p_dark: float = 0.0):
    """Fock matrix of "no detector in ``modes`` clicks" for the 2N-mode linear-optics USD.

    The light is split into M = 2N equal modes; mode j is displaced by -beta e^{i pi j/N}/sqrt(M)
    (it nulls ring point j) and watched by an ideal on/off detector with dark-click
    probability ``p_dark``. On the input mode the joint no-click effect of the set T is

        Q_T = (1 - p_dark)^|T| exp(-s x) exp(mu a^dag) (1 - s)^(a^dag a) exp(mu* a),

    s = |T|/M, x = |beta|^2, mu = beta sum_{j in T} e^{i pi j/N} / M. Detector inefficiency is
    a pure loss applied to the light before this measurement.

    Returned in extended precision (complex256): the click effects are alternating sums of
    up to 2^M of these matrices (:func:`linear_optics_outcomes`), which cancel to many orders
    of magnitude for weak light; double precision would leave ~1e-14 absolute noise.

    Parameters
    ----------
    modes : iterable of int
        The set T of watched modes, indices in 0..2N-1.
    n_comp : int
        Number of cat components N (dimensionless).
    beta : float
        Amplitude of the reference coherent state (dimensionless, sqrt(photons)).
    cutoff : int
        Fock cutoff (``cutoff + 1`` levels, dimensionless).
    p_dark : float, optional
        Dark-click probability per detector and pulse, in [0, 1] (dimensionless), default 0.

    Returns
    -------
    ndarray
        Extended-precision complex array of shape (cutoff + 1, cutoff + 1).

    Examples
    --------
    Watching no mode, nothing can click: Q_{} is the identity.

    >>> import numpy as np
    >>> Q = no_click_matrix([], 2, 1.0, 6)
    >>> bool(np.allclose(Q.astype(complex), np.eye(7)))
    True
    """
    ld = np.longdouble
    M = 2 * n_comp
    modes = list(modes)
    s = ld(len(modes)) / M
    x = ld(beta) ** 2
    mu = np.sum([ld(beta) * np.exp(1j * np.pi * ld(j) / n_comp) for j in modes]) / M \
        if modes else np.clongdouble(0)
    mu = np.clongdouble(mu)
    n = np.arange(cutoff + 1)
    logfact = np.concatenate([[ld(0)], np.cumsum(np.log(np.arange(1, cutoff + 1, dtype=ld)))])
    k = n[:, None]
    nn = n[None, :]
    valid = nn >= k
    d = np.where(valid, nn - k, 0)
    # G[k, n] = <k| exp(mu* a) |n> = (mu*)^(n-k) sqrt(n!/k!) / (n-k)!
    if abs(mu) == 0:
        G = np.eye(cutoff + 1, dtype=np.clongdouble)
    else:
        logmag = d * np.log(ld(abs(mu))) + (logfact[nn] - logfact[k]) / 2 - logfact[d]
        phase = np.exp(-1j * np.angle(mu) * d.astype(ld))
        G = np.where(valid, np.exp(logmag) * phase, np.clongdouble(0))
    damp = (1 - s) ** n.astype(ld) if s < 1 else (n == 0).astype(ld)
    Q = G.conj().T @ (damp[:, None] * G)
    return (1 - ld(p_dark)) ** len(modes) * np.exp(-s * x) * Q


def _all_click(modes, no_click):
    """P(every mode in ``modes`` clicks) by inclusion-exclusion over no-click sets."""
    total = 0
    for r in range(len(modes) + 1):
        for subset in itertools.combinations(modes, r):
            total = total + (-1) ** r * no_click(subset)
    return total


def linear_optics_outcomes(n_comp: int, all_click):
    """Coarse-grain click patterns into (E_even, E_odd), given P(all modes of a set click).

    "even" (logical 0, A = B): every mode that nulls a logical-1 (odd) ring point clicks;
    "odd": every mode nulling an even ring point clicks; all other patterns, including
    "everything clicks" (only possible with dark counts), are inconclusive.
    """
    M = 2 * n_comp
    every = all_click(list(range(M)))
    return (all_click(list(range(1, M, 2))) - every,
            all_click(list(range(0, M, 2))) - every)


def linear_optics_povm_matrices(n_comp: int, beta: float, cutoff: int, p_dark: float = 0.0):
    """(E_even, E_odd) Fock matrices of the linear-optics USD (docs/model.md section 3.5).

    Built by inclusion-exclusion over the joint no-click effects of :func:`no_click_matrix`,
    accumulated in extended precision and rounded to complex128 at the end. The effects do
    not depend on the syndrome, so they are cached per (N, beta, cutoff, p_dark): every
    branch of one protocol run reuses them. Returned arrays are read-only.

    Parameters
    ----------
    n_comp : int
        Number of cat components N (dimensionless).
    beta : float
        Amplitude of the reference coherent state (dimensionless, sqrt(photons)).
    cutoff : int
        Fock cutoff (``cutoff + 1`` levels, dimensionless).
    p_dark : float, optional
        Dark-click probability per detector and pulse, in [0, 1] (dimensionless), default 0.

    Returns
    -------
    tuple of ndarray
        (E_even, E_odd), complex of shape (cutoff + 1, cutoff + 1), read-only.

    Examples
    --------
    >>> import numpy as np
    >>> e, o = linear_optics_povm_matrices(2, 1.0, 10)
    >>> e.shape, bool(np.allclose(e, e.conj().T)), bool(np.all(np.linalg.eigvalsh(e) > -1e-12))
    ((11, 11), True, True)
    """
    return _linear_optics_cached(int(n_comp), float(beta), int(cutoff), float(p_dark))


@functools.lru_cache(maxsize=64)
def _linear_optics_cached(n_comp: int, beta: float, cutoff: int, p_dark: float):
    cache: dict = {}

    def no_click(subset):
        key = tuple(subset)
        if key not in cache:
            cache[key] = no_click_matrix(key, n_comp, beta, cutoff, p_dark)
        return cache[key]

    e, o = linear_optics_outcomes(n_comp, lambda modes: _all_click(modes, no_click))
    e, o = e.astype(complex), o.astype(complex)
    e.flags.writeable = False
    o.flags.writeable = False
    return e, o


def linear_optics_povm(n_comp: int, beta: float, cutoff: int, p_dark: float = 0.0):
    """(E_even, E_odd, E_inconclusive) of the linear-optics USD as Qobj.

    Parameters
    ----------
    n_comp : int
        Number of cat components N (dimensionless).
    beta : float
        Amplitude of the reference coherent state (dimensionless, sqrt(photons)).
    cutoff : int
        Fock cutoff (``cutoff + 1`` levels, dimensionless).
    p_dark : float, optional
        Dark-click probability per detector and pulse, in [0, 1] (dimensionless), default 0.

    Returns
    -------
    tuple of qutip.Qobj
        The three effects, each (cutoff + 1) x (cutoff + 1); they sum to the identity.

    Examples
    --------
    >>> import qutip
    >>> effects = linear_optics_povm(2, 1.0, 10)
    >>> bool((sum(effects) - qutip.qeye(11)).norm() < 1e-12)
    True
    """
    e, o = linear_optics_povm_matrices(n_comp, beta, cutoff, p_dark)
    return qutip.Qobj(e), qutip.Qobj(o), qutip.Qobj(np.eye(cutoff + 1) - e - o)


def bell_state(name: str = "phi+") -> qutip.Qobj:
    """Two-qubit Bell state ket ('phi+', 'phi-', 'psi+', 'psi-') with |up> = basis(2, 0).

    Parameters
    ----------
    name : str, optional
        One of 'phi+', 'phi-', 'psi+', 'psi-'; default 'phi+'.

    Returns
    -------
    qutip.Qobj
        Normalised ket with dims [[2, 2], [1]].

    Raises
    ------
    ValueError
        If ``name`` is not one of the four Bell states.

    Examples
    --------
    >>> import qutip
    >>> phi = bell_state("phi+")
    >>> round(float(abs(phi.overlap(qutip.tensor(qutip.basis(2, 0), qutip.basis(2, 0))))**2), 6)
    0.5
    >>> round(float(abs(phi.overlap(bell_state("psi-")))), 6)
    0.0
    """
    u, d = qutip.basis(2, 0), qutip.basis(2, 1)
    states = {
        "phi+": qutip.tensor(u, u) + qutip.tensor(d, d),
        "phi-": qutip.tensor(u, u) - qutip.tensor(d, d),
        "psi+": qutip.tensor(u, d) + qutip.tensor(d, u),
        "psi-": qutip.tensor(u, d) - qutip.tensor(d, u),
    }
    if name not in states:
        raise ValueError(f"bell state must be one of {sorted(states)}, got {name!r}")
    return states[name].unit()
