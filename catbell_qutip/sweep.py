"""Parameter sweeps at scale: a TOML spec, chunked Zarr storage, resumable runs, and
execution on a local process pool or a dask.distributed cluster.

A sweep spec (TOML, or the same structure as a dict)::

    engine = "coherent"          # or "fock"
    preset = "ideal"             # optional, any preset name
    outputs = ["P", "F", "S"]    # also "Q", "key_rate", "alpha_at_rate"
    # target_rate_hz = 3000      # optional: solve alpha for this R_eg at every point
    # chunks = {alpha = 10}      # optional: points per chunk along some axes
    [fixed]
    loss_order = 1
    length_km = 5
    [axes]
    alpha = {start = 0.2, stop = 2.0, num = 50}   # `scale = "log"` for log spacing
    eta_c = [0.6, 0.7, 0.8, 0.9, 1.0]             # explicit values

Every :class:`~catbell_qutip.params.ProtocolParams` field can be fixed or an axis; layers
resolve as preset < [fixed] and [axes] (a user ``eta_c`` replaces a preset's
``eta_dc``/``eta_uc`` pair, as on the command line).

How the work is split and stored
--------------------------------
The grid (one dimension per axis, in spec order) is cut into rectangular chunks that are
also the Zarr chunks, so every chunk is written whole, exactly once, by the driver process
as soon as its result arrives. Axes that :func:`catbell_qutip.evaluate` cannot vectorise
(``loss_order``, ``usd``, ``encoder``, ``wait_rule``) have chunk size 1. After a chunk's
data is written, a flag in the store's ``_sweep/done`` array is set; a rerun on the same
store computes only the chunks whose flag is unset (a chunk interrupted mid-write is simply
recomputed). The store's attributes hold the canonical spec and its SHA-256; a store made
from any other spec is refused, never overwritten.

Execution
---------
By default a :class:`concurrent.futures.ProcessPoolExecutor` with one process per available
core: it starts in a fraction of a second (the platform's start method; fork on Linux),
opens no ports and runs no scheduler or dashboard, which suits a laptop or a shared node;
the driver does all the writing, so a local Dask cluster would add processes and start-up
time without adding anything. With ``scheduler="tcp://HOST:PORT"`` the same chunks go to a
dask.distributed cluster through ``distributed.Client``. Either way at most a few chunks per
worker are in flight, and results are written as they complete. The coherent engine gets a
whole chunk in one vectorised :func:`~catbell_qutip.evaluate` call; the Fock engine loops
over the chunk's points.

A point that raises is retried once (its chunk is resubmitted; a vectorised chunk that fails
is redone point by point to isolate the culprit); if it fails again it is reported with its
parameters (:class:`SweepError`), its chunk is left unflagged, and every other chunk is
stored. F, S, Q (and key_rate) are NaN where P = 0, as in :func:`~catbell_qutip.evaluate`;
with ``target_rate_hz``, every output is NaN where no alpha reaches the rate. Both are
counted in the summary and are not failures.

Outputs "key_rate" (bit/s) = ``keyrate.key_rate(rates.entanglement_rate(P, L, t0), S, Q)``
at each point; with ``target_rate_hz``, alpha at each point is
``rates.alpha_for_rate(...)`` (stored as "alpha_at_rate") and every output is evaluated
there.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import hashlib
import importlib.util
import json
import math
import os
import re
import shutil
import sys
import time
import tomllib
import traceback
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__, api
from .formulas import secret_key_rate
from .params import PARAM_NAMES, ProtocolParams, merge_layers, preset
from .rates import alpha_for_rate

__all__ = [
    "SweepSpec",
    "SweepStats",
    "SweepError",
    "SWEEP_OUTPUTS",
    "load_spec",
    "sweep",
    "CHUNK_DELAY_ENV",
]

#: quantities a sweep can store
SWEEP_OUTPUTS = ("P", "F", "S", "Q", "key_rate", "alpha_at_rate")
#: outputs that need catbell_qutip.rates / catbell_qutip.keyrate
RATE_OUTPUTS = ("key_rate", "alpha_at_rate")
ENGINES = ("coherent", "fock")
TOP_KEYS = ("engine", "preset", "outputs", "target_rate_hz", "chunks", "fixed", "axes")
RANGE_KEYS = ("start", "stop", "num", "scale")
#: fields evaluate() takes as one scalar per call: chunk size 1 along these axes
SCALAR_FIELDS = {"loss_order": int, "usd": str, "encoder": str, "wait_rule": str}
#: storage layout version, part of the spec hash
STORE_FORMAT = 1
#: environment variable that makes every chunk sleep this many seconds (for testing resume)
CHUNK_DELAY_ENV = "CATBELL_SWEEP_CHUNK_DELAY_S"
#: (smallest, largest) default points per chunk. The coherent engine vectorises a chunk in
#: one call (~0.1-2 ms per point), so a chunk must be large enough to hide the ~10 ms of
#: per-chunk overhead; the Fock engine loops over its points (~10 ms to ~1 s each).
CHUNK_POINTS = {"coherent": (64, 512), "fock": (1, 16)}
#: below the largest size, aim for at least this many chunks, so a pool has work to balance
MIN_CHUNKS = 16

UNITS = {"length_km": "km", "db_per_km": "dB/km", "t_c_s": "s", "t0_s": "s",
         "key_rate": "bit/s"}
LONG_NAMES = {
    "P": "heralding probability", "F": "heralded fidelity to phi+", "S": "CHSH value",
    "Q": "bit-error rate of key rounds", "key_rate": "DI-QKD secret key rate",
    "alpha_at_rate": "smallest alpha reaching target_rate_hz",
    "loss_order": "loss order l", "alpha": "coherent amplitude |alpha|",
    "eta": "extra pure-loss transmission", "length_km": "fibre length",
    "db_per_km": "fibre attenuation", "eta_int": "light-matter interaction efficiency",
    "eta_c": "coupling and conversion efficiency", "eta_dc": "down-conversion efficiency",
    "eta_uc": "up-conversion efficiency", "eta_d": "detector efficiency",
    "t_c_s": "memory coherence time", "t0_s": "repetition time of the slowest operation",
    "p_dark": "dark-click probability", "usd": "USD variant", "encoder": "encoder",
    "wait_rule": "memory waiting rule",
}
_P_ZERO_WARNING = r"\d+ point\(s\) have P = 0"


# ---------------------------------------------------------------------------------------
# the spec
# ---------------------------------------------------------------------------------------
def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _parse_axis(name: str, value) -> np.ndarray:
    key = f"axes.{name}"
    kind = SCALAR_FIELDS.get(name, float)
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(RANGE_KEYS))
        if unknown:
            raise ValueError(f"{key}: unknown key {unknown[0]!r}; a range takes "
                             f"{', '.join(RANGE_KEYS)}")
        if kind is not float:
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
        if scale == "log":
            if not (start > 0 and stop > 0):
                raise ValueError(f"{key}: a log-scaled range needs start > 0 and stop > 0, "
                                 f"got start = {start:g}, stop = {stop:g}")
            values = np.geomspace(start, stop, num)
        else:
            values = np.linspace(start, stop, num)
    elif isinstance(value, list):
        if not value:
            raise ValueError(f"{key} is empty: give at least one value")
        if kind is float:
            bad = [v for v in value if not _is_number(v) and v not in ("inf", "infinity")]
            if bad:
                raise ValueError(f"{key}: values must be numbers, got {bad[0]!r}")
            values = np.array([math.inf if v in ("inf", "infinity") else float(v)
                               for v in value])
        elif kind is int:
            bad = [v for v in value if not isinstance(v, int) or isinstance(v, bool)]
            if bad:
                raise ValueError(f"{key}: values must be integers, got {bad[0]!r}")
            values = np.array(value, dtype=np.int64)
        else:
            bad = [v for v in value if not isinstance(v, str)]
            if bad:
                raise ValueError(f"{key}: values must be strings, got {bad[0]!r}")
            values = np.array(value, dtype=str)
    else:
        raise ValueError(f"{key} must be a list of values or a table "
                         f"{{start, stop, num, scale}}, got {value!r}")
    if len(set(values.tolist())) != values.size:
        raise ValueError(f"{key} repeats a value; axis values must be distinct")
    return values


def _fixed_value(name: str, value):
    kind = SCALAR_FIELDS.get(name, float)
    key = f"fixed.{name}"
    if kind is float:
        if value in ("inf", "infinity"):
            return math.inf
        if not _is_number(value):
            raise ValueError(f"{key} must be a number, got {value!r}")
        return float(value)
    if kind is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"{key} must be an integer, got {value!r}")
        return value
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string, got {value!r}")
    return value


def _json_value(v):
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return v if math.isfinite(v) else str(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.str_):
        return str(v)
    return v


@dataclass(frozen=True, eq=False)
class SweepSpec:
    """A validated sweep specification.

    Attributes
    ----------
    engine : {"coherent", "fock"}
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
        Target entanglement-generation rate R_eg in Hz; when set, alpha at every point is the
        smallest alpha reaching it, and every output is evaluated there.
    preset : str or None
        Name of the preset the spec started from (informational).
    """

    engine: str
    outputs: tuple
    params: dict
    axes: tuple
    chunks: tuple
    target_rate_hz: float | None = None
    preset: str | None = None
    source: str = field(default="sweep spec", repr=False)

    # -- construction --------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict, *, source: str = "sweep spec") -> SweepSpec:
        """Validate a spec given as a dict (the parsed TOML). Every error names its key."""
        if not isinstance(data, dict):
            raise ValueError(f"{source}: expected a table of keys, got {type(data).__name__}")
        unknown = sorted(set(data) - set(TOP_KEYS))
        if unknown:
            hint = (" (protocol parameters go under [fixed] or [axes])"
                    if unknown[0] in PARAM_NAMES else "")
            raise ValueError(f"{source}: unknown key {unknown[0]!r}{hint}; allowed keys: "
                             f"{', '.join(TOP_KEYS)}")
        try:
            return cls._from_dict(data, source)
        except ValueError as exc:
            raise ValueError(f"{source}: {exc}") from None

    @classmethod
    def _from_dict(cls, data: dict, source: str) -> SweepSpec:
        engine = data.get("engine", "coherent")
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {list(ENGINES)}, got {engine!r}")
        outputs = data.get("outputs", ["P", "F", "S", "Q"])
        if not isinstance(outputs, list) or not outputs:
            raise ValueError(f"outputs must be a non-empty list drawn from "
                             f"{list(SWEEP_OUTPUTS)}, got {outputs!r}")
        for o in outputs:
            if o not in SWEEP_OUTPUTS:
                raise ValueError(f"outputs: unknown output {o!r}; choose from "
                                 f"{list(SWEEP_OUTPUTS)}")
        if len(set(outputs)) != len(outputs):
            raise ValueError("outputs lists an output twice")
        outputs = tuple(o for o in SWEEP_OUTPUTS if o in outputs)

        rate = data.get("target_rate_hz")
        if rate is not None:
            if not _is_number(rate) or not (math.isfinite(rate) and rate > 0):
                raise ValueError(f"target_rate_hz = {rate!r} Hz is outside the allowed range "
                                 "(0, inf) Hz")
            rate = float(rate)
        if "alpha_at_rate" in outputs and rate is None:
            raise ValueError("output 'alpha_at_rate' needs target_rate_hz (the target "
                             "entanglement-generation rate R_eg in Hz)")
        needs_rates = rate is not None or any(o in RATE_OUTPUTS for o in outputs)
        if needs_rates:
            _require_rate_modules(rate, outputs)

        preset_name = data.get("preset")
        layer0: dict = {}
        if preset_name is not None:
            if not isinstance(preset_name, str):
                raise ValueError(f"preset must be a preset name, got {preset_name!r}")
            layer0 = preset(preset_name)

        fixed_in = data.get("fixed", {})
        axes_in = data.get("axes", {})
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
        if rate is not None:
            for sect, table in (("fixed", fixed_in), ("axes", axes_in)):
                if "alpha" in table:
                    raise ValueError(f"{sect}.alpha: with target_rate_hz, alpha is solved at "
                                     "every point (output 'alpha_at_rate'); do not give it")
        if not axes_in:
            raise ValueError("[axes] is empty: a sweep needs at least one axis")

        fixed = {k: _fixed_value(k, v) for k, v in fixed_in.items()}
        axes = tuple((k, _parse_axis(k, v)) for k, v in axes_in.items())

        # preset < user layer (params.merge_layers: a user eta_c replaces the preset's
        # eta_dc/eta_uc and vice versa); axes are not in the merged fixed fields
        axis_names = [k for k, _ in axes]
        # every axis enters the user layer as a placeholder so that the pair rule sees it,
        # and leaves the merged fixed fields right after
        merged = merge_layers(layer0, {**fixed, **dict.fromkeys(axis_names, 1.0)})
        for k in axis_names:
            merged.pop(k, None)
        _validate_grid(merged, axes, fixed, preset_name)
        params = {k: _json_value(v) for k, v in
                  ProtocolParams(**merged).as_dict().items()
                  if k not in dict(axes)}
        if rate is not None:
            params.pop("alpha", None)
        if needs_rates:
            _check_attempt_time(params, axes)

        chunks = _chunk_shape(engine, axes, data.get("chunks"))
        return cls(engine=engine, outputs=outputs, params=params, axes=axes,
                   chunks=chunks, target_rate_hz=rate, preset=preset_name, source=source)

    # -- shape and chunks ----------------------------------------------------------------
    @property
    def dims(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.axes)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(v.size for _, v in self.axes)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def chunk_grid(self) -> tuple[int, ...]:
        """Number of chunks along each axis."""
        return tuple(-(-n // c) for n, c in zip(self.shape, self.chunks, strict=True))

    def chunk_slices(self, index) -> tuple[slice, ...]:
        return tuple(slice(i * c, min((i + 1) * c, n))
                     for i, c, n in zip(index, self.chunks, self.shape, strict=True))

    def chunk_indices(self):
        """Every chunk index, in C order."""
        return list(np.ndindex(*self.chunk_grid))

    def point(self, index) -> dict:
        """Axis name -> value at a grid index (plain Python values)."""
        return {name: _json_value(v[i]) for (name, v), i in zip(self.axes, index, strict=True)}

    # -- identity ------------------------------------------------------------------------
    def canonical(self) -> dict:
        """Everything that determines the stored numbers and the layout, as plain JSON."""
        return {
            "format": STORE_FORMAT,
            "engine": self.engine,
            "outputs": list(self.outputs),
            "target_rate_hz": self.target_rate_hz,
            "params": dict(sorted(self.params.items())),
            "axes": [[name, [_json_value(x) for x in v.tolist()]] for name, v in self.axes],
            "chunks": list(self.chunks),
        }

    def canonical_json(self) -> str:
        return json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


def _require_rate_modules(rate, outputs) -> None:
    missing = [m for m in ("catbell_qutip.rates", "catbell_qutip.keyrate")
               if importlib.util.find_spec(m) is None]
    if missing:
        what = ("target_rate_hz" if rate is not None and not
                any(o in RATE_OUTPUTS for o in outputs) else
                "output " + repr(next(o for o in outputs if o in RATE_OUTPUTS)))
        raise ValueError(f"{what} is not available yet: {', '.join(missing)} is not part of "
                         "this installation")


def _check_attempt_time(params: dict, axes) -> None:
    """Rates divide by max(L / c_f, t0): refuse grids where that is 0 at some point."""
    ax = dict(axes)
    L = ax.get("length_km", np.array([params.get("length_km", 0.0)]))
    t0 = ax.get("t0_s", np.array([params.get("t0_s", 0.0)]))
    if np.any(np.asarray(L, dtype=float) == 0) and np.any(np.asarray(t0, dtype=float) == 0):
        raise ValueError("rates need a positive attempt time max(L / c_f, t0): length_km "
                         "and t0_s are both 0 at some points; set t0_s > 0 or length_km > 0")


def _validate_grid(merged: dict, axes, fixed: dict, preset_name) -> None:
    """Build ProtocolParams on the whole grid (one per combination of scalar-only axes), so
    every value is checked before any work starts."""
    n = len(axes)
    arrays, scalars = {}, []
    for i, (name, values) in enumerate(axes):
        if name in SCALAR_FIELDS:
            scalars.append((name, values))
        else:
            shape = [1] * n
            shape[i] = values.size
            arrays[name] = values.reshape(shape)
    axis_names = {name for name, _ in axes}

    def build(**fields):
        try:
            ProtocolParams(**merged, **fields)
        except ValueError as exc:
            msg = str(exc)
            m = re.match(r"\s*(\w+)", msg)
            first = m.group(1) if m else ""
            if first in axis_names:
                raise ValueError(f"axes.{first}: {msg}") from None
            if first in fixed:
                raise ValueError(f"fixed.{first}: {msg}") from None
            if preset_name is not None and first in merged:
                raise ValueError(f"preset {preset_name!r}: {msg}") from None
            raise ValueError(msg) from None

    # each axis alone (others at their first value); on failure find the offending value
    # point by point, so the message shows it (check_real can misreport it for arrays)
    first = {name: _json_value(v[0]) for name, v in axes}
    for name, values in axes:
        others = {k: v for k, v in first.items() if k != name}
        try:
            if name in SCALAR_FIELDS:
                raise ValueError
            ProtocolParams(**merged, **others, **{name: values})
        except (ValueError, IndexError):
            for v in values:
                build(**others, **{name: _json_value(v)})
    # then the whole grid, for constraints between fields
    combos = np.ndindex(*[v.size for _, v in scalars]) if scalars else [()]
    for combo in combos:
        point = {name: _json_value(v[j]) for (name, v), j in zip(scalars, combo, strict=True)}
        build(**arrays, **point)


def _chunk_shape(engine: str, axes, user) -> tuple[int, ...]:
    """Points per chunk along each axis: the user's choice where given, otherwise filled
    from the last axis backwards up to a per-engine target (at most ~1/MIN_CHUNKS of the
    grid); axes evaluate() cannot vectorise get 1."""
    names = [name for name, _ in axes]
    user = {} if user is None else user
    if not isinstance(user, dict):
        raise ValueError(f"chunks must be a table axis = points, got {user!r}")
    for k, v in user.items():
        if k not in names:
            raise ValueError(f"chunks.{k}: not an axis of this sweep (axes: {', '.join(names)})")
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"chunks.{k} must be a positive integer, got {v!r}")
        if k in SCALAR_FIELDS and v != 1:
            raise ValueError(f"chunks.{k} must be 1: evaluate() takes one {k} per call")
    sizes = [v.size for _, v in axes]
    total = int(np.prod(sizes))
    low, high = CHUNK_POINTS[engine]
    target = max(low, min(high, -(-total // MIN_CHUNKS)))
    out = [1] * len(axes)
    inner = 1
    for i in reversed(range(len(axes))):
        name = names[i]
        if name in user:
            c = min(user[name], sizes[i])
        elif name in SCALAR_FIELDS:
            c = 1
        else:
            c = max(1, min(sizes[i], target // inner))
            c = -(-sizes[i] // -(-sizes[i] // c))   # same number of chunks, evened out
        out[i] = c
        inner *= c
    return tuple(out)


def load_spec(path) -> SweepSpec:
    """Read and validate a sweep spec from a TOML file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"sweep spec {str(path)!r} does not exist")
    with open(path, "rb") as fh:
        try:
            data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"sweep spec {str(path)!r}: not valid TOML: {exc}") from None
    return SweepSpec.from_dict(data, source=f"sweep spec {str(path)!r}")


def _as_spec(spec) -> SweepSpec:
    if isinstance(spec, SweepSpec):
        return spec
    if isinstance(spec, dict):
        return SweepSpec.from_dict(spec)
    if isinstance(spec, (str, os.PathLike)):
        return load_spec(spec)
    raise TypeError(f"spec must be a SweepSpec, a dict or a path to a TOML file, "
                    f"got {type(spec).__name__}")


# ---------------------------------------------------------------------------------------
# work on one chunk (runs on a worker)
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _ChunkTask:
    engine: str
    outputs: tuple
    params: dict
    axes: tuple          # (name, values of this chunk) per axis
    target_rate_hz: float | None

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(v) for _, v in self.axes)


@dataclass
class _ChunkResult:
    values: dict
    failures: list       # (index within the chunk, "Type: message")
    n_p_zero: int = 0
    n_unattainable: int = 0


def _base_fields(params: dict) -> dict:
    out = {}
    for k, v in params.items():
        if v is None:
            continue
        if v in ("inf", "infinity"):
            v = math.inf
        out[k] = v
    return out


def _quantities(task: _ChunkTask, fields: dict, shape: tuple) -> dict:
    """Every output, as arrays of ``shape``: at one point (scalar fields, shape ()) or on a
    block (fields broadcasting to ``shape``; the coherent engine vectorises it).

    With a target rate, alpha is solved first (NaN where the rate is unattainable: every
    output is NaN there and ``P`` too, so it is not counted as P = 0).
    """
    orig = fields
    fields = dict(fields)
    loss_order = fields.pop("loss_order")
    base = ["P"] + [o for o in ("F", "S", "Q") if o in task.outputs]
    if "key_rate" in task.outputs:
        base = ["P", "F", "S", "Q"]
    out = {k: np.full(shape, np.nan) for k in base}
    ok = np.ones(shape, dtype=bool)
    if task.target_rate_hz is not None:
        alpha = np.array(np.broadcast_to(
            alpha_for_rate(loss_order, task.target_rate_hz, engine=task.engine,
                           on_unattainable="nan", **fields), shape), dtype=float)
        out["alpha_at_rate"] = alpha
        ok = np.isfinite(alpha)
        # evaluate only where alpha exists: flatten those points into 1-D arrays
        fields = {k: (np.broadcast_to(v, shape)[ok] if np.ndim(v) else v)
                  for k, v in fields.items()}
        fields["alpha"] = alpha[ok]
    if ok.any():
        with warnings.catch_warnings():
            # P = 0 is a legitimate result (F, S, Q undefined there): counted, not warned
            warnings.filterwarnings("ignore", message=_P_ZERO_WARNING,
                                    category=RuntimeWarning)
            values = api.evaluate(loss_order, engine=task.engine, outputs=tuple(base),
                                  **fields)
        for k in base:
            if task.target_rate_hz is None:
                out[k] = np.array(np.broadcast_to(values[k], shape), dtype=float)
            else:
                out[k][ok] = values[k]
    if "key_rate" in task.outputs:
        length = np.broadcast_to(orig.get("length_km", 0.0), shape)
        t0 = np.broadcast_to(orig.get("t0_s", 0.0), shape)
        # NaN where P = 0 or the target is unattainable: S and Q are undefined there
        key = secret_key_rate(out["P"], out["S"], out["Q"], length, t0)
        out["key_rate"] = np.array(np.broadcast_to(key, shape), dtype=float)
    return out


def _block_field(task: _ChunkTask, i: int):
    """Axis ``i`` of a chunk, shaped to broadcast against the chunk."""
    name, v = task.axes[i]
    if name in SCALAR_FIELDS:
        return _json_value(v[0])          # chunk size 1 along these axes
    s = [1] * len(task.axes)
    s[i] = len(v)
    return np.asarray(v, dtype=float).reshape(s)


def _compute_chunk(task: _ChunkTask) -> _ChunkResult:
    """Evaluate every point of a chunk. Never raises for a failing point: failures are
    returned with their index, so the driver can retry and report them."""
    delay = os.environ.get(CHUNK_DELAY_ENV)
    if delay:
        time.sleep(float(delay))
    shape = task.shape
    fixed = _base_fields(task.params)
    values = {k: np.full(shape, np.nan) for k in task.outputs}
    P = np.full(shape, np.nan)
    alpha = np.full(shape, np.nan)
    failures = []
    vectorise = task.engine == "coherent"
    if vectorise:
        fields = dict(fixed)
        fields.update({name: _block_field(task, i) for i, (name, _) in enumerate(task.axes)})
        try:
            got = _quantities(task, fields, shape)
            for k in task.outputs:
                values[k] = got[k]
            P = got["P"]
            alpha = got.get("alpha_at_rate", alpha)
        except Exception:  # noqa: BLE001 - find the failing points one by one below
            vectorise = False
    if not vectorise:
        for idx in np.ndindex(*shape):
            fields = dict(fixed)
            fields.update({name: _json_value(v[i])
                           for (name, v), i in zip(task.axes, idx, strict=True)})
            try:
                got = _quantities(task, fields, ())
                for k in task.outputs:
                    values[k][idx] = got[k]
                P[idx] = got["P"]
                alpha[idx] = got.get("alpha_at_rate", np.nan)
            except Exception as exc:  # noqa: BLE001 - reported with its parameters
                failures.append((idx, f"{type(exc).__name__}: {exc}"))
    unattainable = 0
    if task.target_rate_hz is not None:
        unattainable = int(np.sum(np.isnan(alpha))) - len(failures)
    return _ChunkResult(values=values, failures=failures, n_p_zero=int(np.sum(P == 0)),
                        n_unattainable=unattainable)


# ---------------------------------------------------------------------------------------
# where the results go
# ---------------------------------------------------------------------------------------
def _attrs(spec: SweepSpec) -> dict:
    attrs = {"engine": spec.engine}
    if spec.preset is not None:
        attrs["preset"] = spec.preset
    if spec.target_rate_hz is not None:
        attrs["target_rate_hz"] = spec.target_rate_hz
    attrs.update({k: v for k, v in spec.params.items() if v is not None})
    attrs.update({
        "catbell_sweep_spec": spec.canonical_json(),
        "catbell_sweep_spec_sha256": spec.sha256,
        "catbell_qutip_version": __version__,
    })
    return attrs


def _template(spec: SweepSpec, lazy: bool):
    import xarray as xr

    coords = {name: (name, values, {"units": UNITS.get(name, "1"),
                                    "long_name": LONG_NAMES.get(name, name)})
              for name, values in spec.axes}
    if lazy:
        import dask.array as da

        make = lambda: da.full(spec.shape, np.nan, chunks=spec.chunks)  # noqa: E731
    else:
        make = lambda: np.full(spec.shape, np.nan)  # noqa: E731
    data = {k: (spec.dims, make(), {"units": UNITS.get(k, "1"), "long_name": LONG_NAMES[k]})
            for k in spec.outputs}
    return xr.Dataset(data, coords=coords, attrs=_attrs(spec))


class _MemorySink:
    """Results kept in memory (``store=None``): nothing to resume."""

    def __init__(self, spec: SweepSpec):
        self.spec = spec
        self.ds = _template(spec, lazy=False)

    def done_mask(self) -> np.ndarray:
        return np.zeros(self.spec.chunk_grid, dtype=bool)

    def write(self, index, values: dict) -> None:
        sl = self.spec.chunk_slices(index)
        for k, v in values.items():
            self.ds[k].values[sl] = v

    def dataset(self):
        return self.ds


def _first_difference(old: dict, new: dict) -> str:
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            return f"{key}.{_first_difference(a, b)}"
        if key == "axes" and isinstance(a, list) and isinstance(b, list):
            da_, db_ = dict(map(tuple, a)), dict(map(tuple, b))
            if list(da_) != list(db_):
                return f"axes: stored {list(da_)}, this spec {list(db_)}"
            return f"axes.{_first_difference(da_, db_)}"
        return key
    return "?"


class _ZarrSink:
    """A chunked Zarr store (Zarr format 2, consolidated metadata) on the local filesystem.

    Layout: one array per output with dims = axes, chunks = the sweep's chunks; coordinate
    arrays; ``_sweep/done`` (uint8, one element per chunk, one file each) set to 1 after a
    chunk's data is written. Format 2 keeps string coordinates (``usd``, ...) in a stable,
    widely readable form; Zarr 3 flags them as unstable.
    """

    def __init__(self, path, spec: SweepSpec):
        import zarr

        self.path = Path(path)
        self.spec = spec
        if self.path.exists() and self.path.is_dir() and not any(self.path.iterdir()):
            self.path.rmdir()
        if not self.path.exists():
            self._create()
        self._check()
        self.root = zarr.open_group(str(self.path), mode="r+", zarr_format=2)
        self.arrays = {k: self.root[k] for k in spec.outputs}
        self.done = self.root["_sweep/done"]

    def _create(self) -> None:
        import zarr

        parent = self.path.parent
        parent.mkdir(parents=True, exist_ok=True)
        tmp = parent / f".{self.path.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            _template(self.spec, lazy=True).to_zarr(
                str(tmp), mode="w-", compute=False, zarr_format=2, consolidated=False)
            root = zarr.open_group(str(tmp), mode="r+", zarr_format=2)
            grid = self.spec.chunk_grid
            root.create_group("_sweep").create_array(
                "done", shape=grid, chunks=(1,) * len(grid), dtype="u1", fill_value=0,
                compressors=None, filters=None,
                attributes={"_ARRAY_DIMENSIONS": [f"chunk_{d}" for d in self.spec.dims],
                            "description": "1 where the chunk's data is written"})
            zarr.consolidate_metadata(str(tmp), zarr_format=2)
            try:
                os.rename(tmp, self.path)   # atomic: the store appears complete or not at all
            except OSError:
                if not self.path.exists():
                    raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)

    def _check(self) -> None:
        import zarr

        where = str(self.path)
        try:
            attrs = dict(zarr.open_group(where, mode="r").attrs)
        except Exception:  # noqa: BLE001 - any unreadable store is refused alike
            attrs = {}
        stored = attrs.get("catbell_sweep_spec_sha256")
        if stored is None:
            raise ValueError(f"store {where!r} exists and is not a catbell sweep store; "
                             "refusing to overwrite it (choose another path or delete it)")
        if stored != self.spec.sha256:
            try:
                diff = _first_difference(json.loads(attrs["catbell_sweep_spec"]),
                                         self.spec.canonical())
            except (KeyError, ValueError, TypeError):
                diff = "?"
            diff = re.sub(r"^params\.", "parameter ", diff)
            diff = diff if ":" in diff else f"{diff} differs"
            raise ValueError(f"store {where!r} was made from a different sweep spec "
                             f"({diff}); refusing to overwrite it (choose another "
                             "path, or delete the store to start over)")

    def done_mask(self) -> np.ndarray:
        try:
            return np.asarray(self.done[...]) == 1
        except Exception:  # noqa: BLE001 - a flag torn by a kill: read chunk by chunk
            mask = np.zeros(self.spec.chunk_grid, dtype=bool)
            for idx in np.ndindex(*mask.shape):
                try:
                    mask[idx] = self.done[idx] == 1
                except Exception:  # noqa: BLE001 - unreadable flag = not done
                    mask[idx] = False
            return mask

    def write(self, index, values: dict) -> None:
        sl = self.spec.chunk_slices(index)
        for k, arr in self.arrays.items():
            arr[sl] = values[k]
        self.done[tuple(index)] = 1    # only after every output of the chunk is on disk

    def dataset(self):
        import xarray as xr

        return xr.open_zarr(str(self.path))


# ---------------------------------------------------------------------------------------
# executors
# ---------------------------------------------------------------------------------------
def default_workers() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class _LocalBackend:
    """A ProcessPoolExecutor on this machine: no scheduler, no ports, starts in ~0.1 s."""

    name = "local"

    def __init__(self, workers: int):
        self.workers = workers
        self.pool = cf.ProcessPoolExecutor(max_workers=workers)
        self.generation = 0

    def window(self) -> int:
        return 2 * self.workers

    def submit(self, fn, arg):
        return self.pool.submit(fn, arg)

    def wait(self, futures):
        return cf.wait(futures, return_when=cf.FIRST_COMPLETED).done

    def broken(self, exc, generation: int) -> None:
        if isinstance(exc, cf.process.BrokenProcessPool) and generation == self.generation:
            # a worker died and took the pool (and its in-flight futures) with it
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = cf.ProcessPoolExecutor(max_workers=self.workers)
            self.generation += 1

    def close(self, cancel: bool = False) -> None:
        self.pool.shutdown(wait=not cancel, cancel_futures=cancel)


class _DaskBackend:
    """A dask.distributed cluster reached through its scheduler address."""

    name = "dask"

    def __init__(self, address: str):
        from distributed import Client

        try:
            self.client = Client(address, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise ValueError(f"--scheduler {address!r}: cannot reach the Dask scheduler "
                             f"({exc})") from None
        self._window = (0.0, 4)

    def window(self) -> int:
        t, n = self._window
        if time.monotonic() - t > 2.0:
            n = max(4, 2 * sum(self.client.nthreads().values()))
            self._window = (time.monotonic(), n)
        return n

    def submit(self, fn, arg):
        return self.client.submit(fn, arg, pure=False)

    def wait(self, futures):
        from distributed import wait

        return wait(list(futures), return_when="FIRST_COMPLETED").done

    generation = 0

    def broken(self, exc, generation: int) -> None:
        """dask.distributed reschedules the tasks of a lost worker by itself."""

    def close(self, cancel: bool = False) -> None:
        self.client.close()


# ---------------------------------------------------------------------------------------
# the driver
# ---------------------------------------------------------------------------------------
@dataclass
class SweepStats:
    """What a sweep run did (counts are grid points unless named chunks)."""

    points: int
    chunks: int
    computed: int = 0
    reused: int = 0
    failed: int = 0
    chunks_computed: int = 0
    chunks_reused: int = 0
    chunks_failed: int = 0
    retried_chunks: int = 0
    p_zero: int = 0
    unattainable: int = 0
    seconds: float = 0.0
    executor: str = ""
    failures: list = dataclasses.field(default_factory=list)

    def summary(self) -> str:
        s = (f"{self.computed} points computed, {self.reused} reused, {self.failed} failed "
             f"({self.chunks_computed + self.chunks_reused} of {self.chunks} chunks done")
        if self.chunks_failed:
            s += f", {self.chunks_failed} not stored"
        if self.retried_chunks:
            s += f", {self.retried_chunks} retried"
        s += f"; {self.seconds:.1f} s on {self.executor})"
        if self.p_zero:
            s += (f"; {self.p_zero} computed points have P = 0, where F, S, Q are NaN "
                  "(undefined, not failures)")
        if self.unattainable:
            s += (f"; {self.unattainable} computed points cannot reach target_rate_hz, where "
                  "every output is NaN (not failures)")
        return s


class SweepError(RuntimeError):
    """Some points failed twice. Every other chunk is stored; ``stats.failures`` lists the
    failing points (their parameters and the error); ``dataset`` holds what was computed
    (the failed chunks are NaN and, in a store, not flagged done); rerunning on the same
    store retries only those chunks."""

    def __init__(self, message: str, stats: SweepStats, dataset=None):
        super().__init__(message)
        self.stats = stats
        self.dataset = dataset


def _failure_message(stats: SweepStats, limit: int = 10) -> str:
    lines = [f"{stats.failed} point(s) failed twice (first attempt and one retry):"]
    for f in stats.failures[:limit]:
        where = ", ".join(f"{k}={v}" for k, v in f["point"].items())
        lines.append(f"  {where}: {f['error']}")
    if len(stats.failures) > limit:
        lines.append(f"  ... and {len(stats.failures) - limit} more")
    return "\n".join(lines)


def _run(spec, store=None, *, workers=None, scheduler=None, progress=True):
    """Run a sweep; return (dataset, stats). Raises SweepError when points failed."""
    spec = _as_spec(spec)
    if scheduler is not None and workers is not None:
        raise ValueError("--workers sizes the local pool; with --scheduler the cluster's "
                         "workers are used, give one or the other")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise ValueError(f"workers = {workers!r} must be a positive integer")
    sink = _MemorySink(spec) if store is None else _ZarrSink(store, spec)
    done = sink.done_mask()
    todo = [idx for idx in spec.chunk_indices() if not done[idx]]
    stats = SweepStats(points=spec.size, chunks=len(done.ravel()))
    for idx in spec.chunk_indices():
        if done[idx]:
            stats.chunks_reused += 1
            stats.reused += _chunk_size(spec, idx)
    t_start = time.perf_counter()
    if todo:
        if scheduler is not None:
            backend = _DaskBackend(scheduler)
        else:
            backend = _LocalBackend(min(workers or default_workers(), len(todo)))
        stats.executor = (f"{backend.workers} local worker process(es)"
                          if backend.name == "local" else f"Dask scheduler {scheduler}")
        try:
            _drive(spec, sink, todo, backend, stats, progress)
        except BaseException:
            backend.close(cancel=True)
            raise
        backend.close()
    else:
        stats.executor = "nothing to compute"
    stats.seconds = time.perf_counter() - t_start
    if stats.failures:
        raise SweepError(_failure_message(stats), stats, sink.dataset())
    return sink.dataset(), stats


def _chunk_size(spec: SweepSpec, idx) -> int:
    return int(np.prod([s.stop - s.start for s in spec.chunk_slices(idx)]))


def _task(spec: SweepSpec, idx) -> _ChunkTask:
    sl = spec.chunk_slices(idx)
    axes = tuple((name, v[s].tolist()) for (name, v), s in zip(spec.axes, sl, strict=True))
    return _ChunkTask(engine=spec.engine, outputs=spec.outputs, params=spec.params,
                      axes=axes, target_rate_hz=spec.target_rate_hz)


def _drive(spec, sink, todo, backend, stats, progress) -> None:
    from tqdm import tqdm

    queue = list(reversed(todo))
    in_flight: dict = {}

    def refill():
        while queue and len(in_flight) < backend.window():
            idx = queue.pop()
            in_flight[backend.submit(_compute_chunk, _task(spec, idx))] = (
                idx, 0, backend.generation)

    refill()
    with tqdm(total=stats.chunks, initial=stats.chunks_reused, unit="chunk", desc="sweep",
              disable=not progress, file=sys.stderr, dynamic_ncols=True) as bar:
        while in_flight:
            for fut in backend.wait(list(in_flight)):
                idx, attempt, generation = in_flight.pop(fut)
                try:
                    res = fut.result()
                except Exception as exc:  # noqa: BLE001 - the task itself failed
                    backend.broken(exc, generation)
                    msg = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                    shape = tuple(s.stop - s.start for s in spec.chunk_slices(idx))
                    res = _ChunkResult(values={}, failures=[(i, msg)
                                                            for i in np.ndindex(*shape)])
                if res.failures and attempt == 0:
                    stats.retried_chunks += 1
                    in_flight[backend.submit(_compute_chunk, _task(spec, idx))] = (
                        idx, 1, backend.generation)
                    continue
                n = _chunk_size(spec, idx)
                if res.failures:
                    stats.chunks_failed += 1
                    stats.failed += len(res.failures)
                    offset = [s.start for s in spec.chunk_slices(idx)]
                    for i, msg in res.failures:
                        g = tuple(o + j for o, j in zip(offset, i, strict=True))
                        stats.failures.append({"point": spec.point(g), "error": msg})
                    bar.set_postfix(failed=stats.failed)
                else:
                    sink.write(idx, res.values)
                    stats.chunks_computed += 1
                    stats.computed += n
                    stats.p_zero += res.n_p_zero
                    stats.unattainable += res.n_unattainable
                bar.update(1)
            refill()


def sweep(spec, store=None, *, workers: int | None = None, scheduler: str | None = None,
          progress: bool = True):
    """Run a parameter sweep; store it chunk by chunk; resume an interrupted one.

    Parameters
    ----------
    spec : str, path, dict or SweepSpec
        A TOML file (see the module docstring), its parsed content, or a :class:`SweepSpec`.
        Unknown keys, empty axes and out-of-range values raise ValueError naming the key,
        before any work starts.
    store : str or path, optional
        A Zarr store (directory) to write. Every chunk is written as soon as it is done. If
        the store exists and was made from the same spec, only its missing chunks are
        computed; if it was made from another spec (or is not a sweep store) ValueError is
        raised and nothing is touched. Default: keep the results in memory.
    workers : int, optional
        Size of the local process pool (default: the cores this process may use).
    scheduler : str, optional
        Address of a dask.distributed scheduler (``tcp://HOST:PORT``) to run on instead of
        the local pool. Workers need catbell_qutip installed; only this process touches the
        store.
    progress : bool
        Show a tqdm progress bar over chunks (default True).

    Returns
    -------
    xarray.Dataset
        One variable per output over one named dimension per axis, units and long names in
        the attributes, the resolved fixed parameters and the spec hash in the dataset
        attributes. Backed lazily by the store when ``store`` is given.

    Raises
    ------
    ValueError
        Bad spec, bad options, or a store made from another spec.
    SweepError
        Some points failed on their first attempt and on the one retry. Every other chunk is
        stored; the error lists the failing points with their parameters.

    Warns
    -----
    RuntimeWarning
        When some points have P = 0: F, S and Q (and key_rate) are NaN there (undefined),
        as in :func:`catbell_qutip.evaluate`; or, with ``target_rate_hz``, when some points
        cannot reach the rate (every output NaN there). Neither is a failure.

    Examples
    --------
    >>> ds = sweep({"engine": "coherent", "outputs": ["P", "S"],
    ...             "fixed": {"loss_order": 1}, "axes": {"alpha": [0.5, 1.0]}},
    ...            workers=1, progress=False)
    >>> ds.S.dims
    ('alpha',)
    """
    spec = _as_spec(spec)
    ds, stats = _run(spec, store, workers=workers, scheduler=scheduler, progress=progress)
    if stats.p_zero:
        warnings.warn(f"{stats.p_zero} point(s) have P = 0: F, S and Q are NaN there",
                      RuntimeWarning, stacklevel=2)
    if stats.unattainable:
        warnings.warn(f"{stats.unattainable} point(s) cannot reach target_rate_hz = "
                      f"{spec.target_rate_hz:g} Hz: every output is NaN there",
                      RuntimeWarning, stacklevel=2)
    return ds

