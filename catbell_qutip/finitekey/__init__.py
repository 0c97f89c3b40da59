"""Finite-size DI-QKD: how many heralded rounds, and how long, before a secure key exists.

- :mod:`.bound`: the key length of n rounds of the CHSH protocol (Alice 2 settings, Bob 3,
  key from A0 and B2, a random fraction gamma of test rounds) under the entropy-accumulation
  bound of Nadlinger et al., Nature 607, 682 (2022), Supplementary Proposition 2
  (:func:`finite_key`, :func:`min_rounds`), optimised over gamma and the proof's free
  parameters; the named defaults :data:`EPS_SOUND`, :data:`EPS_COMPLETENESS`,
  :data:`EC_EFFICIENCY`, :data:`EC_MARGIN`.
- :mod:`.statistics`: p(a, b | x, y), S and Q of a two-qubit state at the settings of
  largest S with the key setting aligned (:func:`chsh_settings`, :func:`correlation_table`,
  :func:`statistics_from_table`), and the key of a measured table
  (:func:`finite_key_from_table`).
- :mod:`.simulator`: the same for simulated protocol points (:func:`protocol_statistics`,
  :func:`finite_key_at`: key after n rounds or T hours, time to the first key), the paper's
  Fig. 4 points (:func:`fig4_points`), key against n (:func:`key_vs_rounds`) and the shortest
  run against distance (:func:`run_time_vs_distance`).
- :mod:`.figure`: the figures and data of ``catbell finite-key --out`` (:func:`write_outputs`).

Dependencies run one way: bound -> statistics -> simulator -> figure; docs/finite-key.md has
the formulas, the defaults and the checks against the paper.
"""

from __future__ import annotations

from .bound import (
    CLASSICAL_OVERHEAD_BITS,
    EC_EFFICIENCY,
    EC_MARGIN,
    EPS_COMPLETENESS,
    EPS_HASH,
    EPS_SOUND,
    LOSS_TERMS,
    MAX_ROUNDS,
    OMEGA_MAX,
    OMEGA_MIN,
    FiniteKey,
    asymptotic_key_per_round,
    check_bound_options,
    entropy_bound,
    finite_key,
    min_rounds,
    syndrome_length,
    threshold_omega,
    upsilon,
)
from .figure import check_output_options, write_outputs
from .simulator import (
    FIG4_PANELS,
    HeraldError,
    fig4_points,
    finite_key_at,
    key_vs_rounds,
    protocol_statistics,
    run_time_vs_distance,
)
from .statistics import (
    chsh_settings,
    correlation_table,
    finite_key_from_table,
    protocol_statistics_of_state,
    statistics_from_table,
)

__all__ = [
    "CLASSICAL_OVERHEAD_BITS", "EC_EFFICIENCY", "EC_MARGIN", "EPS_COMPLETENESS", "EPS_HASH",
    "EPS_SOUND", "LOSS_TERMS", "MAX_ROUNDS", "OMEGA_MAX", "OMEGA_MIN", "FiniteKey",
    "asymptotic_key_per_round", "check_bound_options", "check_output_options",
    "entropy_bound", "finite_key", "min_rounds",
    "syndrome_length", "threshold_omega", "upsilon",
    "FIG4_PANELS", "HeraldError", "fig4_points", "finite_key_at", "key_vs_rounds",
    "protocol_statistics", "run_time_vs_distance",
    "chsh_settings", "correlation_table", "finite_key_from_table",
    "protocol_statistics_of_state", "statistics_from_table", "write_outputs",
]
