"""Units and long names of every quantity the package writes, and the Dataset builder.

One registry: a protocol parameter's unit and long name come from
:data:`catbell_qutip.params.PARAM_INFO`, every result's from :data:`OUTPUT_INFO`. Every xarray
result (:func:`catbell_qutip.evaluate` grids, the rate curves, key-rate scans, sweeps,
repeater scans, advantage maps) is built by :func:`dataset`, which writes them into the
``units`` and ``long_name`` attributes, so a quantity is named the same everywhere.
"""

from __future__ import annotations

import math

import numpy as np

from .params import PARAM_INFO

__all__ = ["OUTPUT_INFO", "units", "long_name", "attrs_of", "dataset", "json_ready"]

#: result name -> (unit, long name); "1" is dimensionless
OUTPUT_INFO: dict[str, tuple[str, str]] = {
    # one link (docs/model.md sections 3.6 and 4)
    "P": ("1", "heralding probability"),
    "F": ("1", "heralded fidelity to phi+"),
    "S": ("1", "CHSH value"),
    "Q": ("1", "bit-error rate of key rounds"),
    "R_eg": ("Hz", "entanglement-generation rate"),
    "rate_hz": ("Hz", "entanglement-generation rate R_eg"),
    "key_rate": ("bit/s", "DI-QKD secret key rate"),
    "alpha_at_rate": ("1", "smallest alpha reaching target_rate_hz"),
    "mean_photon_number": ("1", "mean photon number of the light Alice sends"),
    "loss_order": ("1", "loss order l"),
    # repeater chains (docs/repeater.md)
    "segments": ("1", "number of segments n"),
    "P_link": ("1", "link success probability"),
    "F_link": ("1", "link heralded fidelity"),
    "S_link": ("1", "link CHSH value"),
    "T0_s": ("s", "attempt time of a link"),
    "attempts": ("1", "expected attempt rounds until all links are ready"),
    "d_A": ("1", "E[d_A], memory factor on A_1"),
    "d_B": ("1", "E[d_B], memory factor on B_n"),
    "d_AB": ("1", "E[d_A d_B]"),
    "chain_rate_hz": ("Hz", "delivery rate of end-to-end pairs"),
}


def units(name: str) -> str:
    """Unit of a parameter or a result ("1" when dimensionless or unknown).

    >>> units("t_c_s"), units("key_rate"), units("S")
    ('s', 'bit/s', '1')
    """
    if name in PARAM_INFO:
        return PARAM_INFO[name].unit
    return OUTPUT_INFO.get(name, ("1", name))[0]


def long_name(name: str) -> str:
    """Long name of a parameter or a result (the name itself when unknown).

    >>> long_name("eta_d"), long_name("F")
    ('detector efficiency', 'heralded fidelity to phi+')
    """
    if name in PARAM_INFO:
        return PARAM_INFO[name].long_name
    return OUTPUT_INFO.get(name, ("1", name))[1]


def attrs_of(name: str, long: str | None = None) -> dict:
    """``{"units": ..., "long_name": ...}`` of ``name``; ``long`` replaces the long name."""
    return {"units": units(name), "long_name": long or long_name(name)}


def dataset(data: dict, coords: dict, attrs: dict | None = None, *,
            names: dict | None = None, long_names: dict | None = None):
    """An :class:`xarray.Dataset` whose variables and coordinates carry units and long names.

    Parameters
    ----------
    data : dict
        Variable name -> (dims, values).
    coords : dict
        Coordinate name -> values (a dimension of its own name), or (dims, values).
    attrs : dict, optional
        Dataset attributes.
    names : dict, optional
        Variable name -> the registry name whose unit it has (e.g. ``"rate_hz"`` of a
        repeater -> ``"chain_rate_hz"``); default: the variable's own name.
    long_names : dict, optional
        Variable name -> a long name that replaces the registry's (e.g. "CHSH value at the
        rate").

    Examples
    --------
    >>> ds = dataset({"S": ("alpha", [2.5, 2.6])}, {"alpha": [0.5, 1.0]})
    >>> ds.S.attrs, ds.alpha.attrs["long_name"]
    ({'units': '1', 'long_name': 'CHSH value'}, 'coherent amplitude |alpha|')
    """
    import xarray as xr  # slow to import; only results that are Datasets need it

    names, long_names = names or {}, long_names or {}

    def entry(name, dims_values):
        dims, values = dims_values
        return dims, np.asarray(values), attrs_of(names.get(name, name), long_names.get(name))

    built_coords = {}
    for name, v in coords.items():
        built_coords[name] = entry(name, v if isinstance(v, tuple) else (name, v))
    return xr.Dataset({k: entry(k, v) for k, v in data.items()}, coords=built_coords,
                      attrs=attrs or {})


def json_ready(v):
    """``v`` made JSON-safe, the one cleaner of every JSON the package writes: NaN and
    infinities become null, NumPy scalars plain numbers, tuples lists, dict keys strings.

    >>> json_ready({"S": np.float64("nan"), 1: (np.int64(2), float("inf"), 0.5)})
    {'S': None, '1': [2, None, 0.5]}
    """
    if isinstance(v, dict):
        return {str(k): json_ready(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_ready(x) for x in v]
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return v if math.isfinite(v) else None
    return v
