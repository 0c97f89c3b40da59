"""Units and long names of every quantity the package writes, and the Dataset builder.

One registry: a protocol parameter's unit and long name come from
:data:`catbell_qutip.params.PARAM_INFO`, every result's from :data:`OUTPUT_INFO`. Every xarray
result (:func:`catbell_qutip.evaluate` grids, the rate curves, key-rate scans, sweeps,
repeater scans, advantage maps) is built by :func:`dataset`, which writes them into the
``units`` and ``long_name`` attributes, so a quantity is named the same everywhere.

The format rules of every file and printout the package writes, in one place:

- **JSON** holds numbers, strings, booleans, lists, objects and ``null`` only: a value that
  is not a finite number (``inf``, ``nan``) is written ``null`` (:func:`json_ready`), never
  the invalid tokens ``Infinity``/``NaN`` nor a string ``"inf"``. What ``null`` means is
  documented with each field (README, "Output formats"): for ``t_c_s`` an ideal memory
  (t_c = inf); for F, S, Q and the rates, undefined (nothing heralds, or no attempt time);
  for a threshold or a reach, none exists in the range searched.
- **CSV** files start with one ``#`` line in plain text (no matplotlib markup): what the
  table is and each column's unit in brackets, ``[1]`` for a dimensionless column
  (:func:`plain_text`, :func:`csv_header`).
"""

from __future__ import annotations

import json
import math
import re
import threading

import numpy as np

from .params import PARAM_INFO

__all__ = ["OUTPUT_INFO", "units", "long_name", "attrs_of", "dataset", "write_netcdf",
           "write_data_files", "json_ready", "dumps", "plain_text", "csv_header"]

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

    Parameters
    ----------
    name : str
        A parameter name (a key of ``catbell_qutip.params.PARAM_INFO``) or a result name.

    Returns
    -------
    str
        The unit, e.g. "s", "km", "bit/s"; "1" for dimensionless or unknown names.

    Examples
    --------
    >>> units("t_c_s"), units("key_rate"), units("S")
    ('s', 'bit/s', '1')
    """
    if name in PARAM_INFO:
        return PARAM_INFO[name].unit
    return OUTPUT_INFO.get(name, ("1", name))[0]


def long_name(name: str) -> str:
    """Long name of a parameter or a result (the name itself when unknown).

    Parameters
    ----------
    name : str
        A parameter name or a result name.

    Returns
    -------
    str
        Human-readable name, used as the ``long_name`` attribute of datasets.

    Examples
    --------
    >>> long_name("eta_d"), long_name("F")
    ('detector efficiency', 'heralded fidelity to phi+')
    """
    if name in PARAM_INFO:
        return PARAM_INFO[name].long_name
    return OUTPUT_INFO.get(name, ("1", name))[1]


def attrs_of(name: str, long: str | None = None) -> dict:
    """``{"units": ..., "long_name": ...}`` of ``name``; ``long`` replaces the long name.

    Parameters
    ----------
    name : str
        A parameter name or a result name.
    long : str, optional
        Long name to use instead of :func:`long_name` ``(name)``.

    Returns
    -------
    dict
        The attributes ``units`` (:func:`units`) and ``long_name``.

    Examples
    --------
    >>> attrs_of("length_km")["units"], attrs_of("S", "CHSH value at the rate")["long_name"]
    ('km', 'CHSH value at the rate')
    """
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

    Returns
    -------
    xarray.Dataset
        Variables and coordinates with ``units`` and ``long_name`` attributes.

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


def write_netcdf(ds, path) -> None:
    """Write a Dataset to a netCDF-4 file: the file ``ds.to_netcdf(path)`` writes.

    :meth:`xarray.Dataset.to_netcdf` asks dask which scheduler is active (to choose its
    file locks), which imports dask.distributed (~0.2 s of CPU) even for a Dataset held in
    NumPy arrays. Such a Dataset is written here through xarray's own netCDF4 store
    (:class:`xarray.backends.NetCDF4DataStore`, :meth:`xarray.Dataset.dump_to_store`), the
    steps ``to_netcdf`` takes after that check, with the locks it would choose; a Dataset
    with dask-backed (chunked) variables goes to ``to_netcdf`` itself.
    tests/test_outputs.py checks that both files are byte-identical and load identically,
    and that no dask.distributed is imported.

    Parameters
    ----------
    ds : xarray.Dataset
        The data (variables, coordinates and attributes as :func:`dataset` builds them).
    path : str or path-like
        The file, overwritten.

    Returns
    -------
    None

    Examples
    --------
    >>> import pathlib, tempfile, xarray as xr
    >>> ds = dataset({"S": ("alpha", [2.5, 2.6])}, {"alpha": [0.5, 1.0]})
    >>> with tempfile.TemporaryDirectory() as d:
    ...     write_netcdf(ds, pathlib.Path(d, "s.nc"))
    ...     with xr.open_dataset(pathlib.Path(d, "s.nc")) as back:
    ...         back.identical(ds)
    True
    """
    from xarray.backends import NetCDF4DataStore  # slow to import, as in dataset()
    from xarray.backends.locks import HDF5_LOCK, NETCDFC_LOCK, combine_locks

    if any(v.chunks is not None for v in ds.variables.values()):
        ds.to_netcdf(path)
        return
    # the lock the store makes itself with no dask scheduler (the netCDF-C and HDF5
    # library locks and one for this file), given so that it does not ask dask for one
    lock = combine_locks([NETCDFC_LOCK, HDF5_LOCK, threading.Lock()])
    store = NetCDF4DataStore.open(str(path), mode="w", lock=lock)
    try:
        ds.dump_to_store(store)
    finally:
        store.close()


def write_data_files(ds, stem) -> list:
    """``stem.nc`` (:func:`write_netcdf`) and ``stem.csv`` (one row per point, under a
    :func:`csv_header` line) of a Dataset: the two data files of every figure.

    A column's unit is its ``units`` attribute; a numeric column without one takes
    :func:`units` of its name (so ``loss_order [1]`` in every file), a text column (a panel
    label) none.

    Parameters
    ----------
    ds : xarray.Dataset
        The data; ``ds.attrs["title"]`` (mathtext allowed) heads the CSV, else the stem.
    stem : pathlib.Path
        Output path without suffix.

    Returns
    -------
    list of pathlib.Path
        The netCDF and the CSV file.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> ds = dataset({"S": ("loss_order", [2.5, 2.6])}, {"loss_order": [0, 1]})
    >>> with tempfile.TemporaryDirectory() as d:
    ...     nc, csv = write_data_files(ds, pathlib.Path(d, "s"))
    ...     csv.read_text().splitlines()[0]
    '# s; units: loss_order [1], S [1]'
    """
    nc, csv = stem.with_name(stem.name + ".nc"), stem.with_name(stem.name + ".csv")
    write_netcdf(ds, nc)
    df = ds.to_dataframe().reset_index()

    def unit(c):
        var = ds[c] if c in ds.variables else None
        if var is not None and "units" in var.attrs:
            return var.attrs["units"]
        # .kind: NumPy's and pandas' dtypes alike (a text column may be pandas' StringDtype)
        return units(c) if getattr(df[c].dtype, "kind", "O") in "biuf" else ""

    with open(csv, "w") as fh:
        fh.write(csv_header(ds.attrs.get("title", stem.name),
                            {c: unit(c) for c in df.columns}) + "\n")
        df.to_csv(fh, index=False)
    return [nc, csv]


def json_ready(obj):
    """``obj`` made JSON-safe, the one cleaner of every JSON the package writes.

    Every non-finite float is made None and NumPy values are made plain Python. Dicts (keys
    made strings), lists, tuples and NumPy arrays are converted recursively; other values
    pass through.

    Parameters
    ----------
    obj : object
        Any nesting of dicts, lists, tuples, NumPy arrays and scalars.

    Returns
    -------
    object
        The same structure with plain Python values (lists for arrays, None for inf/NaN).

    Examples
    --------
    >>> json_ready({"t_c_s": float("inf"), "S": np.float64(2.5), "n": np.int64(3),
    ...             "xs": np.array([1.0, np.nan])})
    {'t_c_s': None, 'S': 2.5, 'n': 3, 'xs': [1.0, None]}
    """
    if isinstance(obj, dict):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [json_ready(v) for v in obj.tolist()]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    return obj


def dumps(obj, **kwargs) -> str:
    """:func:`json.dumps` of :func:`json_ready` ``(obj)``; strict (``allow_nan=False``).

    Parameters
    ----------
    obj : object
        What to serialise (see :func:`json_ready`).
    **kwargs
        Passed to :func:`json.dumps` (e.g. ``indent``).

    Returns
    -------
    str
        Standard JSON text (no NaN or Infinity tokens).

    Examples
    --------
    >>> dumps({"F": float("nan"), "P": 0.0})
    '{"F": null, "P": 0.0}'
    """
    return json.dumps(json_ready(obj), allow_nan=False, **kwargs)


_GREEK = {"alpha": "alpha", "eta": "eta", "mu": "u", "Delta": "Delta", "Phi": "Phi",
          "Psi": "Psi", "chi": "chi", "cdot": "*", "times": "x", "leq": "<=", "geq": ">="}


def _plain_math(s: str) -> str:
    """One mathtext segment (between ``$`` signs) as plain text."""
    s = re.sub(r"\\(?:mathrm|text|mathit|mathbf)\{([^{}]*)\}", r"\1", s)
    s = re.sub(r"\\sqrt\{([^{}]*)\}", r" sqrt(\1)", s)
    s = re.sub(r"\\([A-Za-z]+)", lambda m: _GREEK.get(m[1], m[1]), s)
    return s.replace("\\,", " ").replace("\\", "").replace("{", "").replace("}", "")


def plain_text(text: str) -> str:
    r"""Matplotlib mathtext made plain text (for CSV headers and terminals).

    ``$R_\mathrm{eg}$`` becomes ``R_eg``, ``$\eta_\mathrm{int}$`` ``eta_int``,
    ``$t_0$`` ``t_0``, ``$\mu$s`` ``us``, ``$2\sqrt{2}$`` ``2 sqrt(2)``.

    Parameters
    ----------
    text : str
        Text with ``$...$`` mathtext spans.

    Returns
    -------
    str
        The text with each span made plain and runs of spaces collapsed.

    Examples
    --------
    >>> plain_text(r"Fig. 3(g): Table I, $R_\mathrm{eg}$ = 3 Hz, $t_0$ = 89.33 $\mu$s")
    'Fig. 3(g): Table I, R_eg = 3 Hz, t_0 = 89.33 us'
    >>> plain_text(r"$S = 2\sqrt{2}$, $|\alpha|$, $\eta_c$")
    'S = 2 sqrt(2), |alpha|, eta_c'
    """
    s = re.sub(r"\$([^$]*)\$", lambda m: _plain_math(m[1]), text)
    return re.sub(r"  +", " ", s).strip()


def csv_header(title: str, units: dict) -> str:
    r"""The ``#`` line of a CSV file: plain title, then ``column [unit]`` for each column.

    Unit ``1`` means dimensionless.

    Parameters
    ----------
    title : str
        Figure or table title (mathtext allowed, made plain by :func:`plain_text`).
    units : dict
        Column name -> unit string, in column order.

    Returns
    -------
    str
        One line starting with "# ", without a newline.

    Examples
    --------
    >>> csv_header(r"Fig. 2(a): $R_\mathrm{eg}$ = 3000 Hz", {"length_km": "km", "S": "1"})
    '# Fig. 2(a): R_eg = 3000 Hz; units: length_km [km], S [1]'
    """
    cols = ", ".join(f"{c} [{plain_text(str(u))}]" for c, u in units.items())
    return f"# {plain_text(title)}; units: {cols}"
