"""The sweep spec: parsing and validation, before any work starts.

Parameter facts (value kind, array-ness, unit, long name, allowed values) come from
:data:`catbell_qutip.params.PARAM_INFO`, so a new protocol parameter works in a spec as
``fixed`` (and, if it may be an array, as an axis) without edits here. Every error names
the offending key (``fixed.eta_int``, ``axes.alpha``), read from
:attr:`catbell_qutip._checks.ParameterError.field`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._checks import MemoryLimitError, SourceError, check_memory, check_rate_hz
from ..outputs import long_name, units  # noqa: F401 - re-exported: the sweep's names
from ..params import (
    ALPHA_CODES,
    PARAM_INFO,
    PARAM_NAMES,
    ProtocolParams,
    check_file_value,
    merge_layers,
    preset,
    read_toml_table,
)
from .grid import axis_bytes, chunk_shape, validate_grid

__all__ = ["SweepSpec", "load_spec", "as_spec", "SWEEP_OUTPUTS", "RATE_OUTPUTS",
           "STORE_FORMAT", "units", "long_name", "is_scalar_field", "json_value"]

#: quantities a sweep can store
SWEEP_OUTPUTS = ("P", "F", "S", "Q", "key_rate", "alpha_at_rate")
#: outputs that need the rates (catbell_qutip.rates, catbell_qutip.formulas)
RATE_OUTPUTS = ("key_rate", "alpha_at_rate")
ENGINES = ("coherent", "fock")
TOP_KEYS = ("engine", "preset", "outputs", "target_rate_hz", "chunks", "fixed", "axes")
RANGE_KEYS = ("start", "stop", "num", "scale")
#: storage layout version, part of the spec hash (2: per-chunk checksums, ranges kept as
#: ranges in the canonical spec)
STORE_FORMAT = 2
_INF = ("inf", "infinity")


def is_scalar_field(name: str) -> bool:
    """True for fields :func:`catbell_qutip.evaluate` takes as one value per call.

    Parameters
    ----------
    name : str
        A :class:`~catbell_qutip.params.ProtocolParams` field name (dimensionless key).

    Returns
    -------
    bool
        True when the field cannot be an array (e.g. ``loss_order``, ``code``), so a sweep
        axis over it runs one call per value.

    Examples
    --------
    >>> is_scalar_field("loss_order"), is_scalar_field("length_km")
    (True, False)
    """
    return not PARAM_INFO[name].array


def _kind(name: str) -> type:
    kind = PARAM_INFO[name].kind
    return {"loss_order": int, "int": int, "choice": str}.get(kind, float)


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def json_value(v):
    """A plain JSON-able Python value (inf as the string "inf").

    Parameters
    ----------
    v : object
        A value read from a grid or spec: NumPy or Python scalar, string, or anything else
        (returned unchanged); units are those of the field it belongs to.

    Returns
    -------
    object
        ``float``, ``int`` or ``str`` for NumPy scalars and floats (non-finite floats become
        their string, ``"inf"``); other values unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> json_value(float("inf")), json_value(np.int64(3)), json_value(np.float64(0.5))
    ('inf', 3, 0.5)
    """
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return v if math.isfinite(v) else str(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.str_):
        return str(v)
    return v


def _checked(key: str, name: str, value):
    """``value`` validated (:func:`~catbell_qutip.params.check_file_value`); errors name
    ``key``."""
    return check_file_value(key, name, value)


def _parse_range(key: str, name: str, value: dict) -> tuple[np.ndarray, dict]:
    unknown = sorted(set(value) - set(RANGE_KEYS))
    if unknown:
        raise ValueError(f"{key}: unknown key {unknown[0]!r}; a range takes "
                         f"{', '.join(RANGE_KEYS)}")
    if _kind(name) is not float:
        raise ValueError(f"{key}: give {name} as a list of values, not a range")
    missing = [k for k in ("start", "stop", "num") if k not in value]
    if missing:
        raise ValueError(f"{key}: missing {missing[0]!r} (a range needs start, stop, num)")
    num = value["num"]
    if not isinstance(num, int) or isinstance(num, bool):
        raise ValueError(f"{key}.num must be an integer, got {num!r}")
    if num < 1:
        raise ValueError(f"{key} is empty (num = {num}); give num >= 1")
    for k in ("start", "stop"):
        if not _is_number(value[k]) or not math.isfinite(value[k]):
            raise ValueError(f"{key}.{k} must be a finite number, got {value[k]!r}")
    scale = value.get("scale", "linear")
    if scale not in ("linear", "log"):
        raise ValueError(f"{key}.scale must be 'linear' or 'log', got {scale!r}")
    start, stop = float(value["start"]), float(value["stop"])
    if scale == "log" and not (start > 0 and stop > 0):
        raise ValueError(f"{key}: a log-scaled range needs start > 0 and stop > 0, "
                         f"got start = {start:g}, stop = {stop:g}")
    # refuse before allocating: the values, their checks and the store's coordinate
    check_memory(axis_bytes(num), f"{key} with num = {num}",
                 f"give {key}.num a smaller value")
    values = np.geomspace(start, stop, num) if scale == "log" else np.linspace(start, stop, num)
    return values, {"start": start, "stop": stop, "num": num, "scale": scale}


def _parse_axis(name: str, value) -> tuple[np.ndarray, object]:
    """(values, canonical form) of one axis: a range stays a range in the spec hash."""
    key = f"axes.{name}"
    kind = _kind(name)
    if isinstance(value, dict):
        values, canon = _parse_range(key, name, value)
    elif isinstance(value, list):
        if not value:
            raise ValueError(f"{key} is empty: give at least one value")
        checked = [_checked(key, name, v) for v in value]
        dtype = {float: float, int: np.int64, str: str}[kind]
        values = np.array(checked, dtype=dtype)
        canon = [json_value(x) for x in values.tolist()]
    else:
        raise ValueError(f"{key} must be a list of values or a table "
                         f"{{start, stop, num, scale}}, got {value!r}")
    if np.unique(values).size != values.size:
        raise ValueError(f"{key} repeats a value; axis values must be distinct")
    return values, canon


@dataclass(frozen=True, eq=False)
class SweepSpec:
    """A validated sweep specification (see :mod:`catbell_qutip.sweep`).

    Build it with :meth:`from_dict`, :func:`load_spec` or :func:`as_spec`, which validate;
    the constructor itself does not.

    Parameters
    ----------
    engine : {"coherent", "fock"}
        Simulation engine (dimensionless choice).
    outputs : tuple of str
        Subset of :data:`SWEEP_OUTPUTS`, in canonical order.
    params : dict
        Every non-axis :class:`~catbell_qutip.params.ProtocolParams` field, resolved
        (preset < [fixed], defaults filled in). ``alpha`` is absent when
        ``target_rate_hz`` is set (it is solved per point).
    axes : tuple of (str, ndarray)
        The axes in spec order; one dimension of the result each.
    chunks : tuple of int
        Points per chunk along each axis.
    target_rate_hz : float or None
        Target entanglement-generation rate R_eg in Hz (docs/model.md section 4); when
        set, alpha at every point is the smallest alpha reaching it.
    preset : str or None
        Name of the preset the spec started from (informational).
    source : str
        Where the spec came from, used in error messages.
    axes_canonical : tuple of (str, object)
        Canonical (JSON) form of each axis: a range stays ``{start, stop, num, scale}``.

    Raises
    ------
    catbell_qutip._checks.SourceError
        From :meth:`from_dict` when a key or value of the spec is invalid (the message
        names the key).
    catbell_qutip._checks.MemoryLimitError
        From :meth:`from_dict` when an axis would not fit in memory.

    Examples
    --------
    >>> spec = SweepSpec.from_dict({"fixed": {"loss_order": 1, "alpha": 1.0},
    ...                             "axes": {"length_km": [1.0, 2.0, 5.0]}})
    >>> spec.engine, spec.dims, spec.shape, spec.outputs
    ('coherent', ('length_km',), (3,), ('P', 'F', 'S', 'Q'))
    >>> len(spec.sha256)                    # hex SHA-256 of the canonical spec
    64
    """

    engine: str
    outputs: tuple
    params: dict
    axes: tuple
    chunks: tuple
    target_rate_hz: float | None = None
    preset: str | None = None
    source: str = field(default="sweep spec", repr=False)
    axes_canonical: tuple = field(default=(), repr=False)

    @classmethod
    def from_dict(cls, data: dict, *, source: str = "sweep spec") -> SweepSpec:
        """Validate a spec given as a dict (the parsed TOML). Every error names its key."""
        if not isinstance(data, dict):
            raise SourceError(f"{source}: expected a table of keys, got {type(data).__name__}")
        unknown = sorted(set(data) - set(TOP_KEYS))
        if unknown:
            hint = (" (protocol parameters go under [fixed] or [axes])"
                    if unknown[0] in PARAM_NAMES else "")
            raise SourceError(f"{source}: unknown key {unknown[0]!r}{hint}; allowed keys: "
                              f"{', '.join(TOP_KEYS)}")
        try:
            return cls._from_dict(data, source)
        except MemoryLimitError:
            raise                       # names its key already; keeps its estimate
        except ValueError as exc:
            raise SourceError(f"{source}: {exc}") from None

    @classmethod
    def _from_dict(cls, data: dict, source: str) -> SweepSpec:
        engine = data.get("engine", "coherent")
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {list(ENGINES)}, got {engine!r}")
        outputs = _parse_outputs(data.get("outputs", ["P", "F", "S", "Q"]))
        rate = data.get("target_rate_hz")
        if rate is not None:
            if not _is_number(rate):
                raise ValueError(f"target_rate_hz must be a number of Hz, got {rate!r}")
            rate = float(check_rate_hz(rate, "target_rate_hz"))
        if "alpha_at_rate" in outputs and rate is None:
            raise ValueError("output 'alpha_at_rate' needs target_rate_hz (the target "
                             "entanglement-generation rate R_eg in Hz)")
        needs_rates = rate is not None or any(o in RATE_OUTPUTS for o in outputs)

        preset_name = data.get("preset")
        layer0: dict = {}
        if preset_name is not None:
            if not isinstance(preset_name, str):
                raise ValueError(f"preset must be a preset name, got {preset_name!r}")
            layer0 = preset(preset_name)

        fixed_in, axes_in = data.get("fixed", {}), data.get("axes", {})
        _check_tables(fixed_in, axes_in, layer0, rate)
        fixed = {k: _checked(f"fixed.{k}", k, v) for k, v in fixed_in.items()}
        parsed = [(k, *_parse_axis(k, v)) for k, v in axes_in.items()]
        axes = tuple((k, v) for k, v, _ in parsed)
        axis_names = [k for k, _ in axes]
        codes = (list(dict(axes)["code"]) if "code" in axis_names
                 else [fixed.get("code", layer0.get("code", "cat"))])
        if engine == "coherent" and any(c != "cat" for c in codes):
            other = next(c for c in codes if c != "cat")
            where = "axes.code" if "code" in axis_names else "fixed.code"
            raise ValueError(f"{where}: code {other!r} runs on the Fock engine only (the "
                             "coherent engine is built on a cat code's coherent states); "
                             'set engine = "fock"')

        # preset < user layer (params.merge_layers: a user eta_c replaces the preset's
        # eta_dc/eta_uc and vice versa); every axis enters the user layer as a placeholder
        # so that the pair rule sees it, and leaves the merged fixed fields right after
        merged = merge_layers(layer0, {**fixed, **dict.fromkeys(axis_names, 1.0)})
        for k in axis_names:
            merged.pop(k, None)
        validate_grid(merged, axes, fixed, preset_name)
        params = {k: json_value(v) for k, v in ProtocolParams(**merged).as_dict().items()
                  if k not in axis_names}
        if rate is not None:
            params.pop("alpha", None)
        if needs_rates:
            _check_attempt_time(params, axes)
        chunks = chunk_shape(engine, axes, data.get("chunks"))
        return cls(engine=engine, outputs=outputs, params=params, axes=axes, chunks=chunks,
                   target_rate_hz=rate, preset=preset_name, source=source,
                   axes_canonical=tuple((k, c) for k, _, c in parsed))

    # -- shape and chunks ----------------------------------------------------------------
    @property
    def dims(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.axes)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(v.size for _, v in self.axes)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def chunk_grid(self) -> tuple[int, ...]:
        """Number of chunks along each axis."""
        return tuple(-(-n // c) for n, c in zip(self.shape, self.chunks, strict=True))

    @property
    def n_chunks(self) -> int:
        return math.prod(self.chunk_grid)

    def chunk_slices(self, index) -> tuple[slice, ...]:
        return tuple(slice(i * c, min((i + 1) * c, n))
                     for i, c, n in zip(index, self.chunks, self.shape, strict=True))

    def chunk_size(self, index) -> int:
        """Points in the chunk at ``index`` (edge chunks may be smaller)."""
        return math.prod(s.stop - s.start for s in self.chunk_slices(index))

    def chunk_indices(self):
        """Every chunk index, in C order (a lazy iterator: the grid may be large)."""
        return np.ndindex(*self.chunk_grid)

    def point(self, index) -> dict:
        """Axis name -> value at a grid index (plain Python values)."""
        return {name: json_value(v[i]) for (name, v), i in zip(self.axes, index, strict=True)}

    # -- identity ------------------------------------------------------------------------
    def canonical(self) -> dict:
        """Everything that determines the stored numbers and the layout, as plain JSON.
        A range axis stays ``{start, stop, num, scale}``, so the spec stays small."""
        canon = dict(self.axes_canonical) or {
            name: [json_value(x) for x in v.tolist()] for name, v in self.axes}
        return {
            "format": STORE_FORMAT,
            "engine": self.engine,
            "outputs": list(self.outputs),
            "target_rate_hz": self.target_rate_hz,
            "params": dict(sorted(self.params.items())),
            "axes": [[name, canon[name]] for name, _ in self.axes],
            "chunks": list(self.chunks),
        }

    def canonical_json(self) -> str:
        return json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


def _parse_outputs(outputs) -> tuple:
    if not isinstance(outputs, list) or not outputs:
        raise ValueError(f"outputs must be a non-empty list drawn from "
                         f"{list(SWEEP_OUTPUTS)}, got {outputs!r}")
    for o in outputs:
        if o not in SWEEP_OUTPUTS:
            raise ValueError(f"outputs: unknown output {o!r}; choose from "
                             f"{list(SWEEP_OUTPUTS)}")
    if len(set(outputs)) != len(outputs):
        raise ValueError("outputs lists an output twice")
    return tuple(o for o in SWEEP_OUTPUTS if o in outputs)


def _check_tables(fixed_in, axes_in, layer0: dict, rate) -> None:
    """Known parameters, each given once; loss_order and alpha given (not defaulted)."""
    for sect, table in (("fixed", fixed_in), ("axes", axes_in)):
        if not isinstance(table, dict):
            raise ValueError(f"[{sect}] must be a table, got {table!r}")
        unknown = sorted(set(table) - set(PARAM_NAMES))
        if unknown:
            raise ValueError(f"{sect}.{unknown[0]}: unknown parameter {unknown[0]!r}; "
                             f"known parameters are {', '.join(PARAM_NAMES)}")
    both = sorted(set(fixed_in) & set(axes_in))
    if both:
        raise ValueError(f"{both[0]} is both in [fixed] and in [axes]; give it once")
    if not axes_in:
        raise ValueError("[axes] is empty: a sweep needs at least one axis")
    given = set(fixed_in) | set(axes_in) | set(layer0)
    if "loss_order" not in given:
        raise ValueError("loss_order is missing: give fixed.loss_order (or an axis "
                         "axes.loss_order), e.g. loss_order = 1")
    codes = axes_in.get("code")
    if not isinstance(codes, list):
        codes = [fixed_in.get("code", layer0.get("code", "cat"))]
    takes_alpha = {c in ALPHA_CODES for c in codes if isinstance(c, str)}
    if len(takes_alpha) > 1:
        raise ValueError("axes.code mixes codes with an amplitude alpha (cat, squeezed-cat) "
                         "and codes without one (binomial); sweep them separately")
    if takes_alpha == {False}:
        code = next(c for c in codes if isinstance(c, str))
        for sect, table in (("fixed", fixed_in), ("axes", axes_in)):
            if "alpha" in table:
                raise ValueError(f"{sect}.alpha: alpha does not apply to code = {code!r} "
                                 "(its photon numbers are fixed by the code); remove it")
        if rate is not None:
            raise ValueError(f"target_rate_hz solves alpha at every point, and code = "
                             f"{code!r} has no alpha; give no target_rate_hz")
    elif rate is not None:
        for sect, table in (("fixed", fixed_in), ("axes", axes_in)):
            if "alpha" in table:
                raise ValueError(f"{sect}.alpha: with target_rate_hz, alpha is solved at "
                                 "every point (output 'alpha_at_rate'); do not give it")
    elif "alpha" not in given:
        raise ValueError("alpha is missing: give fixed.alpha or an axis axes.alpha (or "
                         "target_rate_hz, to solve alpha at every point)")


def _check_attempt_time(params: dict, axes) -> None:
    """Rates divide by max(L / c_f, t0) (docs/model.md section 4): refuse grids where that
    is 0 at some point."""
    ax = dict(axes)
    L = ax.get("length_km", np.array([params.get("length_km", 0.0)]))
    t0 = ax.get("t0_s", np.array([params.get("t0_s", 0.0)]))
    if np.any(np.asarray(L, dtype=float) == 0) and np.any(np.asarray(t0, dtype=float) == 0):
        raise ValueError("rates need a positive attempt time max(L / c_f, t0): length_km "
                         "and t0_s are both 0 at some points; set t0_s > 0 or length_km > 0")


def load_spec(path) -> SweepSpec:
    r"""Read and validate a sweep spec from a TOML file.

    Parameters
    ----------
    path : str or os.PathLike
        Path of the TOML spec file (see :mod:`catbell_qutip.sweep` for its keys).

    Returns
    -------
    SweepSpec
        The validated spec.

    Raises
    ------
    catbell_qutip._checks.SourceError
        If ``path`` is a folder or does not exist, the TOML cannot be read, or a key or
        value is invalid (the message names the key).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     f = pathlib.Path(d, "spec.toml")
    ...     _ = f.write_text("[fixed]\nloss_order = 1\nalpha = 1.0\n"
    ...                      "[axes]\nlength_km = [1.0, 2.0]\n")
    ...     load_spec(f).shape
    (2,)
    """
    path = Path(path)
    if path.is_dir():
        raise SourceError(f"sweep spec {str(path)!r} is a folder, not a TOML file; give the "
                          "spec file (SPEC.toml)")
    if not path.is_file():
        raise SourceError(f"sweep spec {str(path)!r} does not exist")
    data = read_toml_table(path, f"sweep spec {str(path)!r}")
    return SweepSpec.from_dict(data, source=f"sweep spec {str(path)!r}")


def as_spec(spec) -> SweepSpec:
    """A :class:`SweepSpec` from a SweepSpec, a dict or a path to a TOML file.

    Parameters
    ----------
    spec : SweepSpec, dict, str or os.PathLike
        A spec, its parsed TOML as a dict, or the path of a TOML spec file.

    Returns
    -------
    SweepSpec
        ``spec`` itself if it is one, else the validated spec.

    Raises
    ------
    TypeError
        If ``spec`` is none of these types.
    catbell_qutip._checks.SourceError
        If the dict or file is not a valid spec.

    Examples
    --------
    >>> spec = as_spec({"fixed": {"loss_order": 1, "alpha": 1.0},
    ...                 "axes": {"length_km": [1.0, 2.0]}})
    >>> as_spec(spec) is spec, spec.size
    (True, 2)
    """
    if isinstance(spec, SweepSpec):
        return spec
    if isinstance(spec, dict):
        return SweepSpec.from_dict(spec)
    if isinstance(spec, (str, os.PathLike)):
        return load_spec(spec)
    raise TypeError(f"spec must be a SweepSpec, a dict or a path to a TOML file, "
                    f"got {type(spec).__name__}")
