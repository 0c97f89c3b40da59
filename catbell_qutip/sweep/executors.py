"""Where chunks run: a local process pool, or a dask.distributed cluster.

Both implement :class:`Executor`, the interface the driver uses. The local pool is a
:class:`concurrent.futures.ProcessPoolExecutor` with one process per available core: it
starts in a fraction of a second, opens no ports and runs no scheduler or dashboard, which
suits a laptop or a shared node; the driver does all the writing, so a local Dask cluster
would add processes and start-up time without adding anything.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import threading
import time
from typing import Any, Protocol, runtime_checkable

from .._checks import ParameterError

__all__ = ["Executor", "LocalExecutor", "DaskExecutor", "default_workers", "die_with_parent"]

#: seconds between a worker's checks that its driver is still alive
PARENT_POLL_S = 0.5


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(PARENT_POLL_S)
        if os.getppid() != parent:  # the driver died (even by SIGKILL): so do we
            os._exit(1)


def die_with_parent() -> None:
    """Process-pool initializer: the worker exits within :data:`PARENT_POLL_S` of its
    parent's death, however the parent died (a SIGKILL leaves no chance to clean up, and
    workers that outlive it keep computing for nobody). A daemon thread polls the parent
    id, which changes when the parent is gone (POSIX re-parents orphans).

    Returns
    -------
    None
        Starts a daemon thread in the calling (worker) process and returns.

    Examples
    --------
    A worker started with it runs tasks as usual; its parent is this process:

    >>> import concurrent.futures as cf, os
    >>> with cf.ProcessPoolExecutor(1, initializer=die_with_parent) as pool:
    ...     pool.submit(os.getppid).result() == os.getpid()
    True
    """
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True,
                     name="catbell-die-with-parent").start()


@runtime_checkable
class Executor(Protocol):
    """What the sweep driver needs from an execution backend.

    A :class:`typing.Protocol`: a backend implements these attributes and methods; it is
    not instantiated itself.

    Parameters
    ----------
    name : str
        "local" or "dask".
    description : str
        For the summary line ("2 local worker process(es)").
    generation : int
        Increases every time the backend replaces its workers after losing them; a
        future's generation tells a task lost with a broken pool from a later one
        (dimensionless count).

    Examples
    --------
    >>> ex = LocalExecutor(1)
    >>> isinstance(ex, Executor), ex.name, ex.window()
    (True, 'local', 2)
    >>> ex.close()
    """

    name: str
    description: str
    generation: int

    def window(self) -> int:
        """How many chunks to keep in flight."""

    def submit(self, fn, arg) -> Any:
        """Start ``fn(arg)``; return a future (``.result()`` returns or raises)."""

    def wait(self, futures) -> set:
        """Block until at least one of ``futures`` is done; return the done ones."""

    def lost(self, exc: BaseException, generation: int) -> bool:
        """True when ``exc`` means the task was lost with its worker (the worker died),
        not that the task failed by itself. Replaces the broken workers, once per
        generation, so the lost tasks can be resubmitted."""

    def close(self, cancel: bool = False) -> None:
        """Shut down (cancelling pending work when ``cancel``)."""


def default_workers() -> int:
    """Cores this process may run on.

    Returns
    -------
    int
        Number of CPU cores in this process's affinity mask (at least 1).

    Examples
    --------
    >>> 1 <= default_workers() <= (os.cpu_count() or 1)
    True
    """
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class LocalExecutor:
    """A ProcessPoolExecutor on this machine: no scheduler, no ports, starts in ~0.1 s.

    When a worker process dies (a segfault, the OOM killer), the pool breaks and every
    task in flight fails with ``BrokenProcessPool``; :meth:`lost` then starts a fresh pool.

    Parameters
    ----------
    workers : int
        Number of worker processes (dimensionless count, >= 1).
    mp_context : multiprocessing context, optional
        E.g. ``multiprocessing.get_context("fork")`` (workers start without importing the
        package again); the default context when None.

    Examples
    --------
    >>> ex = LocalExecutor(2)
    >>> ex.description, ex.window()            # two chunks in flight per worker
    ('2 local worker process(es)', 4)
    >>> ex.submit(abs, -3).result()
    3
    >>> ex.close()
    """

    name = "local"

    def __init__(self, workers: int, mp_context=None):
        """``workers`` processes; ``mp_context`` (a :mod:`multiprocessing` context, e.g.
        "fork": workers start without importing the package again) or the default."""
        self.workers = workers
        self.mp_context = mp_context
        self.pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp_context,
                                           initializer=die_with_parent)
        self.generation = 0
        self.description = f"{workers} local worker process(es)"

    def window(self) -> int:
        return 2 * self.workers

    def submit(self, fn, arg):
        return self.pool.submit(fn, arg)

    def wait(self, futures):
        return cf.wait(futures, return_when=cf.FIRST_COMPLETED).done

    def lost(self, exc, generation: int) -> bool:
        if not isinstance(exc, cf.process.BrokenProcessPool):
            return False
        if generation == self.generation:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = cf.ProcessPoolExecutor(max_workers=self.workers,
                                               mp_context=self.mp_context,
                                               initializer=die_with_parent)
            self.generation += 1
        return True

    def close(self, cancel: bool = False) -> None:
        self.pool.shutdown(wait=not cancel, cancel_futures=cancel)


class DaskExecutor:
    """A dask.distributed cluster reached through its scheduler address. Workers need
    catbell_qutip installed; only the driver touches the store. dask.distributed
    reschedules the tasks of a lost worker by itself (and gives up with ``KilledWorker``
    after its own retries, which the driver treats as a failure of the task).

    Parameters
    ----------
    address : str
        Address of the Dask scheduler, e.g. ``"tcp://10.0.0.1:8786"``.

    Raises
    ------
    catbell_qutip._checks.ParameterError
        If the scheduler cannot be reached within 20 s (field ``"scheduler"``).

    Examples
    --------
    Connecting needs a running scheduler; the class itself names its backend:

    >>> DaskExecutor.name, DaskExecutor.generation
    ('dask', 0)
    """

    name = "dask"
    generation = 0

    def __init__(self, address: str):
        from distributed import Client

        try:
            self.client = Client(address, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise ParameterError(f"scheduler {address!r}: cannot reach the Dask scheduler "
                                 f"({exc})", "scheduler") from None
        self._window = (0.0, 4)
        self.description = f"Dask scheduler {address}"

    def threads(self) -> int:
        """Worker threads of the cluster now (at least 1)."""
        return max(1, sum(self.client.nthreads().values()))

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

    def lost(self, exc, generation: int) -> bool:
        return False

    def close(self, cancel: bool = False) -> None:
        self.client.close()
