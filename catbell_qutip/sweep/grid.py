"""The sweep grid: checking every value before work starts, cutting it into chunks, and
estimating what a run needs (memory, disk) so that too large a grid is refused up front.
"""

from __future__ import annotations

import math

import numpy as np

from .._checks import MemoryLimitError, ParameterError
from ..api import check_point_memory, seconds_per_point
from ..params import ALPHA_CODES, PARAM_INFO, ProtocolParams

__all__ = ["validate_grid", "chunk_shape", "axis_bytes", "CHUNK_POINTS", "MIN_CHUNKS",
           "AXIS_BYTES_PER_VALUE", "FLAG_BYTES_PER_CHUNK", "WORK_BYTES_PER_POINT",
           "estimate_seconds", "CHUNK_OVERHEAD_S", "RATE_SOLVE_EVALUATIONS",
           "check_some_point_runs"]

#: seconds of bookkeeping per chunk (task round trip, checksums, writing to the store)
CHUNK_OVERHEAD_S = 0.05
#: evaluations per point when alpha is solved for target_rate_hz (scan and refinement)
RATE_SOLVE_EVALUATIONS = 40

#: (smallest, largest) default points per chunk. The coherent engine vectorises a chunk in
#: one call (~0.1-2 ms per point), so a chunk must be large enough to hide the ~10 ms of
#: per-chunk overhead; the Fock engine loops over its points (~10 ms to ~1 s each).
CHUNK_POINTS = {"coherent": (64, 512), "fock": (1, 16)}
#: below the largest size, aim for at least this many chunks, so a pool has work to balance
MIN_CHUNKS = 16
#: bytes per value of an axis: its float64 values, the temporaries of their validation,
#: the coordinate of the result and its write to the store (4 copies of 8 bytes)
AXIS_BYTES_PER_VALUE = 32
#: bytes per chunk the driver keeps: its checksum (8) and its done mask entry, rounded up
FLAG_BYTES_PER_CHUNK = 16
#: bytes per point of a chunk in flight: the evaluation's temporaries on the worker and the
#: returned outputs on the driver. A bound: the tracemalloc peak of a coherent-engine
#: evaluate() over 512 points with every imperfection on is ~11 kB per point at l = 1,
#: ~15 kB at l = 3 and ~23 kB at l = 7
WORK_BYTES_PER_POINT = 32768


def axis_bytes(num: int) -> int:
    """Memory an axis of ``num`` values takes before and during a run, in bytes.

    Parameters
    ----------
    num : int
        Number of values on the axis (dimensionless count).

    Returns
    -------
    int
        :data:`AXIS_BYTES_PER_VALUE` x ``num`` [bytes].

    Examples
    --------
    >>> axis_bytes(1000) == 1000 * AXIS_BYTES_PER_VALUE
    True
    """
    return AXIS_BYTES_PER_VALUE * int(num)


def validate_grid(merged: dict, axes, fixed: dict, preset_name) -> None:
    """Build ProtocolParams on the whole grid (one per combination of scalar-only axes), so
    every value is checked before any work starts. Errors name the key they come from
    (``axes.eta``, ``fixed.eta_c``, the preset), read from ``ParameterError.field``.

    Parameters
    ----------
    merged : dict
        The resolved fixed fields (preset < [fixed]).
    axes : tuple of (str, ndarray)
    fixed : dict
        The user's [fixed] table (to tell it from the preset's values).
    preset_name : str or None
        Name of the preset the spec started from (named in errors).

    Returns
    -------
    None
        Returns only if every point of the grid is valid.

    Raises
    ------
    ValueError
        If a value is invalid at some point; the message starts with the key it comes
        from (``axes.eta: ...``).

    Examples
    --------
    A negative fibre length on the length axis is refused, named by its key:

    >>> import numpy as np
    >>> try:
    ...     validate_grid({"loss_order": 1, "alpha": 1.0},
    ...                   (("length_km", np.array([1.0, -2.0])),), {}, None)
    ... except ValueError as exc:
    ...     str(exc).startswith("axes.length_km: ")
    True
    """
    n = len(axes)
    arrays, scalars = {}, []
    for i, (name, values) in enumerate(axes):
        if not PARAM_INFO[name].array:
            scalars.append((name, values))
        else:
            shape = [1] * n
            shape[i] = values.size
            arrays[name] = values.reshape(shape)
    axis_names = {name for name, _ in axes}

    def build(**fields):
        try:
            ProtocolParams(**merged, **fields)
        except ParameterError as exc:
            name = exc.field
            if name in axis_names:
                raise ValueError(f"axes.{name}: {exc}") from None
            if name in fixed:
                raise ValueError(f"fixed.{name}: {exc}") from None
            if preset_name is not None and name in merged:
                raise ValueError(f"preset {preset_name!r}: {exc}") from None
            raise ValueError(str(exc)) from None

    def value(v):
        v = v.item() if isinstance(v, np.generic) else v
        return v

    # each axis alone (others at their first value); on failure find the offending value
    # point by point, so the message shows it
    first = {name: value(v[0]) for name, v in axes}
    for name, values in axes:
        others = {k: v for k, v in first.items() if k != name}
        try:
            if not PARAM_INFO[name].array:
                raise ValueError
            ProtocolParams(**merged, **others, **{name: values})
        except (ValueError, IndexError):
            for v in values:
                build(**others, **{name: value(v)})
    # then the whole grid, for constraints between fields
    combos = np.ndindex(*[v.size for _, v in scalars]) if scalars else [()]
    for combo in combos:
        point = {name: value(v[j]) for (name, v), j in zip(scalars, combo, strict=True)}
        build(**arrays, **point)


def chunk_shape(engine: str, axes, user) -> tuple[int, ...]:
    """Points per chunk along each axis: the user's choice where given, otherwise filled
    from the last axis backwards up to a per-engine target (at most ~1/MIN_CHUNKS of the
    grid); axes evaluate() cannot vectorise (``ParamInfo.array`` false) get 1.

    Parameters
    ----------
    engine : {"coherent", "fock"}
        Simulation engine; sets the target chunk size (:data:`CHUNK_POINTS`).
    axes : tuple of (str, ndarray)
        The sweep axes, in spec order.
    user : dict or None
        The spec's ``[chunks]`` table, axis name -> points per chunk (dimensionless).

    Returns
    -------
    tuple of int
        Points per chunk along each axis (one entry per axis, each <= the axis size).

    Raises
    ------
    ValueError
        If ``user`` is not a table, names a key that is not an axis, gives a value that is
        not a positive integer, or gives more than 1 for an axis evaluate() cannot take
        as an array.

    Examples
    --------
    1000 lengths on the coherent engine: 16 chunks (:data:`MIN_CHUNKS`) of 63 points.

    >>> import numpy as np
    >>> axes = (("length_km", np.linspace(0.0, 10.0, 1000)),)
    >>> chunk_shape("coherent", axes, None), chunk_shape("coherent", axes, {"length_km": 100})
    ((63,), (100,))
    """
    names = [name for name, _ in axes]
    user = {} if user is None else user
    if not isinstance(user, dict):
        raise ValueError(f"chunks must be a table axis = points, got {user!r}")
    for k, v in user.items():
        if k not in names:
            raise ValueError(f"chunks.{k}: not an axis of this sweep (axes: {', '.join(names)})")
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"chunks.{k} must be a positive integer, got {v!r}")
        if not PARAM_INFO[k].array and v != 1:
            raise ValueError(f"chunks.{k} must be 1: evaluate() takes one {k} per call")
    sizes = [v.size for _, v in axes]
    total = math.prod(sizes)
    low, high = CHUNK_POINTS[engine]
    target = max(low, min(high, -(-total // MIN_CHUNKS)))
    out = [1] * len(axes)
    inner = 1
    for i in reversed(range(len(axes))):
        name = names[i]
        if name in user:
            c = min(user[name], sizes[i])
        elif not PARAM_INFO[name].array:
            c = 1
        else:
            c = max(1, min(sizes[i], target // inner))
            c = -(-sizes[i] // -(-sizes[i] // c))   # same number of chunks, evened out
        out[i] = c
        inner *= c
    return tuple(out)


def estimate_seconds(spec) -> float:
    """Rough CPU seconds of a whole sweep, for refusing a hopeless one up front: every
    point at :func:`catbell_qutip.api.seconds_per_point` (averaged over the loss orders,
    USDs and encoders the grid holds; x :data:`RATE_SOLVE_EVALUATIONS` where alpha is
    solved for a rate), plus :data:`CHUNK_OVERHEAD_S` per chunk. Divide by the workers.

    Parameters
    ----------
    spec : SweepSpec
        A validated sweep spec.

    Returns
    -------
    float
        Estimated CPU time of the whole sweep [s] (one worker).

    Examples
    --------
    >>> from catbell_qutip.sweep.spec import as_spec
    >>> spec = as_spec({"fixed": {"loss_order": 1, "alpha": 1.0},
    ...                 "axes": {"length_km": [1.0, 2.0]}})
    >>> estimate_seconds(spec) > CHUNK_OVERHEAD_S * spec.n_chunks
    True
    """
    axes = dict(spec.axes)

    def values(name):
        return axes[name].tolist() if name in axes else [spec.params[name]]

    costs = [seconds_per_point(int(l), engine=spec.engine, usd=u, encoder=e)
             for l in values("loss_order") for u in values("usd") for e in values("encoder")]
    per = sum(costs) / len(costs)
    if spec.target_rate_hz is not None:
        per *= RATE_SOLVE_EVALUATIONS
    return per * spec.size + CHUNK_OVERHEAD_S * spec.n_chunks


def check_some_point_runs(spec) -> None:
    """Refuse a sweep whose every point would be refused for its memory, before a store
    is created: the cheapest point (smallest loss order and alpha, the TUB, the ideal
    encoder, the cat code where the grid has them) is checked as the engine would check
    it (:func:`catbell_qutip.api.check_point_memory`). With ``target_rate_hz`` alpha is
    solved per point: the check uses alpha = 0.2, the lower end of the solver's scan
    (codes without an amplitude, binomial, take none).

    Parameters
    ----------
    spec : SweepSpec
        A validated sweep spec.

    Returns
    -------
    None
        Returns if the cheapest point fits in memory.

    Raises
    ------
    catbell_qutip._checks.MemoryLimitError
        If even the cheapest point of the grid exceeds the memory limit.

    Examples
    --------
    >>> from catbell_qutip.sweep.spec import as_spec
    >>> check_some_point_runs(as_spec({"fixed": {"loss_order": 1, "alpha": 1.0},
    ...                                "axes": {"length_km": [1.0, 2.0]}})) is None
    True
    """
    axes = dict(spec.axes)
    point = {k: (math.inf if v in ("inf", "infinity") else v)  # spec.params is JSON-ready
             for k, v in spec.params.items() if v is not None}
    prefer = {"usd": "tub", "encoder": "ideal", "code": "cat"}
    for name, values in axes.items():
        if name in prefer and prefer[name] in values.tolist():
            point[name] = prefer[name]
        elif PARAM_INFO[name].kind == "choice":
            point[name] = values.tolist()[0]
        else:
            point[name] = values.min().item()
    if point.get("code", "cat") in ALPHA_CODES:
        point.setdefault("alpha", 0.2)
    try:
        check_point_memory(ProtocolParams(**point), engine=spec.engine)
    except MemoryLimitError as exc:
        raise MemoryLimitError(f"every point of this sweep would be refused, even the "
                               f"cheapest: {exc}", exc.estimate_bytes,
                               exc.limit_bytes) from None
