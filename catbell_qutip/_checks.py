"""Argument checks shared by every public function, so that errors read the same everywhere."""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "ParameterError",
    "MemoryLimitError",
    "check_loss_order",
    "check_real",
    "check_choice",
    "memory_limit_bytes",
    "check_memory",
    "MEMORY_LIMIT_ENV",
]

#: environment variable that sets the memory limit of one run, in GiB
MEMORY_LIMIT_ENV = "CATBELL_MAX_MEMORY_GB"
#: default memory limit: this fraction of the machine's physical memory
MEMORY_FRACTION = 0.5


class ParameterError(ValueError):
    """A bad value of one named parameter; ``field`` names it (e.g. ``"eta_int"``).

    A ValueError, so callers that catch ValueError keep working; callers that need the
    parameter (a sweep spec naming ``fixed.eta_int``) read ``field`` instead of parsing
    the message.
    """

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class MemoryLimitError(ValueError):
    """A run whose estimated memory exceeds the limit (:func:`memory_limit_bytes`)."""

    def __init__(self, message: str, estimate_bytes: float, limit_bytes: float):
        super().__init__(message)
        self.estimate_bytes = float(estimate_bytes)
        self.limit_bytes = float(limit_bytes)


def memory_limit_bytes() -> float:
    """Largest memory one run may ask for, in bytes.

    ``CATBELL_MAX_MEMORY_GB`` (GiB) if set, else half the machine's physical memory.
    """
    import os

    env = os.environ.get(MEMORY_LIMIT_ENV)
    if env:
        try:
            gb = float(env)
        except ValueError:
            raise ValueError(f"{MEMORY_LIMIT_ENV} = {env!r} is not a number of GiB") from None
        if not gb > 0:
            raise ValueError(f"{MEMORY_LIMIT_ENV} = {env!r} must be > 0 GiB")
        return gb * 2 ** 30
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        total = 8 * 2 ** 30
    return MEMORY_FRACTION * total


def check_memory(estimate_bytes: float, what: str, way_out: str) -> None:
    """Raise :class:`MemoryLimitError` before any work if ``estimate_bytes`` is too much.

    ``what`` names the run ("the Fock engine at cutoff 5000"), ``way_out`` says what to do
    in the caller's own terms (a CLI flag in the CLI, an argument in the API). The message
    names the estimate, the limit and how to raise the limit.
    """
    limit = memory_limit_bytes()
    if estimate_bytes > limit:
        raise MemoryLimitError(
            f"{what} needs about {estimate_bytes / 2 ** 30:.3g} GiB of memory, more than the "
            f"limit of {limit / 2 ** 30:.3g} GiB (set {MEMORY_LIMIT_ENV} to change it); "
            f"{way_out}",
            estimate_bytes, limit)


def check_loss_order(loss_order) -> int:
    """Return N = l + 1 for a valid loss order l = 2^m - 1, else raise ValueError."""
    if isinstance(loss_order, bool) or not isinstance(loss_order, (int, np.integer)):
        raise ParameterError(
            f"loss_order must be an integer of the form 2^m - 1 (0, 1, 3, 7, ...), "
            f"got {loss_order!r}", "loss_order")
    l = int(loss_order)
    n = l + 1
    if l < 0 or (n & (n - 1)) != 0:
        raise ParameterError(
            f"loss_order must be of the form 2^m - 1 (0, 1, 3, 7, 15, ...), got {l}",
            "loss_order")
    return n


def check_real(
    value,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    allow_inf: bool = False,
    unit: str = "",
):
    """Validate a real scalar or array against an interval; return it as float or ndarray.

    The message names the parameter, the offending value and the allowed range.
    """
    if type(value) in (float, int) and math.isfinite(value) and (
        (low is None or (value > low if low_open else value >= low))
        and (high is None or (value < high if high_open else value <= high))
    ):
        return float(value)  # fast path for a valid plain number; everything else below
    if isinstance(value, (bool, np.bool_)) or np.asarray(value).dtype == bool:
        raise ParameterError(f"{name} must be a real number, got the boolean {value!r}", name)
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a real number, got {value!r}", name) from None
    lo = "(" if low_open else "["
    hi = ")" if high_open else "]"
    rng = f"{lo}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi}"
    u = f" {unit}" if unit else ""
    bad = np.isnan(arr) | (np.isinf(arr) & (not allow_inf))
    if low is not None:
        bad |= (arr <= low) if low_open else (arr < low)
    if high is not None:
        bad |= (arr >= high) if high_open else (arr > high)
    if np.any(bad):
        shown = arr[bad].flat[0] if arr.ndim else float(arr)
        raise ParameterError(f"{name} = {shown:g}{u} is outside the allowed range {rng}{u}",
                             name)
    return float(arr) if arr.ndim == 0 else arr


def check_choice(value, name: str, choices) -> str:
    """Validate a string option against its allowed values."""
    if not isinstance(value, str) or value not in choices:
        raise ParameterError(f"{name} must be one of {sorted(choices)}, got {value!r}", name)
    return value
