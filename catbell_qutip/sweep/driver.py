"""The sweep driver: checks sizes and the store, takes the store's lock, verifies what an
earlier run stored, sends the missing chunks to an executor and writes each result as it
arrives. :func:`run_sweep` is the public entry point (the ``catbell sweep`` command and
other commands call it); :func:`sweep` wraps it for interactive use.
"""

from __future__ import annotations

import dataclasses
import sys
import time
import traceback
import warnings
from collections import deque
from dataclasses import dataclass

import numpy as np

from .._checks import (
    NoHeraldWarning,
    ParameterError,
    UnreachableRateWarning,
    check_int,
    check_memory,
    check_time,
)
from .compute import ChunkResult, compute_chunk, task_for
from .executors import DaskExecutor, Executor, LocalExecutor, default_workers
from .grid import (
    FLAG_BYTES_PER_CHUNK,
    WORK_BYTES_PER_POINT,
    axis_bytes,
    check_some_point_runs,
    estimate_seconds,
)
from .lock import StoreLock
from .spec import SweepSpec, as_spec
from .store import MemorySink, ZarrStore, check_store_path

__all__ = ["SweepStats", "SweepError", "run_sweep", "sweep", "estimate_memory"]

#: how many damaged chunks a note lists by name
_LIST_LIMIT = 10
#: SweepStats.executor when every chunk was already stored and verified
NOTHING_TO_COMPUTE = "nothing to compute"


@dataclass
class SweepStats:
    """What a sweep run did (counts are grid points unless named chunks).

    Parameters
    ----------
    points, chunks : int
        Grid points and chunks of the sweep.
    computed, reused, failed : int
        Points computed in this run, reused from the store, failed twice.
    chunks_computed, chunks_reused, chunks_failed, chunks_damaged : int
        The same in chunks; damaged chunks were found corrupt in the store and recomputed.
    retried_chunks, lost_chunks : int
        Chunks retried after a failing point; chunks resubmitted after a worker died.
    p_zero, unattainable : int
        Computed points with P = 0; points where no alpha reaches ``target_rate_hz``.
    seconds : float
        Wall time of the run [s].
    executor : str
        Description of the backend that ran the chunks.
    failures : list of dict
        Each failing point's parameters (``"point"``) and error (``"error"``).

    Examples
    --------
    >>> stats = SweepStats(points=4, chunks=2, computed=4, chunks_computed=2, seconds=0.25,
    ...                    executor="1 local worker process(es)")
    >>> print(stats.summary().replace("; ", ";\\n"))
    4 points computed, 0 reused, 0 failed (2 of 2 chunks done;
    0.2 s on 1 local worker process(es))
    """

    points: int
    chunks: int
    computed: int = 0
    reused: int = 0
    failed: int = 0
    chunks_computed: int = 0
    chunks_reused: int = 0
    chunks_failed: int = 0
    chunks_damaged: int = 0
    retried_chunks: int = 0
    lost_chunks: int = 0
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
        if self.chunks_damaged:
            s += f", {self.chunks_damaged} damaged and recomputed"
        if self.retried_chunks:
            s += f", {self.retried_chunks} retried"
        if self.lost_chunks:
            s += f", {self.lost_chunks} resubmitted after a worker died"
        if self.executor == NOTHING_TO_COMPUTE:
            s += f"; {NOTHING_TO_COMPUTE}: every chunk is already stored and verified)"
        else:
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
    store retries only those chunks.

    Parameters
    ----------
    message : str
        The error message (lists the failing points).
    stats : SweepStats
        What the run did, including ``stats.failures``.
    dataset : xarray.Dataset, optional
        What was computed (failed chunks NaN).

    Examples
    --------
    >>> err = SweepError("1 point(s) failed", SweepStats(points=1, chunks=1, failed=1))
    >>> isinstance(err, RuntimeError), err.stats.failed, err.dataset is None
    (True, 1, True)
    """

    def __init__(self, message: str, stats: SweepStats, dataset=None):
        super().__init__(message)
        self.stats = stats
        self.dataset = dataset


def estimate_memory(spec: SweepSpec, *, in_memory: bool, window: int) -> int:
    """Bytes a run needs on the driver's machine, whatever the grid's size: the axes'
    values (:data:`~catbell_qutip.sweep.grid.AXIS_BYTES_PER_VALUE` each), the done flags
    and checksums (``8 * outputs + 2`` bytes per chunk), ``window`` chunks in flight
    (:data:`~catbell_qutip.sweep.grid.WORK_BYTES_PER_POINT` per point) and, without a
    store, the whole result (8 bytes per point and output).

    Parameters
    ----------
    spec : SweepSpec
        A validated sweep spec.
    in_memory : bool
        True when the result is kept in memory (no store).
    window : int
        Chunks in flight at once (dimensionless count).

    Returns
    -------
    int
        Estimated memory on the driver [bytes].

    Examples
    --------
    Keeping the result in memory costs exactly 8 bytes per point and output more:

    >>> from catbell_qutip.sweep.spec import as_spec
    >>> spec = as_spec({"fixed": {"loss_order": 1, "alpha": 1.0},
    ...                 "axes": {"length_km": [1.0, 2.0, 3.0]}})
    >>> (estimate_memory(spec, in_memory=True, window=2)
    ...  - estimate_memory(spec, in_memory=False, window=2)) == 3 * len(spec.outputs) * 8
    True
    """
    n_out = len(spec.outputs)
    total = sum(axis_bytes(v.size) for _, v in spec.axes)
    total += spec.n_chunks * max(FLAG_BYTES_PER_CHUNK, 8 * n_out + 2)
    total += window * int(np.prod(spec.chunks)) * WORK_BYTES_PER_POINT
    if in_memory:
        total += spec.size * n_out * 8
    return total


def _failure_message(stats: SweepStats, limit: int = 10) -> str:
    lines = [f"{stats.failed} point(s) failed twice (first attempt and one retry):"]
    for f in stats.failures[:limit]:
        where = ", ".join(f"{k}={v}" for k, v in f["point"].items())
        lines.append(f"  {where}: {f['error']}")
    if len(stats.failures) > limit:
        lines.append(f"  ... and {len(stats.failures) - limit} more")
    return "\n".join(lines)


def _check_options(workers, scheduler) -> None:
    if scheduler is not None and workers is not None:
        raise ParameterError("workers sizes the local pool, and with scheduler=ADDRESS the "
                             "cluster's workers are used: give one or the other", "workers")
    if workers is not None:
        check_int(workers, "workers", low=1)


def run_sweep(spec, store=None, *, workers: int | None = None,
              scheduler: str | None = None, progress: bool = True, force: bool = False,
              note=None):
    """Run a sweep; return ``(dataset, stats)`` (see :func:`sweep` for the arguments).

    The public entry point for commands built on sweeps. Everything that can be checked
    is checked before any work starts (ValueError): the spec, the memory the run needs
    (:func:`estimate_memory` against ``catbell_qutip._checks.memory_limit_bytes``), the
    store path (an existing file, an unwritable or too full location), the store's spec,
    its lock and the code that wrote it.

    Parameters
    ----------
    spec : str, path, dict or SweepSpec
        As :func:`sweep`.
    store : str or path, optional
        Zarr store directory, as :func:`sweep`; None keeps the results in memory.
    workers : int, optional
        Size of the local process pool (dimensionless count).
    scheduler : str, optional
        Address of a dask.distributed scheduler.
    progress : bool
        Show a progress bar over chunks.
    force : bool
        Resume a store written by another version of the computing code.
    note : callable, optional
        Receives each one-line note of the run (damaged chunks recomputed, a forced
        resume, a lock taken over); default: print it to stderr after ``sweep:``.

    Raises
    ------
    ValueError
        As :func:`sweep`; also a store locked by a running sweep, or written by other code
        without ``force``.
    SweepError
        Some points failed twice; ``.stats`` and ``.dataset`` hold what was done.
    OSError
        Writing a chunk failed (e.g. the disk filled up during the run); every chunk
        flagged done before is intact, and a rerun resumes.

    Returns
    -------
    dataset : xarray.Dataset
        As :func:`sweep`.
    stats : SweepStats
        What the run did (points computed, reused, failed; time; backend).

    Examples
    --------
    >>> ds, stats = run_sweep({"outputs": ["P"], "fixed": {"loss_order": 1},
    ...                        "axes": {"alpha": [0.5, 1.0]}}, workers=1, progress=False)
    >>> stats.computed, stats.failed, ds.P.shape
    (2, 0, (2,))
    """
    spec = as_spec(spec)
    _check_options(workers, scheduler)
    window = 2 * (workers or default_workers())
    if store is None:
        way_out = ("write to a store (store=PATH), where results stream to disk "
                   "chunk by chunk, or sweep fewer points")
    else:
        way_out = ("sweep fewer points (smaller axes) or give larger chunks (the spec's "
                   "chunks table)")
    check_memory(estimate_memory(spec, in_memory=store is None, window=window),
                 f"this sweep ({spec.size:.3g} points in {spec.n_chunks:.3g} chunks)", way_out)
    check_some_point_runs(spec)

    if note is None:
        def note(msg: str) -> None:
            print(f"sweep: {msg}", file=sys.stderr, flush=True)

    # a scheduler is reached before a store is created: an unreachable one leaves nothing
    dask = DaskExecutor(scheduler) if scheduler is not None else None
    lock = None
    try:
        from pathlib import Path

        if store is None or not Path(store).exists():  # resumes are checked on what is left
            _check_duration(spec, spec.n_chunks, workers, dask)
        if store is None:
            sink, forced = MemorySink(spec), False
        else:
            need = 0 if Path(store).exists() else 8 * spec.size * len(spec.outputs)
            check_store_path(store, need, "store")
            sink = ZarrStore(store, spec, force=force, note=note)
            forced = sink.check_code()
            lock = StoreLock(store, note=note)
            lock.acquire()
        if forced:
            sink.record_forced()
        return _run_locked(spec, sink, workers, dask, progress, note)
    except BaseException:
        if dask is not None:
            dask.close(cancel=True)
        raise
    finally:
        if lock is not None:
            lock.release()


def _check_duration(spec, n_chunks_todo: int, workers, dask) -> None:
    """Refuse a run estimated (:func:`~catbell_qutip.sweep.grid.estimate_seconds`, for the
    chunks still to compute) to take more than the time limit on these workers."""
    n_par = dask.threads() if dask is not None else int(workers or default_workers())
    on = (f"{n_par} Dask worker thread(s)" if dask is not None else
          f"{n_par} local worker process(es)")
    seconds = estimate_seconds(spec) * n_chunks_todo / spec.n_chunks / n_par
    check_time(seconds, f"this sweep ({spec.size:.3g} points, {n_chunks_todo:.3g} chunks to "
                        f"compute, on {on})",
               "sweep fewer points, spread them over more workers=N or a cluster "
               "(scheduler=ADDRESS), or split the grid into several sweeps")


def _run_locked(spec, sink, workers, dask, progress, note):
    stats = SweepStats(points=spec.size, chunks=spec.n_chunks)
    done = np.zeros(spec.chunk_grid, dtype=bool)
    damaged: list[str] = []
    for idx, sums in sink.flagged():
        problems = sink.damage(idx, sums)
        if problems:
            damaged += problems
            stats.chunks_damaged += 1
            sink.unflag(idx)
        else:
            done[idx] = True
            stats.chunks_reused += 1
            stats.reused += spec.chunk_size(idx)
    if damaged:
        shown = "; ".join(damaged[:_LIST_LIMIT])
        more = f"; ... and {len(damaged) - _LIST_LIMIT} more" if len(damaged) > \
            _LIST_LIMIT else ""
        note(f"{stats.chunks_damaged} stored chunk(s) failed verification and are "
             f"recomputed: {shown}{more}")
    if isinstance(sink, ZarrStore) and stats.reused:
        check_store_path(sink.path, 8 * (spec.size - stats.reused) * len(spec.outputs),
                         "store")
    n_todo = stats.chunks - stats.chunks_reused
    t_start = time.perf_counter()
    if n_todo and isinstance(sink, ZarrStore) and not sink.created:  # a resume
        _check_duration(spec, n_todo, workers, dask)
    if n_todo:
        if dask is not None:
            ex: Executor = dask
        else:
            ex = LocalExecutor(min(workers or default_workers(), n_todo))
        stats.executor = ex.description
        todo = (idx for idx in spec.chunk_indices() if not done[idx])
        try:
            _drive(spec, sink, todo, ex, stats, progress)
        except BaseException:
            ex.close(cancel=True)
            raise
        ex.close()
    else:
        stats.executor = NOTHING_TO_COMPUTE
        if dask is not None:
            dask.close()
    stats.seconds = time.perf_counter() - t_start
    if stats.failures:
        raise SweepError(_failure_message(stats), stats, sink.dataset())
    return sink.dataset(), stats


def _drive(spec, sink, todo, ex: Executor, stats: SweepStats, progress: bool) -> None:
    """Keep ``ex.window()`` chunks in flight and write each result as it arrives.

    A chunk whose points raise is retried once, then reported. A chunk lost because a
    worker process died (the local pool breaks and fails every task in flight) is not a
    failure by itself: every chunk lost that way is resubmitted on a fresh pool, alone,
    one at a time, so that a crash can be pinned on the chunk that caused it; only a chunk
    that kills its worker twice while running alone is reported.
    """
    from tqdm import tqdm

    retries: deque = deque()      # (idx, attempt) after a failure of its points
    suspects: deque = deque()     # (idx, attempt, solo crashes) lost with a broken pool
    in_flight: dict = {}          # future -> (idx, attempt, generation, solo, crashes)

    def submit(idx, attempt, crashes=0, solo=False):
        fut = ex.submit(compute_chunk, task_for(spec, idx))
        in_flight[fut] = (idx, attempt, ex.generation, solo, crashes)

    def refill():
        if suspects:
            if not in_flight:
                submit(*suspects.popleft(), solo=True)
            return
        while len(in_flight) < ex.window():
            if retries:
                submit(*retries.popleft())
                continue
            idx = next(todo, None)
            if idx is None:
                return
            submit(idx, 0)

    def record_failure(idx, failures, bar):
        stats.chunks_failed += 1
        stats.failed += len(failures)
        offset = [s.start for s in spec.chunk_slices(idx)]
        for i, msg in failures:
            g = tuple(o + j for o, j in zip(offset, i, strict=True))
            stats.failures.append({"point": spec.point(g), "error": msg})
        bar.set_postfix(failed=stats.failed)
        bar.update(1)

    refill()
    with tqdm(total=stats.chunks, initial=stats.chunks_reused, unit="chunk", desc="sweep",
              disable=not progress, file=sys.stderr, dynamic_ncols=True) as bar:
        while in_flight:
            for fut in ex.wait(list(in_flight)):
                idx, attempt, generation, solo, crashes = in_flight.pop(fut)
                shape = tuple(s.stop - s.start for s in spec.chunk_slices(idx))
                try:
                    res = fut.result()
                except Exception as exc:  # noqa: BLE001 - the task did not return
                    msg = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                    if ex.lost(exc, generation):
                        crashes += solo
                        if crashes < 2:
                            stats.lost_chunks += not solo
                            suspects.append((idx, attempt, crashes))
                            continue
                        msg += " (its worker process died twice running this chunk alone)"
                        record_failure(idx, [(i, msg) for i in np.ndindex(*shape)], bar)
                        continue
                    res = ChunkResult(values={}, failures=[(i, msg)
                                                           for i in np.ndindex(*shape)])
                if res.failures and attempt == 0:
                    stats.retried_chunks += 1
                    retries.append((idx, 1))
                    continue
                if res.failures:
                    record_failure(idx, res.failures, bar)
                    continue
                sink.write(idx, res.values)
                stats.chunks_computed += 1
                stats.computed += spec.chunk_size(idx)
                stats.p_zero += res.n_p_zero
                stats.unattainable += res.n_unattainable
                bar.update(1)
            refill()


def sweep(spec, store=None, *, workers: int | None = None, scheduler: str | None = None,
          progress: bool = True, force: bool = False):
    """Run a parameter sweep; store it chunk by chunk; resume an interrupted one.

    Parameters
    ----------
    spec : str, path, dict or SweepSpec
        A TOML file (see :mod:`catbell_qutip.sweep`), its parsed content, or a
        :class:`~catbell_qutip.sweep.SweepSpec`. Unknown keys, missing ``loss_order`` or
        ``alpha``, empty axes and out-of-range values raise ValueError naming the key,
        before any work starts.
    store : str or path, optional
        A Zarr store (directory) to write. Every chunk is written as soon as it is done,
        with a checksum. If the store exists and was made from the same spec, its stored
        chunks are verified (a damaged one is recomputed, with a note on stderr) and only
        the missing ones computed; a store made from another spec (or not a sweep store)
        raises ValueError and nothing is touched. Default: keep the results in memory.
    workers : int, optional
        Size of the local process pool (default: the cores this process may use).
    scheduler : str, optional
        Address of a dask.distributed scheduler (``tcp://HOST:PORT``) to run on instead of
        the local pool. Workers need catbell_qutip installed; only this process touches the
        store.
    progress : bool
        Show a tqdm progress bar over chunks (default True).
    force : bool
        Resume a store written by another version of the code that computes results
        (otherwise refused).

    Returns
    -------
    xarray.Dataset
        One variable per output over one named dimension per axis, units and long names in
        the attributes, the resolved fixed parameters, the spec hash, the package version
        and the code fingerprint in the dataset attributes. Backed lazily by the store when
        ``store`` is given.

    Raises
    ------
    ValueError
        Bad spec or options, too large a grid for the memory limit, a store path that is a
        file, unwritable or too full, a store made from another spec, in use by another
        sweep, or written by other code (without ``force``).
    SweepError
        Some points failed on their first attempt and on the one retry. Every other chunk is
        stored; the error lists the failing points with their parameters.

    Warns
    -----
    RuntimeWarning
        When some points have P = 0: F, S and Q (and key_rate) are NaN there (undefined),
        as in :func:`catbell_qutip.evaluate` (docs/model.md section 4); or, with
        ``target_rate_hz``, when some points cannot reach the rate (every output NaN
        there). Neither is a failure.

    Examples
    --------
    >>> ds = sweep({"engine": "coherent", "outputs": ["P", "S"],
    ...             "fixed": {"loss_order": 1}, "axes": {"alpha": [0.5, 1.0]}},
    ...            workers=1, progress=False)
    >>> ds.S.dims
    ('alpha',)
    """
    spec = as_spec(spec)
    ds, stats = run_sweep(spec, store, workers=workers, scheduler=scheduler,
                          progress=progress, force=force)
    if stats.p_zero:
        warnings.warn(f"{stats.p_zero} point(s) have P = 0: F, S and Q are NaN there",
                      NoHeraldWarning, stacklevel=2)
    if stats.unattainable:
        warnings.warn(f"{stats.unattainable} point(s) cannot reach target_rate_hz = "
                      f"{spec.target_rate_hz:g} Hz: every output is NaN there",
                      UnreachableRateWarning, stacklevel=2)
    return ds
