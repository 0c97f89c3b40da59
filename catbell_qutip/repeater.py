"""Repeater chains of cat-code links (docs/repeater.md).

A total distance L is cut into n segments of length L0 = L / n. Each segment is one link of
this package's protocol (docs/model.md section 3, every parameter of
:class:`~catbell_qutip.params.ProtocolParams`), run at its own amplitude alpha; it gives the
heralded, Pauli-frame-corrected two-atom state rho_link (4 x 4), the success probability P
per attempt and the attempt time T0 = max(L0 / c_f, t0) (docs/model.md section 4).

The pieces, each exact (docs/repeater.md gives the formulas):

- :func:`swap_outcomes`, :func:`bell_swap`, :func:`compose_chain`: entanglement swapping,
  a Bell measurement on the two atoms of an intermediate node, every outcome with its Pauli
  correction on the right-hand atom, optionally after a two-qubit depolarising error;
  any two-qubit states (not only Bell-diagonal ones).
- :func:`dephase_output`: memory. Every stored atom's coherence decays as exp(-t / t_c)
  (docs/model.md section 3.7). Dephasing commutes with the swaps and lands on the output
  pair, so the end-to-end state needs only three expectations over the waiting times:
  E[d_A], E[d_B], E[d_A d_B] (:func:`memory_factors`).
- :func:`expected_attempts`, :func:`memory_factors`: waiting-time statistics of links that
  retry every T0 until they succeed (geometric numbers of attempts), exact, for three
  strategies (:data:`STRATEGIES`); :func:`expected_max_geometric` and
  :func:`two_link_memory_factors` are the closed forms; :func:`waiting_monte_carlo` is a
  seeded Monte Carlo of the same quantities, with standard errors, for cross-checks.
- :func:`chain`: the end-to-end state, F, S, Q, delivery rate and DI-QKD key rate on any
  broadcast grid of (alpha, L, link parameters), vectorised on the coherent engine.
- :func:`optimise`: per total distance and number of segments, the alpha that maximises
  the key rate (or gives a target delivery rate), a grid of alpha x distances in one
  engine call, then a vectorised refinement; :func:`plob_key_rate` is the PLOB bound.
"""

from __future__ import annotations

import math
import warnings
from itertools import combinations

import numpy as np

from ._checks import check_choice, check_real
from .api import run
from .bell import bell_fidelity, chsh_horodecki, qber_z
from .keyrate import key_rate as _key_rate
from .params import C_FIBRE_M_PER_S, ProtocolParams
from .result import herald

__all__ = [
    "STRATEGIES",
    "OBJECTIVES",
    "BSM_OUTCOMES",
    "MAX_MARKOV_SEGMENTS",
    "swap_outcomes",
    "bell_swap",
    "compose_chain",
    "dephase_output",
    "expected_max_geometric",
    "expected_attempts",
    "idle_time_pmf",
    "idle_dephasing_two_links",
    "two_link_memory_factors",
    "memory_factors",
    "waiting_monte_carlo",
    "link_states",
    "chain",
    "optimise",
    "plob_key_rate",
    "check_segments",
    "plob_clock_s",
    "scan",
    "scan_summary",
    "plot_scan",
    "S_LEVEL",
    "KEY_MIN_BIT_S",
]

#: How links wait and when the intermediate nodes swap (docs/repeater.md section 3):
#: "parallel": every link retries until it succeeds and holds its atoms; when all n are
#: ready every node swaps at once. "nested" (n = 2^k): a node swaps as soon as the two
#: halves of its block of the doubling tree are both complete. "asap": a node swaps as soon
#: as its two adjacent links (or the segments already joined to them) are ready.
STRATEGIES = ("parallel", "nested", "asap")
#: What :func:`optimise` maximises.
OBJECTIVES = ("key_rate", "S")
#: Bell-measurement outcomes on (B_i, A_{i+1}), |beta_k> = (1 x sigma_k)|phi+>, and the
#: Pauli correction sigma_k applied to the last atom of the chain.
BSM_OUTCOMES = (("phi+", "I"), ("psi+", "X"), ("psi-", "Y"), ("phi-", "Z"))
#: Largest n for the "nested" and "asap" strategies: their exact statistics run a Markov
#: chain on the 2^n sets of ready links (3^n transitions).
MAX_MARKOV_SEGMENTS = 10

_PAULI = np.array([[[1, 0], [0, 1]], [[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]],
                  dtype=complex)
_PHI_PLUS = np.array([[1, 0], [0, 1]], dtype=complex) / np.sqrt(2.0)  # amplitudes [b, c]
# |beta_k>[b, c] = ((1 x sigma_k)|phi+>)[b, c] = sum_c' phi+[b, c'] sigma_k[c, c']
_BELL = np.einsum("bd,kcd->kbc", _PHI_PLUS, _PAULI)


# --------------------------------------------------------------------------------------
# entanglement swapping
# --------------------------------------------------------------------------------------
def _as_states(rho, name: str) -> np.ndarray:
    rho = np.asarray(rho, dtype=complex)
    if rho.shape[-2:] != (4, 4):
        raise ValueError(f"{name} must be two-qubit density matrices of shape (..., 4, 4), "
                         f"got shape {rho.shape}")
    return rho


def swap_outcomes(rho_left, rho_right) -> np.ndarray:
    """Every outcome of an ideal Bell measurement between two links, Pauli-corrected.

    The left link holds atoms (A1, B1), the right one (A2, B2); the node measures (B1, A2)
    in the Bell basis |beta_k> = (1 x sigma_k)|phi+> (:data:`BSM_OUTCOMES`) and outcome k is
    corrected by sigma_k on B2 (docs/repeater.md section 2). Exact for any two-qubit states.

    Parameters
    ----------
    rho_left, rho_right : array_like, shape (..., 4, 4)
        Two-qubit states (basis |up up>, |up down>, |down up>, |down down>), broadcast.

    Returns
    -------
    ndarray, shape (4, ..., 4, 4)
        Unnormalised corrected states of (A1, B2), one per outcome; the trace of each is the
        probability of that outcome, and their sum is :func:`bell_swap`.
    """
    r1 = _as_states(rho_left, "rho_left")
    r2 = _as_states(rho_right, "rho_right")
    r1 = r1.reshape(r1.shape[:-2] + (2, 2, 2, 2))  # [a, b, a', b']
    r2 = r2.reshape(r2.shape[:-2] + (2, 2, 2, 2))  # [c, d, c', d']
    out = np.einsum("kbc,kyz,kDd,kWw,...abxy,...cdzw->k...aDxW", _BELL.conj(), _BELL,
                    _PAULI, _PAULI.conj(), r1, r2, optimize=True)
    return out.reshape(out.shape[:-4] + (4, 4))


def _marginal_A(rho):
    """tr_B rho, (..., 2, 2)."""
    return np.einsum("...abcb->...ac", rho.reshape(rho.shape[:-2] + (2, 2, 2, 2)))


def _marginal_B(rho):
    """tr_A rho, (..., 2, 2)."""
    return np.einsum("...abad->...bd", rho.reshape(rho.shape[:-2] + (2, 2, 2, 2)))


def bell_swap(rho_left, rho_right, *, depol: float = 0.0) -> np.ndarray:
    """The swapped state of (A1, B2), summed over the Bell-measurement outcomes.

    Parameters
    ----------
    rho_left, rho_right : array_like, shape (..., 4, 4)
        States of (A1, B1) and (A2, B2).
    depol : float
        Probability p of a two-qubit depolarising error on the measured atoms (B1, A2)
        before an ideal Bell measurement, rho -> (1 - p) rho + p 1/4 (x) tr_{B1 A2} rho
        (docs/repeater.md section 2). Default 0.

    Returns
    -------
    ndarray, shape (..., 4, 4)
        The corrected state of (A1, B2); its trace is the product of the input traces
        (the Bell measurement itself always succeeds; its failure probability only enters
        the rate).

    Notes
    -----
    The depolarised branch is the swap of the product states (rho_A1 (x) 1/2) and
    (1/2 (x) rho_B2): after the error the measured pair is maximally mixed and uncorrelated
    with the rest, so the output is rho_A1 (x) 1/2.
    """
    p = check_real(depol, "depol", low=0.0, high=1.0)
    r1 = _as_states(rho_left, "rho_left")
    r2 = _as_states(rho_right, "rho_right")
    out = swap_outcomes(r1, r2).sum(axis=0)
    if p == 0.0:
        return out
    half = np.eye(2) / 2.0
    r1_dep = np.einsum("...ac,bd->...abcd", _marginal_A(r1), half)  # rho_A1 (x) 1/2
    r2_dep = np.einsum("ce,...df->...cdef", half, _marginal_B(r2))  # 1/2 (x) rho_B2
    r1_dep = r1_dep.reshape(r1_dep.shape[:-4] + (4, 4))
    r2_dep = r2_dep.reshape(r2_dep.shape[:-4] + (4, 4))
    return (1.0 - p) * out + p * swap_outcomes(r1_dep, r2_dep).sum(axis=0)


def compose_chain(links, *, depol: float = 0.0) -> np.ndarray:
    """The end-to-end state of a chain of links, every node swapping (no memory yet).

    Parameters
    ----------
    links : sequence of array_like, each (..., 4, 4)
        The states of links 1 ... n, left to right (broadcast together).
    depol : float
        Depolarising probability of every swap (see :func:`bell_swap`).

    Returns
    -------
    ndarray, shape (..., 4, 4)
        State of (A1, B_n). Bell measurements on different nodes commute, and every
        correction is a Pauli on B_n, so the order of the swaps does not matter.
    """
    links = list(links)
    if not links:
        raise ValueError("links must hold at least one two-qubit state")
    out = _as_states(links[0], "links[0]")
    for i, rho in enumerate(links[1:], start=1):
        out = bell_swap(out, _as_states(rho, f"links[{i}]"), depol=depol)
    return out


_DIFF_A = np.array([[(i >> 1) != (j >> 1) for j in range(4)] for i in range(4)])
_DIFF_B = np.array([[(i & 1) != (j & 1) for j in range(4)] for i in range(4)])


def dephase_output(rho, d_A, d_B, d_AB) -> np.ndarray:
    """Apply the expected memory dephasing to the end-to-end state (docs/repeater.md 4).

    Element rho[ab, a'b'] is multiplied by E[d_A] if only a != a', by E[d_B] if only
    b != b', by E[d_A d_B] if both differ (docs/model.md section 3.7, per atom).

    Parameters
    ----------
    rho : array_like, shape (..., 4, 4)
        State of (A1, B_n).
    d_A, d_B, d_AB : float or ndarray
        E[d_A], E[d_B], E[d_A d_B] (:func:`memory_factors`), broadcast with ``rho[..., 0, 0]``.

    Returns
    -------
    ndarray, shape (..., 4, 4)
    """
    rho = _as_states(rho, "rho")
    dA = np.asarray(d_A, dtype=float)[..., None, None]
    dB = np.asarray(d_B, dtype=float)[..., None, None]
    dAB = np.asarray(d_AB, dtype=float)[..., None, None]
    f = np.where(_DIFF_A & _DIFF_B, dAB, np.where(_DIFF_A, dA, np.where(_DIFF_B, dB, 1.0)))
    return rho * f


# --------------------------------------------------------------------------------------
# waiting-time statistics
# --------------------------------------------------------------------------------------
def check_segments(segments, *, strategy: str = "parallel", name: str = "segments") -> int:
    """Validate a number of segments n for a strategy; return it as int.

    Raises
    ------
    ValueError
        If n is not an integer >= 1, if ``strategy="nested"`` and n is not a power of 2, or
        if a Markov-chain strategy gets n > :data:`MAX_MARKOV_SEGMENTS`.
    """
    check_choice(strategy, "strategy", STRATEGIES)
    if isinstance(segments, bool) or not isinstance(segments, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= 1, got {segments!r}")
    n = int(segments)
    if n < 1:
        raise ValueError(f"{name} = {n} is outside the allowed range [1, inf): a chain has at "
                         "least one segment")
    if strategy == "nested" and n & (n - 1):
        raise ValueError(f"{name} = {n} is not a power of 2, which the nested strategy needs "
                         "(1, 2, 4, 8); use strategy 'parallel' or 'asap' for other n")
    if strategy != "parallel" and n > MAX_MARKOV_SEGMENTS:
        raise ValueError(f"{name} = {n} is outside the allowed range [1, "
                         f"{MAX_MARKOV_SEGMENTS}] for strategy {strategy!r} (its exact "
                         "statistics need 3^n Markov-chain transitions); use strategy "
                         "'parallel' for longer chains")
    return n


def _check_p(p):
    return np.asarray(check_real(p, "p", low=0.0, high=1.0, low_open=True), dtype=float)


def _one_minus_q_pow(j, log_q):
    """1 - q^j from log q, accurate for small p."""
    return -np.expm1(j * log_q)


def expected_max_geometric(p, n: int):
    """E[max(N_1, ..., N_n)] of n i.i.d. geometric variables on {1, 2, ...}, closed form.

    E[M] = sum_{j=1}^{n} (-1)^(j+1) C(n, j) / (1 - (1 - p)^j)   (docs/repeater.md 3.1).

    Parameters
    ----------
    p : float or ndarray
        Success probability per attempt, in (0, 1].
    n : int
        Number of variables (links), >= 1.

    Returns
    -------
    float or ndarray
        Expected number of attempt rounds until all n links have succeeded.

    Notes
    -----
    The alternating sum loses about log10 C(n, n/2) digits (2 for n = 8, 9 for n = 32);
    :func:`expected_attempts` gives the same number from a sum of positive terms and is
    what :func:`chain` uses.
    """
    n = check_segments(n, name="n")
    p = _check_p(p)
    log_q = np.log1p(-np.minimum(p, 1.0))
    out = sum((-1) ** (j + 1) * math.comb(n, j) / _one_minus_q_pow(j, log_q)
              for j in range(1, n + 1))
    return float(out) if np.ndim(out) == 0 else out


def _binom_table(p, n):
    """B[j][k] = C(j, k) q^k p^(j - k): k of j pending links stay pending in one round."""
    q = 1.0 - p
    return [[math.comb(j, k) * q ** k * p ** (j - k) for k in range(j + 1)]
            for j in range(n + 1)]


def expected_attempts(p, n: int):
    """Expected number of attempt rounds until all n links have succeeded, E[max N_i].

    Computed by the recursion on the number j of links still pending,
    E_j (1 - q^j) = 1 + sum_{k=1}^{j-1} C(j, k) p^(j-k) q^k E_k, E_0 = 0 (a sum of positive
    terms, stable for any n and p); equal to :func:`expected_max_geometric`.

    Parameters
    ----------
    p : float or ndarray
        Success probability per attempt, in (0, 1].
    n : int
        Number of links, >= 1.

    Returns
    -------
    float or ndarray
        E[M] in attempts; exactly 1 / p for n = 1.
    """
    n = check_segments(n, name="n")
    p = _check_p(p)
    if n == 1:
        out = 1.0 / p
        return float(out) if np.ndim(out) == 0 else out
    B = _binom_table(p, n)
    log_q = np.log1p(-p)
    E = [np.zeros_like(p)]
    for j in range(1, n + 1):
        acc = 1.0 + sum(B[j][k] * E[k] for k in range(1, j))
        E.append(acc / _one_minus_q_pow(j, log_q))
    return float(E[n]) if np.ndim(E[n]) == 0 else E[n]


def idle_time_pmf(p, d):
    """P(|N_1 - N_2| = d) for two i.i.d. geometric links (docs/repeater.md 3.2).

    P(0) = p / (2 - p), P(d) = 2 p (1 - p)^d / (2 - p) for d >= 1.

    Parameters
    ----------
    p : float or ndarray
        Success probability per attempt, in (0, 1].
    d : int or ndarray
        Idle time in attempts (>= 0).

    Returns
    -------
    float or ndarray
    """
    p = _check_p(p)
    d = np.asarray(d)
    if np.any(d < 0):
        raise ValueError("d must be >= 0 (an idle time in attempts)")
    out = np.where(d == 0, 1.0, 2.0) * p * (1.0 - p) ** d / (2.0 - p)
    return float(out) if np.ndim(out) == 0 else out


def idle_dephasing_two_links(p, c):
    """E[exp(-c |N_1 - N_2|)] for two i.i.d. geometric links, closed form.

    E = p (1 + q e^{-c}) / ((2 - p)(1 - q e^{-c})), q = 1 - p (docs/repeater.md 3.2).

    Parameters
    ----------
    p : float or ndarray
        Success probability per attempt, in (0, 1].
    c : float or ndarray
        Decay per attempt of idle time, >= 0 (c = k T0 / t_c for k dephasing atoms).
    """
    p = _check_p(p)
    c = np.asarray(check_real(c, "c", low=0.0, allow_inf=True), dtype=float)
    qr = (1.0 - p) * np.exp(-c)
    out = p * (1.0 + qr) / ((2.0 - p) * (1.0 - qr))
    return float(out) if np.ndim(out) == 0 else out


def two_link_memory_factors(p, x):
    """(E[d_A], E[d_B], E[d_A d_B]) of a two-link chain, closed form (docs/repeater.md 3.2).

    With D = |N_1 - N_2|, one link waits D attempts, so the exponent of d_A d_B is
    2 x D; d_A = exp(-x (N_2 - N_1)^+), d_B = exp(-x [(N_2 - N_1)^+ + 2 (N_1 - N_2)^+]).

    Parameters
    ----------
    p : float or ndarray
        Success probability per attempt, in (0, 1].
    x : float or ndarray
        T0 / t_c, >= 0.
    """
    p = _check_p(p)
    x = np.asarray(check_real(x, "x", low=0.0, allow_inf=True), dtype=float)
    q = 1.0 - p
    z = p / (2.0 - p)

    def tail(r):  # sum_{d >= 1} q^d r^d
        return q * r / (1.0 - q * r)

    r1, r2 = np.exp(-x), np.exp(-2.0 * x)
    d_A = z * (1.0 + tail(r1)) + q / (2.0 - p)
    d_B = z * (1.0 + tail(r1) + tail(r2))
    d_AB = idle_dephasing_two_links(p, 2.0 * x)
    return d_A, d_B, d_AB


def _parallel_factors(p, n, x):
    """Exact (E[d_A], E[d_B], E[d_A d_B]) for the parallel strategy (docs/repeater.md 3.3).

    Link 1 and links 2..n form two classes; V(j1, j2) is the expected product of the
    per-round factors still to come with j1, j2 links pending in each class.
    """
    p, x = np.broadcast_arrays(np.asarray(p, dtype=float), np.asarray(x, dtype=float))
    n2 = n - 1
    B = _binom_table(p, n)
    log_q = np.log1p(-p)
    out = []
    for lam1, lam2 in ((1.0, 0.0), (1.0, 2.0), (2.0, 2.0)):
        V = {}
        for j1 in (0, 1):
            for j2 in range(n2 + 1):
                if j1 == j2 == 0:
                    continue
                acc = np.zeros_like(p)
                for k1 in range(j1 + 1):
                    for k2 in range(j2 + 1):
                        if (k1, k2) == (j1, j2):
                            continue
                        w = B[j1][k1] * B[j2][k2]
                        if k1 == k2 == 0:
                            acc = acc + w
                        else:
                            expo = x * (lam1 * (1 - k1) + lam2 * (n2 - k2))
                            acc = acc + w * np.exp(-expo) * V[k1, k2]
                self_expo = x * (lam1 * (1 - j1) + lam2 * (n2 - j2))
                V[j1, j2] = acc / -np.expm1((j1 + j2) * log_q - self_expo)
        out.append(V[1, n2])
    return tuple(out)


def _stored_atoms(ready: int, n: int, strategy: str) -> list[int]:
    """Atoms held in memory when the links in bitmask ``ready`` have succeeded.

    Atom 2 i is A_{i+1}, atom 2 i + 1 is B_{i+1} (link i + 1, 0-based i).
    """
    is_ready = [(ready >> i) & 1 for i in range(n)]
    if strategy == "parallel":
        return [a for i in range(n) if is_ready[i] for a in (2 * i, 2 * i + 1)]
    if strategy == "asap":
        atoms, i = [], 0
        while i < n:
            if is_ready[i]:
                j = i
                while j + 1 < n and is_ready[j + 1]:
                    j += 1
                atoms += [2 * i, 2 * j + 1]
                i = j + 1
            else:
                i += 1
        return atoms

    def block(start, size):  # nested: maximal complete aligned blocks
        if all(is_ready[start:start + size]):
            return [2 * start, 2 * (start + size - 1) + 1]
        if size == 1:
            return []
        half = size // 2
        return block(start, half) + block(start + half, half)

    return block(0, n)


#: dephasing weight of each atom in the exponents of d_A, d_B and d_A d_B: d_A holds only
#: A_1, d_B every other atom, d_A d_B all of them (docs/repeater.md section 4)
def _atom_weights(n):
    w = np.ones((3, 2 * n))
    w[0, :] = 0.0
    w[0, 0] = 1.0
    w[1, 0] = 0.0
    return w


def _markov_factors(p, n, x, strategy):
    """Exact (E[d_A], E[d_B], E[d_A d_B]) from the Markov chain on sets of ready links.

    V(s) (1 - q^k g(s)) = sum_{s' > s} P(s -> s') h(s'), h(full) = 1,
    h(s') = g(s') V(s'), g(s) = exp(-x sum of the weights of the atoms stored in s),
    k = n - |s| (docs/repeater.md section 3.3).
    """
    p, x = np.broadcast_arrays(np.asarray(p, dtype=float), np.asarray(x, dtype=float))
    full = (1 << n) - 1
    w = _atom_weights(n)
    expo = np.zeros((1 << n, 3))
    for s in range(full):
        atoms = _stored_atoms(s, n, strategy)
        expo[s] = w[:, atoms].sum(axis=1)
    xs = x[None, ...]
    # powers p^j q^(k-j)
    q = 1.0 - p
    log_q = np.log1p(-p)
    h = np.empty((1 << n, 3) + p.shape)
    h[full] = 1.0
    for s in sorted(range(full), key=lambda s: -bin(s).count("1")):
        pend = [i for i in range(n) if not (s >> i) & 1]
        k = len(pend)
        acc = np.zeros((3,) + p.shape)
        for j in range(1, k + 1):
            idx = [s | sum(1 << i for i in c) for c in combinations(pend, j)]
            acc = acc + p ** j * q ** (k - j) * h[idx].sum(axis=0)
        g_expo = expo[s][(...,) + (None,) * p.ndim] * xs
        V = acc / -np.expm1(k * log_q - g_expo)
        h[s] = np.exp(-g_expo) * V
    V0 = h[0]  # g(empty) = 1: nothing is stored before the first success
    return V0[0], V0[1], V0[2]


def memory_factors(p, n: int, x, *, strategy: str = "parallel"):
    """Exact expected dephasing factors of the end-to-end pair (docs/repeater.md 3-4).

    With N_i the attempts link i needs (i.i.d. geometric, success probability p) and s_a the
    number of attempt rounds atom a is stored, d_A = exp(-x s_{A_1}),
    d_B = exp(-x sum_{a != A_1} s_a), x = T0 / t_c. The strategy fixes the s_a.

    Parameters
    ----------
    p : float or ndarray
        Link success probability per attempt, in (0, 1].
    n : int
        Number of links.
    x : float or ndarray
        T0 / t_c >= 0 (0: ideal memory), broadcast with ``p``.
    strategy : {"parallel", "nested", "asap"}
        See :data:`STRATEGIES`.

    Returns
    -------
    (E[d_A], E[d_B], E[d_A d_B]) : tuple of float or ndarray
        Each in (0, 1]; exactly 1 for n = 1 or x = 0.
    """
    n = check_segments(n, strategy=strategy, name="n")
    p = _check_p(p)
    x = np.asarray(check_real(x, "x", low=0.0), dtype=float)
    shape = np.broadcast_shapes(p.shape, x.shape)
    if n == 1 or not np.any(x > 0):
        one = np.ones(shape)
        res = (one, one.copy(), one.copy())
    elif strategy == "parallel" or n == 2:  # for n = 2 the three strategies coincide
        res = _parallel_factors(p, n, x)
    else:
        res = _markov_factors(p, n, x, strategy)
    res = tuple(np.where(np.broadcast_to(x, shape) > 0, r, 1.0) for r in res)
    return tuple(float(r) if r.ndim == 0 else r for r in res)


def _storage_rounds(N, strategy):
    """Rounds each atom is stored, (samples, 2 n), from attempts N (samples, n)."""
    samples, n = N.shape
    M = N.max(axis=1, keepdims=True)
    st = np.empty((samples, 2 * n))
    st[:, 0] = (M - N[:, :1])[:, 0]
    st[:, -1] = (M - N[:, -1:])[:, 0]
    for i in range(n - 1):  # node between link i and link i + 1 (0-based)
        if strategy == "parallel":
            t = M[:, 0]
        elif strategy == "asap":
            t = np.maximum(N[:, i], N[:, i + 1])
        else:  # smallest aligned block holding links i and i + 1
            size = 1 << ((i ^ (i + 1)).bit_length())
            start = (i + 1) & ~(size - 1)
            t = N[:, start:start + size].max(axis=1)
        st[:, 2 * i + 1] = t - N[:, i]
        st[:, 2 * i + 2] = t - N[:, i + 1]
    return st


def waiting_monte_carlo(p: float, n: int, x: float, *, strategy: str = "parallel",
                        samples: int = 200_000, seed: int = 0) -> dict:
    """Seeded Monte Carlo of the waiting-time statistics, with standard errors.

    Draws N_i ~ Geometric(p) for n links (``numpy.random.default_rng(seed)``), derives
    how long each atom is stored under ``strategy`` and averages M = max N_i, d_A, d_B,
    d_A d_B (docs/repeater.md section 3.4).

    Parameters
    ----------
    p : float
        Link success probability per attempt, in (0, 1].
    n : int
        Number of links.
    x : float
        T0 / t_c, >= 0.
    strategy : {"parallel", "nested", "asap"}
    samples : int
        Number of chain realisations (default 200 000).
    seed : int
        Seed of the generator (default 0).

    Returns
    -------
    dict
        ``{"attempts", "d_A", "d_B", "d_AB"}`` -> ``(mean, standard error)``, plus
        ``"samples"`` and ``"seed"``.
    """
    n = check_segments(n, strategy=strategy, name="n")
    p = float(_check_p(p))
    x = float(check_real(x, "x", low=0.0))
    if int(samples) < 2:
        raise ValueError(f"samples = {samples} is outside the allowed range [2, inf)")
    rng = np.random.default_rng(seed)
    N = rng.geometric(p, size=(int(samples), n))
    st = _storage_rounds(N, strategy)
    w = _atom_weights(n)
    vals = {"attempts": N.max(axis=1).astype(float)}
    for key, row in zip(("d_A", "d_B", "d_AB"), w, strict=True):
        vals[key] = np.exp(-x * (st @ row))
    out = {k: (float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size)))
           for k, v in vals.items()}
    out["samples"] = int(samples)
    out["seed"] = seed
    return out


# --------------------------------------------------------------------------------------
# links and chains
# --------------------------------------------------------------------------------------
def link_states(loss_order: int, alpha, length_km, *, engine: str = "coherent", **fields):
    """Heralded link states of the protocol (docs/model.md section 3) on a broadcast grid.

    Parameters
    ----------
    loss_order : int
        l = 2^m - 1.
    alpha : float or ndarray
        Amplitude of each link.
    length_km : float or ndarray
        Link (segment) length L0 in km.
    engine : {"coherent", "fock"}
        "coherent" runs the whole grid in one call; "fock" loops over the points.
    **fields
        Any other :class:`~catbell_qutip.params.ProtocolParams` field.

    Returns
    -------
    dict
        ``P`` (success probability per attempt), ``rho`` (..., 4, 4) (normalised heralded
        state; NaN where P = 0), ``T0`` (attempt time max(L0 / c_f, t0), s) and ``params``.
    """
    params = ProtocolParams(loss_order=loss_order, alpha=alpha, length_km=length_km, **fields)
    shape = params.batch_shape
    if engine == "coherent":
        outcomes, _, _ = run(params, engine="coherent")
        P, rho_un = herald(outcomes)
        P = np.array(np.broadcast_to(P, shape), dtype=float)
        rho_un = np.broadcast_to(rho_un, shape + (4, 4))
    else:
        check_choice(engine, "engine", ("coherent", "fock"))
        P = np.empty(shape)
        rho_un = np.empty(shape + (4, 4), dtype=complex)
        for idx in np.ndindex(*shape):
            outcomes, _, _ = run(params.at(idx), engine="fock")
            P[idx], rho_un[idx] = herald(outcomes)
    ok = P > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(ok[..., None, None], rho_un / np.where(ok, P, 1.0)[..., None, None],
                       np.nan)
    T0 = np.broadcast_to(np.asarray(params.attempt_time_s, dtype=float), shape)
    return {"P": P, "rho": rho, "T0": T0, "params": params}


def _check_chain_args(p_swap, swap_depol):
    p_swap = check_real(p_swap, "p_swap", low=0.0, high=1.0, low_open=True)
    swap_depol = check_real(swap_depol, "swap_depol", low=0.0, high=1.0)
    return float(p_swap), float(swap_depol)


def chain(loss_order: int, alpha, length_km, segments: int, *, strategy: str = "parallel",
          p_swap: float = 1.0, swap_depol: float = 0.0, engine: str = "coherent",
          **fields) -> dict:
    """End-to-end figures of merit of an n-segment chain (docs/repeater.md).

    Parameters
    ----------
    loss_order : int
        l = 2^m - 1 of every link.
    alpha : float or ndarray
        Amplitude of every link (broadcast with ``length_km`` and the fields).
    length_km : float or ndarray
        TOTAL distance L in km, > 0 (or >= 0 with t0 > 0); each link spans L / n.
    segments : int
        n >= 1 (a power of 2 for ``strategy="nested"``).
    strategy : {"parallel", "nested", "asap"}
        When the nodes swap (:data:`STRATEGIES`). Default "parallel".
    p_swap : float
        Success probability of each Bell measurement, in (0, 1] (default 1). A failed swap
        discards the whole chain; supported for "parallel" only.
    swap_depol : float
        Two-qubit depolarising probability of each swap, in [0, 1] (default 0).
    engine : {"coherent", "fock"}
        Engine of the link states (default: the vectorised coherent one).
    **fields
        Any other :class:`~catbell_qutip.params.ProtocolParams` field, for every link
        (``t_c_s`` is also the coherence time of the stored atoms).

    Returns
    -------
    dict of ndarray
        Broadcast shape: ``P_link``, ``F_link``, ``S_link``, ``T0_s`` (attempt time),
        ``attempts`` (E[max N_i]), ``d_A``, ``d_B``, ``d_AB`` (memory factors),
        ``rate_hz`` (delivery rate p_swap^(n-1) / (E[max N_i] T0)), ``F``, ``S``, ``Q``,
        ``key_rate`` (bit/s) and ``rho`` (..., 4, 4), the end-to-end state of (A_1, B_n).
        Where P_link = 0 nothing is delivered: rate and key rate are 0, F, S, Q NaN.
    """
    n = check_segments(segments, strategy=strategy)
    p_swap, swap_depol = _check_chain_args(p_swap, swap_depol)
    if strategy != "parallel" and p_swap < 1.0:
        raise ValueError(
            f"p_swap = {p_swap:g} < 1 needs strategy 'parallel': with the {strategy!r} "
            "strategy a failed swap restarts part of the chain while the rest waits, whose "
            "waiting-time statistics this package does not compute exactly")
    L = np.asarray(check_real(length_km, "length_km", low=0.0, unit="km"), dtype=float)
    link = link_states(loss_order, alpha, L / n, engine=engine, **fields)
    P, rho_link, T0 = link["P"], link["rho"], link["T0"]
    if np.any(T0 <= 0):
        raise ValueError("the attempt time max(L0 / c_f, t0) is 0 (length_km = 0 and "
                         "t0_s = 0): the delivery rate is infinite; give length_km > 0 or "
                         "t0_s > 0")
    shape = P.shape
    ok = P > 0
    p_safe = np.where(ok, P, 1.0)
    t_c = np.broadcast_to(np.asarray(link["params"].t_c_s, dtype=float), shape)
    x = T0 / t_c
    if n == 1:
        attempts = 1.0 / p_safe
        rate = P / T0
        dA = dB = dAB = np.ones(shape)
    else:
        attempts = np.asarray(expected_attempts(p_safe, n))
        rate = np.where(ok, p_swap ** (n - 1) / (attempts * T0), 0.0)
        dA, dB, dAB = (np.asarray(v) for v in memory_factors(p_safe, n, x, strategy=strategy))
    rho_c = compose_chain([np.where(ok[..., None, None], rho_link, 0.0)] * n, depol=swap_depol)
    rho = dephase_output(rho_c, dA, dB, dAB)
    rho = np.where(ok[..., None, None], rho, np.nan)
    rho_safe = np.nan_to_num(rho)
    nan = np.full(shape, np.nan)
    F = np.where(ok, bell_fidelity(rho_safe), nan)
    S = np.where(ok, chsh_horodecki(rho_safe), nan)
    Q = np.where(ok, qber_z(rho_safe), nan)
    S_link = np.where(ok, chsh_horodecki(np.nan_to_num(rho_link)), nan)
    F_link = np.where(ok, bell_fidelity(np.nan_to_num(rho_link)), nan)
    K = np.where(ok, _key_rate(np.where(ok, rate, 0.0), np.where(ok, S, 2.0),
                               np.where(ok, np.maximum(Q, 0.0), 0.0)), 0.0)
    return {
        "P_link": P, "F_link": F_link, "S_link": S_link, "T0_s": T0,
        "attempts": np.where(ok, attempts, np.inf),
        "d_A": np.where(ok, dA, nan), "d_B": np.where(ok, dB, nan),
        "d_AB": np.where(ok, dAB, nan),
        "rate_hz": np.where(ok, rate, 0.0), "F": F, "S": S, "Q": Q, "key_rate": K,
        "rho": rho,
    }


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


# --------------------------------------------------------------------------------------
# optimisation over alpha
# --------------------------------------------------------------------------------------
_GOLD = (math.sqrt(5.0) - 1.0) / 2.0


def _chain_quiet(loss_order, alpha, L, n, kw, fields):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*have P = 0", category=RuntimeWarning)
        return chain(loss_order, alpha, L, n, **kw, **fields)


def optimise(loss_order: int, length_km, segments, *, objective: str = "key_rate",
             rate_hz: float | None = None, strategy: str = "parallel", p_swap: float = 1.0,
             swap_depol: float = 0.0, alpha_max: float = 4.0, n_alpha: int = 80,
             xtol: float = 1e-7, progress=None, **fields):
    """Best amplitude per total distance and number of segments (docs/repeater.md 5).

    A grid of ``n_alpha`` amplitudes in (0, alpha_max] x every distance x every n runs in
    one coherent-engine call; the best grid point of each (n, L) is then refined by a
    vectorised golden-section search between its neighbours (for "S" only among amplitudes
    that reach the delivery rate, the smallest of which is found by bisection).

    Parameters
    ----------
    loss_order : int
        l = 2^m - 1 of every link.
    length_km : array_like
        1-D grid of total distances in km (> 0).
    segments : sequence of int
        Numbers of segments n to compare.
    objective : {"key_rate", "S"}
        "key_rate": maximise the end-to-end key rate. "S": maximise S among the
        amplitudes whose delivery rate is at least ``rate_hz``. Where S falls with alpha
        (n = 1, or ideal memories) that is the smallest such alpha, the paper's fixed-rate
        convention; with memory a larger alpha shortens the waits and can give a larger S
        (the chain then delivers faster than ``rate_hz``).
    rate_hz : float, optional
        Target delivery rate in Hz (objective "S" only).
    strategy, p_swap, swap_depol
        As in :func:`chain`.
    alpha_max : float
        Upper end of the alpha scan (default 4).
    n_alpha : int
        Scan points (default 80).
    xtol : float
        Refinement tolerance in alpha (default 1e-7).
    progress : callable, optional
        Called with one integer (steps done) after each step; for a progress bar.
    **fields
        Link parameters (any :class:`~catbell_qutip.params.ProtocolParams` field).

    Returns
    -------
    xarray.Dataset
        Dimensions ``segments`` x ``length_km``: ``alpha`` (NaN where nothing is
        reachable: no positive key rate, or the rate unattainable with alpha <=
        ``alpha_max``), and every output of
        :func:`chain` there except ``rho``.
    """
    import xarray as xr

    check_choice(objective, "objective", OBJECTIVES)
    segs = [check_segments(s, strategy=strategy) for s in np.atleast_1d(segments).tolist()]
    if not segs:
        raise ValueError("segments must hold at least one number of segments")
    L = np.atleast_1d(np.asarray(check_real(length_km, "length_km", low=0.0, low_open=True,
                                            unit="km"), dtype=float))
    if L.ndim != 1:
        raise ValueError("length_km must be a 1-D grid of total distances")
    alpha_max = float(check_real(alpha_max, "alpha_max", low=0.0, low_open=True))
    if int(n_alpha) < 3:
        raise ValueError(f"n_alpha = {n_alpha} is outside the allowed range [3, inf)")
    if objective == "S":
        if rate_hz is None:
            raise ValueError("objective 'S' needs rate_hz, the delivery rate to reach (Hz)")
        rate_hz = float(check_real(rate_hz, "rate_hz", low=0.0, low_open=True, unit="Hz"))
    kw = dict(strategy=strategy, p_swap=p_swap, swap_depol=swap_depol)
    grid = np.linspace(alpha_max / n_alpha, alpha_max, int(n_alpha))
    tick = progress or (lambda k: None)

    # one engine call for every (alpha, n, L): link states at L0 = L / n
    n_arr = np.asarray(segs, dtype=float)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*have P = 0", category=RuntimeWarning)
        link = link_states(loss_order, grid[:, None, None],
                           L[None, None, :] / n_arr[None, :, None], **fields)
    tick(1)
    best = np.full((len(segs), L.size), np.nan)
    for i, n in enumerate(segs):
        res = _from_links(link, i, n, L, kw)
        if objective == "key_rate":
            best[i] = _refine_key(loss_order, grid, res["key_rate"], L, n, kw, fields, xtol)
        else:
            best[i] = _refine_rate(loss_order, grid, res["rate_hz"], res["S"], rate_hz, L,
                                   n, kw, fields, xtol)
        tick(1)
    out = {}
    for i, n in enumerate(segs):
        ok = np.isfinite(best[i])
        a = np.where(ok, best[i], 1.0)
        r = _chain_quiet(loss_order, a, L, n, kw, fields)
        for k, v in r.items():
            if k == "rho":
                continue
            out.setdefault(k, np.full((len(segs), L.size), np.nan))[i] = np.where(ok, v, np.nan)
        out["key_rate"][i] = np.where(ok, out["key_rate"][i], 0.0)
        out["rate_hz"][i] = np.where(ok, out["rate_hz"][i], 0.0)
    out["alpha"] = best
    units = {"alpha": "1", "P_link": "1", "F_link": "1", "S_link": "1", "T0_s": "s",
             "attempts": "1", "d_A": "1", "d_B": "1", "d_AB": "1", "rate_hz": "Hz",
             "F": "1", "S": "1", "Q": "1", "key_rate": "bit/s"}
    long = {"alpha": "optimal amplitude of every link", "P_link": "link success probability",
            "F_link": "link heralded fidelity", "S_link": "link CHSH value",
            "T0_s": "attempt time max(L0 / c_f, t0)",
            "attempts": "expected attempt rounds until all links are ready",
            "d_A": "E[d_A], memory factor on A_1", "d_B": "E[d_B], memory factor on B_n",
            "d_AB": "E[d_A d_B]", "rate_hz": "delivery rate of end-to-end pairs",
            "F": "end-to-end fidelity to phi+", "S": "end-to-end CHSH value (Horodecki)",
            "Q": "end-to-end bit-error rate of key rounds", "key_rate": "DI-QKD key rate"}
    data = {k: (("segments", "length_km"), v, {"units": units[k], "long_name": long[k]})
            for k, v in out.items()}
    coords = {"segments": ("segments", np.asarray(segs, dtype=int), {"units": "1"}),
              "length_km": ("length_km", L, {"units": "km", "long_name": "total distance"})}
    attrs = {"loss_order": int(loss_order), "objective": objective, "strategy": strategy,
             "p_swap": float(p_swap), "swap_depol": float(swap_depol),
             "alpha_max": alpha_max, "n_alpha": int(n_alpha)}
    if rate_hz is not None:
        attrs["rate_hz"] = rate_hz
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _from_links(link, i, n, L, kw):
    """Chain outputs on the alpha grid for segment index i, from precomputed link states."""
    P = link["P"][:, i, :]
    rho_link = link["rho"][:, i, :]
    T0 = link["T0"][:, i, :]
    t_c = np.broadcast_to(np.asarray(link["params"].t_c_s, dtype=float),
                          link["P"].shape)[:, i, :]
    ok = P > 0
    p_safe = np.where(ok, P, 1.0)
    if n == 1:
        rate = P / T0
        dA = dB = dAB = np.ones(P.shape)
    else:
        attempts = np.asarray(expected_attempts(p_safe, n))
        rate = np.where(ok, kw["p_swap"] ** (n - 1) / (attempts * T0), 0.0)
        dA, dB, dAB = memory_factors(p_safe, n, T0 / t_c, strategy=kw["strategy"])
    rho = dephase_output(compose_chain([np.nan_to_num(rho_link)] * n, depol=kw["swap_depol"]),
                         dA, dB, dAB)
    S = chsh_horodecki(rho)
    Q = np.maximum(qber_z(rho), 0.0)
    K = np.where(ok, _key_rate(rate, np.where(ok, np.minimum(S, 2 * np.sqrt(2)), 2.0), Q), 0.0)
    return {"rate_hz": np.where(ok, rate, 0.0), "key_rate": K, "S": np.where(ok, S, np.nan)}


def _refine_key(loss_order, grid, K, L, n, kw, fields, xtol):
    """Golden-section refinement of the key-rate maximum of each column of K (n_alpha, nL)."""
    K = np.nan_to_num(K, nan=0.0)
    i = np.argmax(K, axis=0)
    has = K[i, np.arange(L.size)] > 0
    best = np.full(L.size, np.nan)
    if not has.any():
        return best
    cols = np.nonzero(has)[0]
    ii = i[cols]
    lo = np.where(ii > 0, grid[np.maximum(ii - 1, 0)], grid[0] * 1e-3)
    hi = grid[np.minimum(ii + 1, grid.size - 1)]
    Lc = L[cols]

    def f(a):
        return _chain_quiet(loss_order, a, Lc, n, kw, fields)["key_rate"]

    a_ref, k_ref = _golden_max(f, lo, hi, xtol)
    k_grid = K[ii, cols]
    best[cols] = np.where(k_ref >= k_grid, a_ref, grid[ii])
    return best


def _golden_max(f, lo, hi, xtol):
    """Vectorised golden-section search for the maximum of f on [lo, hi] (arrays)."""
    c = hi - _GOLD * (hi - lo)
    d = lo + _GOLD * (hi - lo)
    fc, fd = f(c), f(d)
    while np.max(hi - lo) > xtol * max(1.0, float(np.max(hi))):
        left = fc >= fd  # the maximum lies in [lo, d]
        hi = np.where(left, d, hi)
        lo = np.where(left, lo, c)
        new = np.where(left, hi - _GOLD * (hi - lo), lo + _GOLD * (hi - lo))
        fn = f(new)
        c, d, fc, fd = (np.where(left, new, d), np.where(left, c, new),
                        np.where(left, fn, fd), np.where(left, fc, fn))
    return np.where(fc >= fd, c, d), np.maximum(fc, fd)


def _refine_rate(loss_order, grid, R, S, target, L, n, kw, fields, xtol):
    """Largest S subject to delivery rate >= target, per column of the (n_alpha, nL) grid.

    The best feasible grid point is refined by golden section between its neighbours; where
    its lower neighbour misses the rate, the bracket starts at the smallest alpha reaching
    it (bisection), which is also a candidate (the answer whenever S falls with alpha).
    """
    feasible = (R >= target) & np.isfinite(S)
    has = feasible.any(axis=0)
    best = np.full(L.size, np.nan)
    if not has.any():
        return best
    cols = np.nonzero(has)[0]
    Sm = np.where(feasible, S, -np.inf)[:, cols]
    ii = np.argmax(Sm, axis=0)
    Lc = L[cols]

    def run(a):
        return _chain_quiet(loss_order, np.maximum(a, 1e-12), Lc, n, kw, fields)

    # smallest alpha reaching the rate, below the best grid point when its neighbour misses
    lo_grid = np.where(ii > 0, grid[np.maximum(ii - 1, 0)], 0.0)
    edge = ~((ii > 0) & feasible[np.maximum(ii - 1, 0), cols])
    a_lo, a_hi = lo_grid.copy(), grid[ii].copy()
    while np.any(edge) and np.max(np.where(edge, a_hi - a_lo, 0.0)) > xtol * max(
            1.0, float(np.max(a_hi))):
        mid = 0.5 * (a_lo + a_hi)
        up = run(mid)["rate_hz"] >= target
        a_hi = np.where(edge & up, mid, a_hi)
        a_lo = np.where(edge & ~up, mid, a_lo)
    lo = np.where(edge, a_hi, lo_grid)
    hi = grid[np.minimum(ii + 1, grid.size - 1)]

    def f(a):
        r = run(a)
        return np.where(r["rate_hz"] >= target, np.nan_to_num(r["S"], nan=-np.inf), -np.inf)

    a_gold, s_gold = _golden_max(f, lo, hi, xtol)
    cand_a = np.stack([grid[ii], np.where(edge, a_hi, grid[ii]), a_gold])
    cand_s = np.stack([Sm[ii, np.arange(cols.size)], np.where(edge, f(a_hi), -np.inf), s_gold])
    k = np.argmax(cand_s, axis=0)
    best[cols] = cand_a[k, np.arange(cols.size)]
    return best


# --------------------------------------------------------------------------------------
# distance scans (the ``catbell repeater`` command)
# --------------------------------------------------------------------------------------
def plob_clock_s(length_km, segments_max: int, t0_s: float = 0.0):
    """The attempt clock the PLOB curve uses: max(L / (n_max c_f), t0), in s.

    One use of the whole channel per attempt of the finest chain compared (its links are
    the fastest): every curve of a scan is compared with point-to-point transmission
    pulsed at least as fast as itself (docs/repeater.md section 6).
    """
    L = np.asarray(length_km, dtype=float)
    return np.maximum(L * 1e3 / (segments_max * C_FIBRE_M_PER_S), float(t0_s))


def scan(loss_orders, length_km, segments, *, objective: str = "key_rate",
         rate_hz: float | None = None, strategy: str = "parallel", p_swap: float = 1.0,
         swap_depol: float = 0.0, alpha_max: float = 4.0, n_alpha: int = 80,
         progress=None, **fields):
    """:func:`optimise` for several loss orders, with the PLOB bound (docs/repeater.md 5-6).

    Parameters
    ----------
    loss_orders : sequence of int
        Codes l to compare (every link of a chain uses the same code).
    length_km, segments, objective, rate_hz, strategy, p_swap, swap_depol, alpha_max, \
n_alpha, progress, **fields
        As in :func:`optimise`.

    Returns
    -------
    xarray.Dataset
        Dimensions ``loss_order`` x ``segments`` x ``length_km``, the variables of
        :func:`optimise`, plus ``plob_key_rate`` (bit/s, on the clock of
        :func:`plob_clock_s`), ``plob_key_rate_own_clock`` (segments x length_km, each n on
        its own attempt clock) and ``best_segments`` (loss_order x length_km: the n of
        largest key rate, 0 where no n gives a key).
    """
    import xarray as xr

    orders = [int(v) for v in np.atleast_1d(loss_orders).tolist()]
    if not orders:
        raise ValueError("loss_orders must hold at least one loss order")
    parts = [optimise(l, length_km, segments, objective=objective, rate_hz=rate_hz,
                      strategy=strategy, p_swap=p_swap, swap_depol=swap_depol,
                      alpha_max=alpha_max, n_alpha=n_alpha, progress=progress, **fields)
             for l in orders]
    ds = xr.concat(parts, dim="loss_order", combine_attrs="drop_conflicts")
    ds = ds.assign_coords(loss_order=("loss_order", np.asarray(orders), {"units": "1"}))
    ds.attrs.pop("loss_order", None)
    L = ds["length_km"].values
    segs = ds["segments"].values
    db = float(fields.get("db_per_km", 0.2))
    t0 = float(fields.get("t0_s", 0.0))
    clock = plob_clock_s(L, int(segs.max()), t0)
    ds["plob_key_rate"] = ("length_km", plob_key_rate(L, clock, db_per_km=db),
                           {"units": "bit/s", "long_name": "PLOB bound -log2(1 - eta) per "
                            f"channel use, one use per max(L / ({int(segs.max())} c_f), t0)"})
    own = np.stack([plob_key_rate(L, np.maximum(L * 1e3 / (n * C_FIBRE_M_PER_S), t0),
                                  db_per_km=db) for n in segs])
    ds["plob_key_rate_own_clock"] = (("segments", "length_km"), own,
                                     {"units": "bit/s", "long_name": "PLOB bound, one use per "
                                      "attempt of the n-segment links, max(L / (n c_f), t0)"})
    K = ds["key_rate"].values
    best = np.where(K.max(axis=1) > 0, segs[np.argmax(K, axis=1)], 0)
    ds["best_segments"] = (("loss_order", "length_km"), best.astype(int),
                           {"units": "1", "long_name": "n of largest key rate (0: no key)"})
    ds.attrs.update({"plob_clock": f"one channel use per max(L / ({int(segs.max())} c_f), "
                                   "t0), the attempt time of the finest chain's links",
                     "db_per_km": db, "t0_s": t0})
    for k, v in fields.items():
        ds.attrs[f"link_{k}"] = v if isinstance(v, (int, float, str)) else str(v)
    return ds


#: S level of the reach in :func:`scan_summary` (the level ``catbell reproduce`` uses for
#: the Fig. 3(g) reach): S - 2 decays continuously and, without bit-flip noise (Q = 0),
#: never vanishes, so "S > 2" alone has no finite reach (docs/repeater.md section 5)
S_LEVEL = 2.01
#: key-rate floor (bit/s) of the reach in :func:`scan_summary` and of the figure
KEY_MIN_BIT_S = 1e-3


def _last_true(mask, L):
    idx = np.nonzero(mask)[0]
    return float(L[idx[-1]]) if idx.size else None


def _holds_from(mask, L):
    """Smallest L from which ``mask`` holds at every larger grid point (None if not at the end)."""
    if not mask.size or not mask[-1]:
        return None
    fails = np.nonzero(~mask)[0]
    return float(L[fails[-1] + 1]) if fails.size else float(L[0])


def scan_summary(ds, *, s_level: float = S_LEVEL, key_min: float = KEY_MIN_BIT_S) -> dict:
    """Per code l and number of segments n, the reach and crossings of a :func:`scan`.

    All distances are grid points of ``ds`` (their spacing is the resolution); a reach
    equal to ``max_km`` means "at least that far". JSON-ready: every missing value is None.

    Parameters
    ----------
    ds : xarray.Dataset
        A :func:`scan` result.
    s_level : float
        S level of ``S_reach_km`` (default :data:`S_LEVEL`, 2.01).
    key_min : float
        Key-rate floor of ``key_reach_km`` in bit/s (default :data:`KEY_MIN_BIT_S`).

    Returns
    -------
    dict
        ``{"l{l}": {"n{n}": {...}}}`` with ``key_reach_km`` (largest L with key rate >=
        ``key_min``), ``S_reach_km`` (largest L with S >= ``s_level`` at the chosen alpha),
        ``beats_plob_from_km`` (smallest L from which the key rate exceeds
        ``plob_key_rate`` up to the end of the grid), ``beats_one_segment_from_km`` (the same
        against the n = 1 key rate),
        ``key_rate_at_max_km`` (bit/s at the largest L); and ``max_km``, ``grid_step_km``,
        ``s_level``, ``key_min_bit_s``.
    """
    L = ds["length_km"].values
    out = {}
    for l in ds["loss_order"].values:
        per = {}
        sel = ds.sel(loss_order=l)
        one = sel.sel(segments=1)["key_rate"].values if 1 in sel["segments"].values else None
        for n in sel["segments"].values:
            d = sel.sel(segments=n)
            K = d["key_rate"].values
            S = np.nan_to_num(d["S"].values, nan=0.0)
            per[f"n{int(n)}"] = {
                "key_reach_km": _last_true(K >= key_min, L),
                "S_reach_km": _last_true(S >= s_level, L),
                "beats_plob_from_km": _holds_from(K > d["plob_key_rate"].values, L),
                "beats_one_segment_from_km": (None if one is None or n == 1 else
                                              _holds_from(K > one, L)),
                "key_rate_at_max_km": float(K[-1]),
            }
        out[f"l{int(l)}"] = per
    out["max_km"] = float(L[-1])
    out["grid_step_km"] = float(L[1] - L[0]) if L.size > 1 else None
    out["s_level"] = float(s_level)
    out["key_min_bit_s"] = float(key_min)
    return out


_SEG_COLOURS = {1: "tab:blue", 2: "tab:orange", 4: "tab:green", 8: "tab:red", 16: "tab:purple"}
_L_STYLES = {0: "-", 1: "--", 3: ":", 7: "-."}


def plot_scan(ds, path_stem, *, usd: str = "tub", key_min: float = KEY_MIN_BIT_S,
              s_level: float = S_LEVEL, title: str | None = None) -> list:
    """Key rate and S against total distance for every (l, n) of a :func:`scan`.

    Writes ``path_stem``.png (300 dpi) and ``path_stem``.pdf; returns the two paths.
    Key rates are drawn down to ``key_min`` (bit/s) and S down to ``s_level``, the levels
    of :func:`scan_summary`; a marker shows where a curve stops (falls below its level, or
    nothing is reachable any more).
    """
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    L = ds["length_km"].values
    n_curves = ds.sizes["loss_order"] * ds.sizes["segments"]
    rows = math.ceil((n_curves + 1) / 3)
    fig, (ax_k, ax_s) = plt.subplots(1, 2, figsize=(10.0, 4.0 + 0.22 * rows))
    bottom = (0.6 + 0.22 * rows) / (4.0 + 0.22 * rows)
    fig.subplots_adjust(left=0.075, right=0.985, bottom=bottom, top=0.9, wspace=0.22)
    usd_name = "TUB" if usd == "tub" else "linear-optics"
    for l in ds["loss_order"].values:
        for n in ds["segments"].values:
            d = ds.sel(loss_order=l, segments=n)
            colour = _SEG_COLOURS.get(int(n))
            style = _L_STYLES.get(int(l), "-")
            label = f"n = {int(n)}, l = {int(l)}, {usd_name} USD"
            K = d["key_rate"].values
            shown = K >= key_min
            ax_k.plot(L, np.where(shown, K, np.nan), style, color=colour, lw=1.5, label=label)
            pos = np.nonzero(shown)[0]
            if pos.size and pos[-1] < L.size - 1:
                ax_k.plot(L[pos[-1]], K[pos[-1]], "o", color=colour, ms=4)
            S = d["S"].values
            above = np.nan_to_num(S, nan=0.0) >= s_level
            ax_s.plot(L, np.where(above, S, np.nan), style, color=colour, lw=1.5)
            pos = np.nonzero(above)[0]
            if pos.size and pos[-1] < L.size - 1:
                ax_s.plot(L[pos[-1]], S[pos[-1]], "o", color=colour, ms=4)
    nmax = int(ds["segments"].values.max())
    ax_k.plot(L, ds["plob_key_rate"].values, color="k", lw=1.0,
              label=rf"PLOB $-\log_2(1-\eta)$ per use, one use per $\max(L/({nmax}c_f), t_0)$")
    ax_k.set_yscale("log")
    ax_k.set_xlabel(r"total distance $L$ (km)")
    ax_k.set_ylabel(r"secret key rate $K$ (bit/s)")
    ax_s.axhline(2.0, color="0.4", lw=0.8, ls=":", label=r"$S = 2$ (local bound)")
    ax_s.axhline(s_level, color="0.4", lw=0.8, ls="--", label=f"$S = {s_level:g}$ (reach level)")
    ax_s.axhline(2 * np.sqrt(2), color="0.4", lw=0.8, ls="-.", label=r"$S = 2\sqrt{2}$")
    ax_s.set_xlabel(r"total distance $L$ (km)")
    ax_s.set_ylabel(r"end-to-end CHSH value $S$")
    ax_s.set_ylim(1.97, 2.86)
    Kall = ds["key_rate"].values
    kmax = float(Kall.max()) if Kall.size else 0.0
    if kmax > key_min:
        top = max(kmax, min(float(np.nanmax(ds["plob_key_rate"].values)), 30 * kmax))
        ax_k.set_ylim(key_min, 3 * top)
    for ax in (ax_k, ax_s):
        ax.grid(alpha=0.3)
        ax.set_xlim(0, L[-1])
    ax_s.legend(fontsize=7, loc="upper right")
    handles, labels = ax_k.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=7, frameon=False)
    obj = ds.attrs.get("objective")
    how = ("alpha maximising the key rate" if obj == "key_rate" else
           f"alpha giving a delivery rate of {ds.attrs.get('rate_hz'):g} Hz")
    strategy = ds.attrs.get("strategy", "parallel")
    fig.suptitle(title or f"repeater chains, strategy '{strategy}', {how} at each point "
                 f"(markers: curve ends; K < {key_min:g} bit/s and S < {s_level:g} not shown)",
                 fontsize=8.5)
    stem = Path(path_stem)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    fig.savefig(paths[0], dpi=300)
    fig.savefig(paths[1])
    plt.close(fig)
    return paths
