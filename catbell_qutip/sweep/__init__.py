"""Parameter sweeps at scale: a TOML spec, chunked Zarr storage with checksums, resumable
runs, and execution on a local process pool or a dask.distributed cluster.

A sweep spec (TOML, or the same structure as a dict)::

    engine = "coherent"          # or "fock"
    preset = "ideal"             # optional, any preset name
    outputs = ["P", "F", "S"]    # also "Q", "key_rate", "alpha_at_rate"
    # target_rate_hz = 3000      # optional: solve alpha for this R_eg at every point
    # chunks = {alpha = 10}      # optional: points per chunk along some axes
    [fixed]
    loss_order = 1               # required (fixed or an axis)
    length_km = 5
    [axes]
    alpha = {start = 0.2, stop = 2.0, num = 50}   # required unless target_rate_hz is set
    eta_c = [0.6, 0.7, 0.8, 0.9, 1.0]             # explicit values

Every :class:`~catbell_qutip.params.ProtocolParams` field can be fixed; fields that may be
arrays (``ParamInfo.array``) can be axes too, and so can the one-value-per-call fields
(``loss_order`` and the choices, e.g. ``usd``, ``decoder``) given as lists. Layers resolve as
preset < [fixed] and [axes] (a user ``eta_c`` replaces a preset's ``eta_dc``/``eta_uc``
pair, as on the command line). The physics of every output is docs/model.md sections 3-4.

Modules: :mod:`~.spec` (parsing, validation), :mod:`~.grid` (chunking, size estimates),
:mod:`~.compute` (one chunk, on a worker), :mod:`~.store` (Zarr storage, checksums),
:mod:`~.lock` (one driver per store), :mod:`~.executors` (the :class:`Executor` protocol,
the local pool and Dask), :mod:`~.driver` (:func:`run_sweep`, :func:`sweep`) and
:mod:`~.verify` (:func:`verify_store`).

How the work is split and stored
--------------------------------
The grid (one dimension per axis, in spec order) is cut into rectangular chunks that are
also the Zarr chunks, so every chunk is written whole, exactly once, by the driver process
as soon as its result arrives; nothing else of the result is kept, so the driver's memory
is bounded by :func:`~.driver.estimate_memory` (axes, 8 bytes per chunk and output for the
checksums, the chunks in flight) whatever the grid's size, and a run that would need more
than the memory limit is refused before any work. Axes that :func:`catbell_qutip.evaluate`
cannot vectorise have chunk size 1. After a chunk's data is written, its checksums
(BLAKE2b-64 of each output's values) and then its flag in ``_sweep/done`` are set; a rerun
on the same store verifies every flagged chunk against its checksums, recomputes the
damaged ones (saying so on stderr) and the unflagged ones, and reuses the rest. The store's
attributes hold the canonical spec and its SHA-256, the package version and a fingerprint
of the code that computes results: a store made from another spec is refused, one written
by other code is refused unless ``force``. One driver at a time holds the store's lock.

Execution
---------
By default a local process pool with one process per available core; with
``scheduler="tcp://HOST:PORT"`` the same chunks go to a dask.distributed cluster. At most a
few chunks per worker are in flight. A point that raises is retried once (a vectorised
chunk that fails is redone point by point to isolate the culprit); if it fails again it is
reported with its parameters (:class:`SweepError`), its chunk is left unflagged, and every
other chunk is stored. A worker process that dies takes the local pool's chunks in flight
with it: those are resubmitted on a fresh pool, alone, and only a chunk that kills its
worker twice on its own is reported. F, S, Q (and key_rate) are NaN where P = 0, as in
:func:`~catbell_qutip.evaluate`; with ``target_rate_hz``, every output is NaN where no alpha
reaches the rate. Both are counted in the summary and are not failures.

Outputs "key_rate" (bit/s) = ``formulas.secret_key_rate(P, S, Q, L, t0)`` at each point
(docs/model.md section 4); with ``target_rate_hz``, alpha at each point is
``rates.alpha_for_rate(...)`` (stored as "alpha_at_rate") and every output is evaluated
there.
"""

from __future__ import annotations

from .compute import CHUNK_DELAY_ENV
from .driver import SweepError, SweepStats, estimate_memory, run_sweep, sweep
from .executors import Executor, default_workers
from .spec import RATE_OUTPUTS, STORE_FORMAT, SWEEP_OUTPUTS, SweepSpec, load_spec
from .store import code_fingerprint
from .verify import VerifyReport, verify_store

__all__ = [
    "SweepSpec",
    "SweepStats",
    "SweepError",
    "SWEEP_OUTPUTS",
    "RATE_OUTPUTS",
    "STORE_FORMAT",
    "load_spec",
    "sweep",
    "run_sweep",
    "estimate_memory",
    "verify_store",
    "VerifyReport",
    "code_fingerprint",
    "Executor",
    "default_workers",
    "CHUNK_DELAY_ENV",
]
