"""Repeater chains of cat-code links (docs/repeater.md).

A total distance L is cut into n segments of length L0 = L / n. Each segment is one link of
this package's protocol (docs/model.md section 3, every parameter of
:class:`~catbell_qutip.params.ProtocolParams`), run at its own amplitude alpha; it gives the
heralded, Pauli-frame-corrected two-atom state rho_link (4 x 4), the success probability P
per attempt and the attempt time T0 = max(L0 / c_f, t0), or max(2 L0 / c_f, t0) with
``wait_rule="round-trip"`` (docs/model.md section 4, :mod:`catbell_qutip.fibre`).

The pieces, each exact, one module per concern (docs/repeater.md gives the formulas):

- :mod:`.swap` (sections 2 and 4): :func:`swap_outcomes`, :func:`bell_swap`,
  :func:`compose_chain`: entanglement swapping, a Bell measurement on the two atoms of an
  intermediate node, every outcome with its Pauli correction on the right-hand atom,
  optionally after a two-qubit depolarising error; any two-qubit states (not only
  Bell-diagonal ones). :func:`dephase_output`: memory. Every stored atom's coherence decays as
  exp(-t / t_c) (docs/model.md section 3.7). Dephasing commutes with the swaps and lands on
  the output pair, so the end-to-end state needs only three expectations over the waiting
  times: E[d_A], E[d_B], E[d_A d_B] (:func:`memory_factors`).
- :mod:`.waiting` (section 3): :func:`expected_attempts`, :func:`memory_factors`:
  waiting-time statistics of links that retry every T0 until they succeed (geometric numbers
  of attempts), exact, for three strategies (:data:`STRATEGIES`);
  :func:`expected_max_geometric` and :func:`two_link_memory_factors` are the closed forms.
- :mod:`.montecarlo` (section 3.4): :func:`waiting_monte_carlo`, a seeded Monte Carlo of the
  same quantities, with standard errors, for cross-checks.
- :mod:`.chain_model` (sections 1 and 5): :func:`link_states` and :func:`chain`, the
  end-to-end state, F, S, Q, delivery rate and DI-QKD key rate on any broadcast grid of
  (alpha, L, link parameters), vectorised on the coherent engine.
- :mod:`.optimisation` (section 5): :func:`optimise`, per total distance and number of
  segments, the alpha that maximises the key rate (or gives a target delivery rate), a grid
  of alpha x distances in one engine call, then a vectorised refinement.
- :mod:`.plob` (section 6): :func:`plob_key_rate`, the PLOB bound, and
  :func:`plob_clock_s`, its clock (a source rate the user states, or one link's attempt
  clock over the whole distance; never the chains'), :func:`plob_clock_text` in words.
- :mod:`.distance_scan` (sections 5 and 6): :func:`scan` and :func:`scan_summary`, the
  computation behind ``catbell repeater``; :mod:`.plot`: :func:`plot_scan`, its figure
  (:func:`alpha_jumps`: where the optimal alpha jumps and the S curve breaks).

Dependencies run one way: swap, waiting -> montecarlo, chain_model -> optimisation ->
distance_scan -> plot (plob is used by distance_scan only).
"""

from __future__ import annotations

from .chain_model import chain, check_chain_options, link_states
from .distance_scan import KEY_MIN_BIT_S, MAX_SCAN_HOURS, S_LEVEL, check_scan, scan, scan_summary
from .montecarlo import waiting_monte_carlo
from .optimisation import OBJECTIVES, check_options, optimise
from .plob import plob_clock_s, plob_clock_text, plob_key_rate
from .plot import alpha_jumps, plot_scan
from .swap import BSM_OUTCOMES, bell_swap, compose_chain, dephase_output, swap_outcomes
from .waiting import (
    MAX_MARKOV_SEGMENTS,
    MAX_PARALLEL_SEGMENTS,
    STRATEGIES,
    check_segments,
    expected_attempts,
    expected_max_geometric,
    idle_dephasing_two_links,
    idle_time_pmf,
    memory_factors,
    scan_cost,
    two_link_memory_factors,
)

__all__ = [
    "STRATEGIES",
    "OBJECTIVES",
    "BSM_OUTCOMES",
    "MAX_MARKOV_SEGMENTS",
    "MAX_PARALLEL_SEGMENTS",
    "scan_cost",
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
    "check_chain_options",
    "check_options",
    "optimise",
    "plob_key_rate",
    "check_segments",
    "plob_clock_s",
    "plob_clock_text",
    "scan",
    "scan_summary",
    "check_scan",
    "MAX_SCAN_HOURS",
    "plot_scan",
    "alpha_jumps",
    "S_LEVEL",
    "KEY_MIN_BIT_S",
]
