"""Which code pays off? Maps of the best loss order over two parameters, and what the
``ml`` decoder changes (docs/model.md sections 3, 4 and 6).

The paper varies one imperfection at a time (its Fig. 3). Real hardware has all of them at
once, so :func:`advantage_map` compares the codes l = 0, 1, 3 (or any loss orders) on a grid
over two parameters -- any two array-capable :class:`~catbell_qutip.params.ProtocolParams`
fields, or one of them and the entanglement-generation rate ``rate_hz`` -- and reports at
every point:

- the code with the highest CHSH value S when every code runs at the same rate R_eg
  (each at its own amplitude, :func:`catbell_qutip.rates.solve_at_rate`), and its margin
  to the runner-up;
- the code with the highest DI-QKD key rate at that rate (R_eg (1 - h(Q) - chi(S)),
  docs/model.md 4) and its margin;
- the code with the highest key rate when alpha is free (the maximum over an alpha grid,
  with R_eg = P / max(L / c_f, t0); the t0 used is stored) and its margin.

Alongside, the paper's one-at-a-time thresholds (:func:`catbell_qutip.thresholds.threshold`,
every other imperfection ideal, same encoder, eta_int placement and decoder) for the axes
they apply to, so a map can be read against them.

:func:`decoder_table` measures what the per-record ``ml`` decoder (docs/model.md 3, step 6)
changes against ``smallest-loss`` in the reproduction's settings (the ``repro-base`` preset,
read at run time): the eta_int and eta_c thresholds, Fig. 3(g)'s reach and Fig. 4's peak
key rates.

Everything runs on the coherent engine by default, vectorised over the grid; large grids
can go through the sweep machinery (:func:`catbell_qutip.sweep.sweep`) on a process pool or
a Dask cluster.

Modules: :mod:`~.settings` (defaults, the reproduction's settings, axes), :mod:`~.job`
(validation, :class:`~.job.MapJob`), :mod:`~.compute`
(:func:`advantage_map`, :func:`winner`), :mod:`~.figure` (:func:`plot_map`) and
:mod:`~.decoders` (:func:`decoder_table`).
"""

from __future__ import annotations

from .compute import advantage_map, winner
from .decoders import DECODERS, decoder_table, decoder_table_markdown
from .figure import plot_map
from .settings import (
    AXIS_NAMES,
    BLOCK_POINTS,
    DEFAULT_LENGTH_KM,
    DEFAULT_RATE_HZ,
    DEFAULT_X,
    DEFAULT_Y,
    KEY_ALPHA_MAX,
    N_KEY_ALPHA,
    REPRO_PRESET,
    default_fields,
    parse_axis,
    repro_settings,
)

__all__ = [
    "REPRO_PRESET", "AXIS_NAMES", "DEFAULT_X", "DEFAULT_Y", "DEFAULT_LENGTH_KM",
    "DEFAULT_RATE_HZ", "KEY_ALPHA_MAX", "N_KEY_ALPHA", "BLOCK_POINTS", "DECODERS",
    "repro_settings", "default_fields", "parse_axis", "advantage_map", "winner", "plot_map",
    "decoder_table", "decoder_table_markdown",
]
