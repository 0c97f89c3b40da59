"""Exact waiting-time statistics of links that retry every T0 until they succeed.

All links attempt in lockstep rounds; link i needs N_i attempts, i.i.d. geometric
(docs/repeater.md section 3). Everything here is exact, from sums of positive terms:

- :data:`STRATEGIES`, :data:`MAX_MARKOV_SEGMENTS`, :func:`check_segments`: when the nodes swap,
  and the limits of each strategy (section 3.3).
- :func:`expected_max_geometric` (closed form, summed exactly in decimal arithmetic) and
  :func:`expected_attempts` (stable float recursion, what the chain uses): E[max N_i], the
  expected number of rounds until every link is ready (section 3.1), two independent routes.
- :func:`idle_time_pmf`, :func:`idle_dephasing_two_links`, :func:`two_link_memory_factors`:
  two links, closed forms (section 3.2).
- :func:`memory_factors`: E[d_A], E[d_B], E[d_A d_B] of the end-to-end pair for any n and
  strategy (sections 3.3 and 4), by the class recursion (``_parallel_factors``) or the Markov
  chain on sets of ready links (``_markov_factors``).

The seeded Monte Carlo of the same quantities is :mod:`.montecarlo` (section 3.4).
"""

from __future__ import annotations

import decimal
import math
from itertools import combinations

import numpy as np

from .._checks import ParameterError, check_choice, check_real

__all__ = [
    "STRATEGIES",
    "MAX_MARKOV_SEGMENTS",
    "MAX_PARALLEL_SEGMENTS",
    "scan_cost",
    "check_segments",
    "expected_max_geometric",
    "expected_attempts",
    "idle_time_pmf",
    "idle_dephasing_two_links",
    "two_link_memory_factors",
    "memory_factors",
]

#: How links wait and when the intermediate nodes swap (docs/repeater.md section 3):
#: "parallel": every link retries until it succeeds and holds its atoms; when all n are
#: ready every node swaps at once. "nested" (n = 2^k): a node swaps as soon as the two
#: halves of its block of the doubling tree are both complete. "asap": a node swaps as soon
#: as its two adjacent links (or the segments already joined to them) are ready.
STRATEGIES = ("parallel", "nested", "asap")
#: Largest n for the "nested" and "asap" strategies: their exact statistics run a Markov
#: chain on the 2^n sets of ready links (3^n transitions).
MAX_MARKOV_SEGMENTS = 10
#: Largest n for the "parallel" strategy: its exact statistics weigh k of j pending links by
#: C(j, k) q^k p^(j - k) in floating point, and C(n, n/2) leaves the float range above
#: n ~ 1030 (docs/repeater.md section 7); the work also grows ~n^2 (:func:`scan_cost`).
MAX_PARALLEL_SEGMENTS = 1024


def check_segments(segments, *, strategy: str = "parallel", name: str = "segments") -> int:
    """Validate a number of segments n for a strategy; return it as int.

    Parameters
    ----------
    segments : int
        Number of segments (links) n of the chain (dimensionless).
    strategy : {"parallel", "nested", "asap"}
        When the nodes swap (:data:`STRATEGIES`).
    name : str
        Argument name used in the error.

    Returns
    -------
    int
        ``segments`` as a Python int.

    Raises
    ------
    ValueError
        If n is not an integer >= 1, if ``strategy="nested"`` and n is not a power of 2, or
        if a Markov-chain strategy gets n > :data:`MAX_MARKOV_SEGMENTS`, or the
        parallel strategy n > :data:`MAX_PARALLEL_SEGMENTS`.

    Examples
    --------
    >>> check_segments(4, strategy="nested")
    4
    >>> try:
    ...     check_segments(3, strategy="nested")
    ... except ValueError as exc:
    ...     print(str(exc)[:35])
    segments = 3 is not a power of 2, w
    """
    check_choice(strategy, "strategy", STRATEGIES)
    if isinstance(segments, bool) or not isinstance(segments, (int, np.integer)):
        raise ParameterError(f"{name} must be an integer >= 1, got {segments!r}", name)
    n = int(segments)
    if n < 1:
        raise ParameterError(f"{name} = {n} is outside the allowed range [1, inf): a chain "
                             "has at least one segment", name)
    if strategy == "nested" and n & (n - 1):
        raise ParameterError(f"{name} = {n} is not a power of 2, which the nested strategy "
                             "needs (1, 2, 4, 8); use strategy='parallel' or "
                             "strategy='asap' for other n", name)
    if strategy != "parallel" and n > MAX_MARKOV_SEGMENTS:
        raise ParameterError(f"{name} = {n} is outside the allowed range [1, "
                             f"{MAX_MARKOV_SEGMENTS}] for strategy {strategy!r} (its exact "
                             "statistics need 3^n Markov-chain transitions); use "
                             "strategy='parallel' for longer chains", name)
    if n > MAX_PARALLEL_SEGMENTS:
        raise ParameterError(f"{name} = {n} is outside the allowed range [1, "
                             f"{MAX_PARALLEL_SEGMENTS}] (the exact waiting-time statistics' "
                             "binomial weights leave the float range beyond it)", name)
    return n


def scan_cost(segments, n_lengths: int, n_codes: int, n_alpha: int) -> tuple[float, float]:
    """Rough (seconds, bytes) of a distance scan with the parallel strategy, for refusing
    a hopeless run up front (docs/repeater.md section 7).

    Per distance, code and n, the waiting-time statistics of the amplitude scan and its
    refinement build n x n tables: about ``0.3 + 0.01 n + 1e-4 n^2`` s for ``n_alpha`` <=
    80, more in proportion beyond (timed on a loaded 2-core machine: 0.5 s at n = 32, 4 s
    at n = 256, 19 s at n = 512, 150 s at n = 1024; the estimate errs high), and
    ``n^2 / 2 (8 n_alpha + 112)`` bytes at a time. An order of magnitude, not a promise.

    Parameters
    ----------
    segments : iterable of int
        The numbers of segments n scanned.
    n_lengths, n_codes, n_alpha : int
        Distances, codes and amplitude-scan points of the scan (dimensionless counts).

    Returns
    -------
    seconds : float
        Estimated CPU time [s].
    peak_bytes : float
        Estimated peak memory [bytes].

    Examples
    --------
    n = 32, one distance and code: 0.3 + 0.32 + 0.1024 s and 32^2 / 2 x 752 bytes:

    >>> scan_cost([32], 1, 1, 80)
    (0.7224, 385024.0)
    """
    ns = [int(n) for n in segments]
    per = sum(0.3 + 0.01 * n + 1e-4 * n * n for n in ns) * max(n_alpha / 80, 1.0)
    seconds = per * n_lengths * n_codes
    peak = max(0.5 * n * n * (8 * n_alpha + 112) for n in ns) if ns else 0.0
    return seconds, peak


def _check_p(p):
    return np.asarray(check_real(p, "p", low=0.0, high=1.0, low_open=True), dtype=float)


def _log_q(p):
    """log(1 - p), -inf at p = 1 (a link that never fails) without a warning."""
    with np.errstate(divide="ignore"):
        return np.log1p(-p)


def _one_minus_q_pow(j, log_q):
    """1 - q^j from log q, accurate for small p."""
    return -np.expm1(j * log_q)


def _alternating_sum_exact(p: float, n: int) -> float:
    """sum_{j=1}^{n} (-1)^(j+1) C(n, j) / (1 - (1 - p)^j) in decimal arithmetic.

    The terms reach C(n, n/2) and cancel to E[M] ~ H_n / p, and 1 - q^j ~ j p loses
    log10(1 / p) more digits, so the sum runs with that many digits plus 25 guard digits:
    the result is the float nearest the exact value of the sum for this float p.
    """
    digits = 25 + len(str(math.comb(n, n // 2))) + max(0, math.ceil(-math.log10(p)))
    with decimal.localcontext() as ctx:
        ctx.prec = digits
        q = 1 - decimal.Decimal(p)  # Decimal(p) is the float p exactly
        q_j = decimal.Decimal(1)
        total = decimal.Decimal(0)
        for j in range(1, n + 1):
            q_j *= q
            term = math.comb(n, j) / (1 - q_j)
            total += term if j % 2 else -term
        return float(total)


def expected_max_geometric(p, n: int):
    """E[max(N_1, ..., N_n)] of n i.i.d. geometric variables on {1, 2, ...}, closed form.

    E[M] = sum_{j=1}^{n} (-1)^(j+1) C(n, j) / (1 - (1 - p)^j)   (docs/repeater.md 3.1),

    summed exactly: in decimal arithmetic with as many digits as the cancellation of the
    alternating terms costs (log10 C(n, n/2) + log10(1 / p), plus 25), so the result is
    correct to the last float digit for every n the chain accepts (up to
    :data:`MAX_PARALLEL_SEGMENTS`) and every p in (0, 1]. A route independent of
    :func:`expected_attempts` (a recursion over positive terms, what :func:`chain` uses);
    each point costs ~n decimal operations (about 10 ms at n = 1024), so this is for checks,
    not for grids.

    Parameters
    ----------
    p : float or ndarray
        Success probability per attempt, in (0, 1].
    n : int
        Number of variables (links), in [1, :data:`MAX_PARALLEL_SEGMENTS`].

    Returns
    -------
    float or ndarray
        Expected number of attempt rounds until all n links have succeeded.

    Raises
    ------
    catbell_qutip._checks.ParameterError
        If ``p`` is not in (0, 1], or ``n`` is not in [1, :data:`MAX_PARALLEL_SEGMENTS`].

    Examples
    --------
    Two links: E[M] = 2 / p - 1 / (1 - q^2) = (3 - 2 p) / (p (2 - p)), 8 / 3 at p = 1/2:

    >>> expected_max_geometric(0.5, 2), (3 - 2 * 0.5) / (0.5 * (2 - 0.5))
    (2.6666666666666665, 2.6666666666666665)
    """
    n = check_segments(n, name="n")
    p = _check_p(p)
    out = np.array([_alternating_sum_exact(float(v), n) for v in p.ravel()]).reshape(p.shape)
    return float(out) if np.ndim(out) == 0 else out


def _binom_table(p, n):
    """B[j][k] = C(j, k) q^k p^(j - k): k of j pending links stay pending in one round."""
    q = 1.0 - p
    q_pow = [q ** k for k in range(n + 1)]
    p_pow = [p ** k for k in range(n + 1)]
    table, row = [], [1]  # row: the exact integers C(j, k), Pascal's rule
    for j in range(n + 1):
        table.append([row[k] * q_pow[k] * p_pow[j - k] for k in range(j + 1)])
        row = [1, *(a + b for a, b in zip(row, row[1:], strict=False)), 1]
    return table


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

    Raises
    ------
    catbell_qutip._checks.ParameterError
        If ``p`` is not in (0, 1], or ``n`` is not a valid number of links.

    Examples
    --------
    One link needs 1 / p attempts; two need (3 - 2 p) / (p (2 - p)), as the closed form:

    >>> expected_attempts(0.25, 1), expected_attempts(0.5, 2) == expected_max_geometric(0.5, 2)
    (4.0, True)
    """
    n = check_segments(n, name="n")
    p = _check_p(p)
    if n == 1:
        out = 1.0 / p
        return float(out) if np.ndim(out) == 0 else out
    B = _binom_table(p, n)
    log_q = _log_q(p)
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
        The probability (dimensionless), broadcast over ``p`` and ``d``.

    Raises
    ------
    catbell_qutip._checks.ParameterError
        If ``p`` is not in (0, 1].
    ValueError
        If some ``d`` < 0.

    Examples
    --------
    P(0) = p / (2 - p) = 1/3 at p = 1/2, and the probabilities sum to 1:

    >>> import numpy as np
    >>> idle_time_pmf(0.5, 0), round(float(idle_time_pmf(0.5, np.arange(200)).sum()), 12)
    (0.3333333333333333, 1.0)
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

    Returns
    -------
    float or ndarray
        The expected dephasing factor, in (0, 1] (1 at c = 0).

    Raises
    ------
    catbell_qutip._checks.ParameterError
        If ``p`` is not in (0, 1], or ``c`` < 0.

    Examples
    --------
    The closed form equals the sum over the idle-time distribution:

    >>> import numpy as np
    >>> d = np.arange(400)
    >>> direct = float(np.sum(idle_time_pmf(0.3, d) * np.exp(-0.1 * d)))
    >>> abs(idle_dephasing_two_links(0.3, 0.1) - direct) < 1e-12
    True
    >>> idle_dephasing_two_links(0.3, 0.0)
    1.0
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
        T0 / t_c, >= 0 (attempt period over coherence time; dimensionless).

    Returns
    -------
    (E[d_A], E[d_B], E[d_A d_B]) : tuple of float or ndarray
        Each in (0, 1]; all 1 at x = 0 (ideal memory).

    Raises
    ------
    catbell_qutip._checks.ParameterError
        If ``p`` is not in (0, 1], or ``x`` < 0.

    Examples
    --------
    The same numbers as the general recursion of :func:`memory_factors` for n = 2:

    >>> import numpy as np
    >>> bool(np.allclose(two_link_memory_factors(0.3, 0.05), memory_factors(0.3, 2, 0.05),
    ...                  rtol=1e-12, atol=0))
    True
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
    log_q = _log_q(p)
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
    log_q = _log_q(p)
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

    Raises
    ------
    catbell_qutip._checks.ParameterError
        If ``p`` is not in (0, 1], ``x`` < 0, ``strategy`` is unknown, or ``n`` is not
        allowed for the strategy (:func:`check_segments`).

    Examples
    --------
    n = 1 stores nothing; waiting longer (nested, n = 4) dephases more than n = 2:

    >>> memory_factors(0.3, 1, 0.05)
    (1.0, 1.0, 1.0)
    >>> f2, f4 = memory_factors(0.3, 2, 0.05), memory_factors(0.3, 4, 0.05, strategy="nested")
    >>> all(0 < b < a <= 1 for a, b in zip(f2, f4))
    True
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
