"""One BLAS thread while catbell_qutip computes.

The engines multiply many small matrices (a light space of tens of levels, 4 x 4 atom
blocks). A multi-threaded BLAS gains nothing at that size, and on a shared machine its
threads wait for busy cores: at load 4 on the 2-core development machine one squeezed-cat
l = 3 Table I point (cutoff 48) took 94-118 ms of CPU with OpenBLAS's default threads and
11-13 ms with one (``OPENBLAS_NUM_THREADS=1``; medians of 15 calls of
:func:`catbell_qutip.simulate`). Parallel work belongs to the sweep's worker processes. So
every public computation (:func:`catbell_qutip.simulate`, :func:`~catbell_qutip.evaluate`,
:func:`~catbell_qutip.api.run`, :func:`~catbell_qutip.api.heralded`, every ``catbell``
command) runs with the BLAS thread pools limited through :mod:`threadpoolctl`, and restores
them on return, so a caller's own NumPy work keeps its threads.

The environment variable ``CATBELL_BLAS_THREADS`` sets the limit (default 1; ``0`` leaves
the BLAS pools as they are).
"""

from __future__ import annotations

import functools
import os
import threading
from contextlib import contextmanager

from ._checks import ParameterError

__all__ = ["BLAS_THREADS_ENV", "blas_threads", "limited_blas", "with_limited_blas"]

#: environment variable setting the BLAS threads used while catbell_qutip computes
BLAS_THREADS_ENV = "CATBELL_BLAS_THREADS"

_LOCAL = threading.local()
_CONTROLLER: list = []


def blas_threads() -> int:
    """The BLAS thread limit in force for catbell_qutip's computations (0: none).

    Returns
    -------
    int
        ``CATBELL_BLAS_THREADS`` if set (a non-negative integer), else 1.

    Raises
    ------
    ParameterError
        If ``CATBELL_BLAS_THREADS`` is not a non-negative integer.

    Examples
    --------
    >>> import os
    >>> blas_threads() == int(os.environ.get("CATBELL_BLAS_THREADS", "1"))
    True
    """
    raw = os.environ.get(BLAS_THREADS_ENV, "1").strip()
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise ParameterError(
            f"{BLAS_THREADS_ENV}={raw!r} must be a non-negative integer (1: one BLAS thread, "
            "the default; 0: leave the BLAS thread pools alone)", BLAS_THREADS_ENV)
    return value


def _controller():
    if not _CONTROLLER:
        # load both BLAS libraries (NumPy's and SciPy's) before threadpoolctl looks
        import scipy.linalg  # noqa: F401  (loaded for its BLAS only)
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


def _blas_libraries() -> list:
    """threadpoolctl's controllers of the loaded BLAS libraries (found once)."""
    return [lib for lib in _controller().lib_controllers if lib.user_api == "blas"]


@contextmanager
def limited_blas():
    """Limit the BLAS thread pools to :func:`blas_threads` inside the block (nested blocks
    cost nothing: only the outermost one sets and restores the limit).

    Examples
    --------
    >>> import numpy as np
    >>> with limited_blas():
    ...     float(np.ones((2, 2)) @ np.ones(2) @ np.ones(2))
    4.0
    """
    depth = getattr(_LOCAL, "depth", 0)
    limit = blas_threads() if depth == 0 else 0
    if limit == 0:
        _LOCAL.depth = depth + 1
        try:
            yield
        finally:
            _LOCAL.depth = depth
        return
    # threadpoolctl's own limit() reads every library's full info on entry (~50 us); a
    # single point's hot path enters here once per call, so set and restore the BLAS
    # libraries' thread counts directly (threadpoolctl's LibController interface)
    changed = []
    try:
        for lib in _blas_libraries():
            n = lib.get_num_threads()
            if n != limit:
                lib.set_num_threads(limit)
                changed.append((lib, n))
        _LOCAL.depth = depth + 1
        yield
    finally:
        _LOCAL.depth = depth
        for lib, n in reversed(changed):
            lib.set_num_threads(n)


def with_limited_blas(func):
    """Decorator: run ``func`` inside :func:`limited_blas`.

    Parameters
    ----------
    func : callable
        The computation to run with limited BLAS threads.

    Returns
    -------
    callable
        ``func`` wrapped (same signature and docstring).
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with limited_blas():
            return func(*args, **kwargs)

    return wrapper
