"""Which rotation-symmetric code wins? The cat code of the paper against the squeezed cat
and the binomial code (docs/model.md section 7), each at its best parameters, at the paper's
settings (docs/model.md sections 4 and 6).

For the loss orders l = 0, 1, 3 and each family -- cat (alpha optimised), squeezed cat
(alpha and the squeezing r, both signs), binomial (M in 0..4) --
:func:`compare_codes` computes

- the DI-QKD key rate against the fibre length L, with channel loss only and with the
  paper's Table I, each family's parameters chosen per L for the largest key rate (the
  paper's Fig. 4 settings: the reproduction's model, 0.2 dB/km, t0 calibrated from
  Fig. 4(a));
- S against L at a common entanglement-generation rate of 3000 Hz (Fig. 2(a)'s setting):
  alpha solved for the rate, the squeezing chosen for the largest S; a binomial code has no
  amplitude, so its rate is fixed and it is shown where it reaches 3000 Hz;
- the best code at every point of an (L, eta_c) grid, with the mean photon number it uses.

Modules: :mod:`~.settings` (settings, bounds, grids), :mod:`~.optimise` (the vectorised
optimisers), :mod:`~.compute` (:func:`compare_codes`), :mod:`~.figure` (the figures) and
:mod:`~.report` (summary, printed table, files). The command is ``catbell codes``.
"""

from __future__ import annotations

from .compute import MAP_SETTING, TIE_REL, TIE_S, code_labels, compare_codes
from .figure import plot_key_rate, plot_map, plot_S_at_rate
from .optimise import (
    binomial_at_rate,
    cat_at_rate,
    golden_max,
    key_fraction,
    optimise_binomial_key,
    optimise_cat_key,
    optimise_squeezed_key,
    point_values,
    squeezed_at_rate,
)
from .report import STEMS, summarise, table_text, write_results
from .settings import (
    ALPHA_MAX,
    BINOMIAL_M,
    FAMILIES,
    GRIDS,
    KEY_SETTINGS,
    LOSS_ORDERS,
    RATE_HZ,
    SQUEEZING_MAX,
    key_fields,
    map_axes,
    rate_fields,
)

__all__ = [
    "compare_codes", "MAP_SETTING", "TIE_REL", "TIE_S", "code_labels",
    "plot_key_rate", "plot_map", "plot_S_at_rate",
    "golden_max", "key_fraction", "point_values", "optimise_cat_key", "optimise_squeezed_key",
    "optimise_binomial_key", "cat_at_rate", "squeezed_at_rate", "binomial_at_rate",
    "summarise", "table_text", "write_results", "STEMS",
    "ALPHA_MAX", "BINOMIAL_M", "FAMILIES", "GRIDS", "KEY_SETTINGS", "LOSS_ORDERS", "RATE_HZ",
    "SQUEEZING_MAX", "key_fields", "map_axes", "rate_fields",
]
