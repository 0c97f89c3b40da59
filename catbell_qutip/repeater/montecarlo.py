"""Seeded Monte Carlo of the waiting-time statistics, for cross-checks (docs/repeater.md 3.4).

Draws every link's number of attempts, derives how long each atom is stored under the
strategy (the table of docs/repeater.md section 3.3) and averages the quantities that
:mod:`.waiting` computes exactly (E[max N_i], E[d_A], E[d_B], E[d_A d_B]), with standard errors.
"""

from __future__ import annotations

import math

import numpy as np

from .._checks import check_int, check_real
from .waiting import _atom_weights, _check_p, check_segments

__all__ = ["waiting_monte_carlo"]


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
        When the nodes swap (:data:`~catbell_qutip.repeater.waiting.STRATEGIES`).
    samples : int
        Number of chain realisations (default 200 000).
    seed : int
        Seed of the generator (default 0).

    Returns
    -------
    dict
        ``{"attempts", "d_A", "d_B", "d_AB"}`` -> ``(mean, standard error)``, plus
        ``"samples"`` and ``"seed"``.

    Raises
    ------
    catbell_qutip._checks.ParameterError
        If ``p`` is not in (0, 1], ``x`` < 0, ``samples`` < 2, or ``n`` is not allowed
        for ``strategy``.

    Examples
    --------
    The sample mean of max N_i agrees with the exact E[max N_i] within 4 standard errors:

    >>> from catbell_qutip.repeater.waiting import expected_attempts
    >>> mc = waiting_monte_carlo(0.3, 4, 0.05, samples=20_000, seed=0)
    >>> mean, err = mc["attempts"]
    >>> abs(mean - expected_attempts(0.3, 4)) < 4 * err
    True
    """
    n = check_segments(n, strategy=strategy, name="n")
    p = float(_check_p(p))
    x = float(check_real(x, "x", low=0.0))
    samples = check_int(samples, "samples", low=2)
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
