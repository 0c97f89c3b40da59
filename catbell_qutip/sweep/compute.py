"""Work on one chunk of a sweep (runs on a worker process or a Dask worker).

The coherent engine gets a whole chunk in one vectorised :func:`~catbell_qutip.evaluate`
call; the Fock engine loops over the chunk's points. A failing point never raises: it is
returned with its index, so the driver can retry and report it. F, S, Q (and key_rate) are
NaN where P = 0 (docs/model.md section 4); with a target rate, every output is NaN where no
alpha reaches it.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from dataclasses import dataclass

import numpy as np

from .. import api
from .._checks import NoHeraldWarning
from ..formulas import secret_key_rate, timing
from ..rates import alpha_for_rate
from .spec import is_scalar_field, json_value

__all__ = ["ChunkTask", "ChunkResult", "compute_chunk", "task_for", "CHUNK_DELAY_ENV"]

#: environment variable that makes every chunk sleep this many seconds (for testing resume)
CHUNK_DELAY_ENV = "CATBELL_SWEEP_CHUNK_DELAY_S"


@dataclass(frozen=True)
class ChunkTask:
    """One chunk of a sweep, as sent to a worker (picklable, plain values).

    Parameters
    ----------
    engine : {"coherent", "fock"}
        Simulation engine.
    outputs : tuple of str
        Outputs to compute, a subset of :data:`~catbell_qutip.sweep.spec.SWEEP_OUTPUTS`.
    params : dict
        The fixed (non-axis) protocol fields, JSON-ready (``"inf"`` for infinity), in
        the units of :class:`~catbell_qutip.params.ProtocolParams`.
    axes : tuple of (str, list)
        Per axis, its name and the values of this chunk (units of that field).
    target_rate_hz : float or None
        Target entanglement-generation rate [Hz]; alpha is solved per point when set.

    Examples
    --------
    A chunk of three fibre lengths (:func:`compute_chunk` runs it):

    >>> from catbell_qutip.sweep.spec import as_spec
    >>> spec = as_spec({"fixed": {"loss_order": 1, "alpha": 1.0},
    ...                 "axes": {"length_km": [1.0, 10.0, 50.0]}})
    >>> task = task_for(spec, (0,))
    >>> task.shape, task.axes[0][0]
    ((3,), 'length_km')
    """
    engine: str
    outputs: tuple
    params: dict
    axes: tuple          # (name, values of this chunk) per axis
    target_rate_hz: float | None

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(v) for _, v in self.axes)


@dataclass
class ChunkResult:
    """What a worker returns for one chunk.

    Parameters
    ----------
    values : dict of str to ndarray
        Output name -> array of the chunk's shape (NaN where P = 0, where a point failed,
        or where no alpha reaches the target rate); units as in
        :func:`catbell_qutip.sweep.spec.units`.
    failures : list of (tuple of int, str)
        Index within the chunk and ``"Type: message"`` of each failing point.
    n_p_zero : int
        Number of points with heralding probability P = 0.
    n_unattainable : int
        Number of points where the target rate cannot be reached.

    Examples
    --------
    >>> import numpy as np
    >>> r = ChunkResult(values={"P": np.array([0.5, 0.0])}, failures=[], n_p_zero=1)
    >>> r.n_p_zero, r.n_unattainable
    (1, 0)
    """
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


def _quantities(task: ChunkTask, fields: dict, shape: tuple) -> dict:
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
            warnings.filterwarnings("ignore", category=NoHeraldWarning)
            values = api.evaluate(loss_order, engine=task.engine, outputs=tuple(base),
                                  **fields)
        for k in base:
            if task.target_rate_hz is None:
                out[k] = np.array(np.broadcast_to(values[k], shape), dtype=float)
            else:
                out[k][ok] = values[k]
    if "key_rate" in task.outputs:
        clock = timing(orig)
        # NaN where P = 0 or the target is unattainable: S and Q are undefined there
        key = secret_key_rate(out["P"], out["S"], out["Q"], **clock)
        out["key_rate"] = np.array(np.broadcast_to(key, shape), dtype=float)
    return out


def _block_field(task: ChunkTask, i: int):
    """Axis ``i`` of a chunk, shaped to broadcast against the chunk."""
    name, v = task.axes[i]
    if is_scalar_field(name):
        return json_value(v[0])          # chunk size 1 along these axes
    s = [1] * len(task.axes)
    s[i] = len(v)
    return np.asarray(v, dtype=float).reshape(s)


def compute_chunk(task: ChunkTask) -> ChunkResult:
    """Evaluate every point of a chunk. Never raises for a failing point: failures are
    returned with their index, so the driver can retry and report them.

    Parameters
    ----------
    task : ChunkTask
        The chunk to compute.

    Returns
    -------
    ChunkResult
        Every output as an array of ``task.shape`` and the failing points.

    Examples
    --------
    >>> from catbell_qutip.sweep.spec import as_spec
    >>> spec = as_spec({"fixed": {"loss_order": 1, "alpha": 1.0},
    ...                 "axes": {"length_km": [1.0, 10.0, 50.0]}})
    >>> task = task_for(spec, (0,))
    >>> task.shape
    (3,)
    >>> res = compute_chunk(task)
    >>> res.failures, sorted(res.values)
    ([], ['F', 'P', 'Q', 'S'])

    Fibre loss lowers the heralding probability with length, and no CHSH value exceeds
    Tsirelson's bound 2 sqrt(2):

    >>> import numpy as np
    >>> P, S = res.values["P"], res.values["S"]
    >>> bool(np.all(np.diff(P) < 0)), bool(np.all(S <= 2 * np.sqrt(2)))
    (True, True)
    """
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
            fields.update({name: json_value(v[i])
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
    return ChunkResult(values=values, failures=failures, n_p_zero=int(np.sum(P == 0)),
                        n_unattainable=unattainable)


def task_for(spec, idx) -> ChunkTask:
    """The task of the chunk at ``idx`` of a :class:`~catbell_qutip.sweep.SweepSpec`.

    Parameters
    ----------
    spec : SweepSpec
        A validated sweep spec.
    idx : tuple of int
        Chunk index, one entry per axis (in ``spec.chunk_grid``).

    Returns
    -------
    ChunkTask
        The chunk's task; its axes hold only this chunk's values.

    Examples
    --------
    >>> from catbell_qutip.sweep.spec import as_spec
    >>> spec = as_spec({"fixed": {"loss_order": 1, "alpha": 1.0},
    ...                 "axes": {"length_km": [1.0, 10.0, 50.0]}})
    >>> task = task_for(spec, (0,))
    >>> task.shape
    (3,)
    >>> res = compute_chunk(task)
    >>> res.failures, sorted(res.values)
    ([], ['F', 'P', 'Q', 'S'])

    Fibre loss lowers the heralding probability with length, and no CHSH value exceeds
    Tsirelson's bound 2 sqrt(2):

    >>> import numpy as np
    >>> P, S = res.values["P"], res.values["S"]
    >>> bool(np.all(np.diff(P) < 0)), bool(np.all(S <= 2 * np.sqrt(2)))
    (True, True)
    """
    sl = spec.chunk_slices(idx)
    axes = tuple((name, v[s].tolist()) for (name, v), s in zip(spec.axes, sl, strict=True))
    return ChunkTask(engine=spec.engine, outputs=spec.outputs, params=spec.params,
                     axes=axes, target_rate_hz=spec.target_rate_hz)
