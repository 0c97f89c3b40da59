"""Argument checks shared by every public function, so that errors read the same everywhere."""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "check_loss_order",
    "check_real",
    "check_choice",
]


def check_loss_order(loss_order) -> int:
    """Return N = l + 1 for a valid loss order l = 2^m - 1, else raise ValueError."""
    if isinstance(loss_order, bool) or not isinstance(loss_order, (int, np.integer)):
        raise ValueError(
            f"loss_order must be an integer of the form 2^m - 1 (0, 1, 3, 7, ...), "
            f"got {loss_order!r}"
        )
    l = int(loss_order)
    n = l + 1
    if l < 0 or (n & (n - 1)) != 0:
        raise ValueError(
            f"loss_order must be of the form 2^m - 1 (0, 1, 3, 7, 15, ...), got {l}"
        )
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
        raise ValueError(f"{name} must be a real number, got the boolean {value!r}")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
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
        raise ValueError(f"{name} = {shown:g}{u} is outside the allowed range {rng}{u}")
    return float(arr) if arr.ndim == 0 else arr


def check_choice(value, name: str, choices) -> str:
    """Validate a string option against its allowed values."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value
