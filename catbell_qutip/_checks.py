"""Argument checks shared by every public function, so that errors read the same everywhere."""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "ParameterError",
    "MemoryLimitError",
    "PrecisionError",
    "SourceError",
    "NoHeraldWarning",
    "UnreachableRateWarning",
    "check_loss_order",
    "check_loss_orders",
    "check_real",
    "check_int",
    "check_choice",
    "memory_limit_bytes",
    "check_memory",
    "MEMORY_LIMIT_ENV",
    "check_out_dir",
    "TimeLimitError",
    "TIME_LIMIT_ENV",
    "time_limit_seconds",
    "check_time",
    "format_duration",
    "check_count",
    "check_rate_hz",
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

    Parameters
    ----------
    message : str
        The one-line error, naming the parameter, its value and what is allowed.
    field : str, optional
        The parameter's name.

    Examples
    --------
    >>> from catbell_qutip import ProtocolParams
    >>> try:
    ...     ProtocolParams(loss_order=1, alpha=1.0, eta_int=1.2)
    ... except ParameterError as err:
    ...     print(err.field, "|", err)
    eta_int | eta_int = 1.2 is outside the allowed range [0.0, 1.0]
    """

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        #: the parameter's name (``"eta_int"``), or None
        self.field = field


class MemoryLimitError(ValueError):
    """A run whose estimated memory exceeds the limit (:func:`memory_limit_bytes`).

    Parameters
    ----------
    message : str
        The one-line error, with the estimate, the limit and what to do.
    estimate_bytes, limit_bytes : float
        The run's estimated peak memory and the limit, in bytes (attributes of the same
        names).
    """

    def __init__(self, message: str, estimate_bytes: float, limit_bytes: float):
        super().__init__(message)
        self.estimate_bytes = float(estimate_bytes)
        self.limit_bytes = float(limit_bytes)


class SourceError(ValueError):
    """A bad value read from a file (a preset, a ``--config`` file, a sweep spec).

    The message names the file and the key (``config file 'c.toml': loss_order ...``):
    the value was never a command-line flag, so commands show the message as it is.
    """


class PrecisionError(ValueError):
    """A point where rounding has overtaken the result: refused rather than reported.

    Raised where a heralded state is not a density matrix to the stated tolerance
    (:func:`catbell_qutip.result.check_heralded_state`) or P is below an engine's
    resolution floor; the message names the floor or tolerance and what to do.
    """


class NoHeraldWarning(RuntimeWarning):
    """Some points have P = 0: no attempt heralds, so F, S and Q are NaN (undefined) there.

    A legitimate result (no light, total loss), not an error: callers that expect it (scans
    over small amplitudes) silence it by class,
    ``warnings.filterwarnings("ignore", category=NoHeraldWarning)``, not by its text.

    Parameters
    ----------
    *args : str
        The message (how many points have P = 0).

    Examples
    --------
    Without light (alpha = 0) nothing heralds:

    >>> import warnings, catbell_qutip as cb
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     out = cb.evaluate(1, alpha=0.0)
    >>> float(out["P"]), [w.category.__name__ for w in caught]
    (0.0, ['NoHeraldWarning'])
    """


class UnreachableRateWarning(RuntimeWarning):
    """Some points of a sweep cannot reach its ``target_rate_hz``: every output is NaN there.

    Parameters
    ----------
    *args : str
        The message (how many points, and the target rate in Hz).

    Examples
    --------
    Silence it by class, like any warning:

    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("ignore", UnreachableRateWarning)
    ...     warnings.warn("2 point(s) cannot reach target_rate_hz", UnreachableRateWarning)
    >>> caught, issubclass(UnreachableRateWarning, RuntimeWarning)
    ([], True)
    """


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


def check_memory(estimate_bytes: float, what, way_out) -> None:
    """Raise :class:`MemoryLimitError` before any work if ``estimate_bytes`` is too much.

    ``what`` names the run ("the Fock engine at cutoff 5000"), ``way_out`` says what to do
    in the caller's own terms (a CLI flag in the CLI, an argument in the API). The message
    names the estimate, the limit and how to raise the limit. Either may be a callable
    returning the text, built only when the check fails (a single point's hot path calls
    this on every run).
    """
    limit = memory_limit_bytes()
    if estimate_bytes > limit:
        what = what() if callable(what) else what
        way_out = way_out() if callable(way_out) else way_out
        raise MemoryLimitError(
            f"{what} needs about {estimate_bytes / 2 ** 30:.3g} GiB of memory, more than the "
            f"limit of {limit / 2 ** 30:.3g} GiB (set {MEMORY_LIMIT_ENV} to change it); "
            f"{way_out}",
            estimate_bytes, limit)


#: environment variable that sets the longest run a command starts, in hours
TIME_LIMIT_ENV = "CATBELL_MAX_HOURS"


class TimeLimitError(ValueError):
    """A run whose estimated duration exceeds the limit (:func:`time_limit_seconds`)."""

    def __init__(self, message: str, estimate_seconds: float, limit_seconds: float):
        super().__init__(message)
        self.estimate_seconds = float(estimate_seconds)
        self.limit_seconds = float(limit_seconds)


def time_limit_seconds(default_hours: float = 1.0) -> float:
    """Longest run (by its estimate) a command starts, in seconds.

    ``CATBELL_MAX_HOURS`` (hours) if set, else ``default_hours``: 1 h for the commands
    that keep their results in memory, more for resumable sweeps.
    """
    import os

    env = os.environ.get(TIME_LIMIT_ENV)
    if env:
        try:
            hours = float(env)
        except ValueError:
            raise ValueError(f"{TIME_LIMIT_ENV} = {env!r} is not a number of hours") from None
        if not hours > 0:
            raise ValueError(f"{TIME_LIMIT_ENV} = {env!r} must be > 0 hours")
        return hours * 3600.0
    return float(default_hours) * 3600.0


def format_duration(seconds: float) -> str:
    """A duration for messages: "40 s", "12 min", "1 h", "3.5 h", "2.1e+04 h"."""
    s = float(seconds)
    if s < 120:
        return f"{s:.2g} s"
    if s < 3600:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.2g} h"


def check_time(estimate_seconds: float, what: str, way_out: str, *,
               default_hours: float = 1.0) -> None:
    """Raise :class:`TimeLimitError` before any work if a run's estimated duration
    exceeds :func:`time_limit_seconds` (the same rule as :func:`check_memory`: the
    estimate, the limit, how to change it and ``way_out`` in the caller's terms)."""
    limit = time_limit_seconds(default_hours)
    if not estimate_seconds <= limit:
        raise TimeLimitError(
            f"{what} would take about {format_duration(estimate_seconds)} (an estimate), "
            f"more than the limit of {format_duration(limit)} (set {TIME_LIMIT_ENV} to "
            f"change it); {way_out}", estimate_seconds, limit)


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


def check_loss_orders(loss_orders, name: str = "loss_orders") -> list[int]:
    """A list of distinct valid loss orders l = 2^m - 1 (at least one), in the given order.

    Parameters
    ----------
    loss_orders : int or sequence of int
        The loss orders (dimensionless).
    name : str, optional
        The argument's name in messages (default ``"loss_orders"``).

    Returns
    -------
    list of int

    Raises
    ------
    ParameterError
        For an empty list, a non-integer, a value not of the form 2^m - 1, or a repeat.

    Examples
    --------
    >>> check_loss_orders([3, 0])
    [3, 0]
    >>> try:
    ...     check_loss_orders([1, 1])
    ... except ParameterError as exc:
    ...     print(exc)
    loss_orders lists a code twice; give each l once
    """
    orders = [check_int(v, name) for v in np.atleast_1d(loss_orders).tolist()]
    if not orders:
        raise ParameterError(f"{name} must hold at least one loss order", name)
    for l in orders:
        try:
            check_loss_order(l)
        except ParameterError:
            raise ParameterError(f"{name} {l}: a loss order is of the form 2^m - 1 "
                                 "(0, 1, 3, 7, ...)", name) from None
    if len(set(orders)) != len(orders):
        raise ParameterError(f"{name} lists a code twice; give each l once", name)
    return orders


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
    if isinstance(value, (bool, np.bool_)):
        raise ParameterError(f"{name} must be a real number, got the boolean {value!r}", name)
    try:
        given = np.asarray(value)
    except ValueError:  # ragged nesting, e.g. [[1, 2], [3]]
        raise ParameterError(f"{name} must be a real number or a rectangular array of "
                             f"them, got the ragged {value!r}", name) from None
    if given.dtype == bool:
        raise ParameterError(f"{name} must be a real number, got the boolean {value!r}", name)
    if given.dtype.kind in "USV" or (given.dtype.kind == "O" and any(
            isinstance(v, (str, bytes)) for v in given.flat)):
        # a numeric string ('1.2') is not parsed: a typo or a wrong column must not pass
        raise ParameterError(f"{name} must be a real number, got the string {value!r}; "
                             "give numbers, without quotes", name)
    if given.dtype.kind == "O" and any(v is None for v in given.flat):
        raise ParameterError(f"{name} must be a real number, got None in {value!r}", name)
    if given.size == 0:
        raise ParameterError(f"{name} is empty: give a number or a non-empty array", name)
    try:
        arr = np.asarray(given, dtype=float)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a real number, got {value!r}", name) from None
    lo = "(" if low_open else "["
    hi = ")" if high_open or (high is None and not allow_inf) else "]"
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


def check_count(value, name: str, *, low: int = 1, high: float | None = None,
                what: str = "a count") -> int:
    """Validate a whole number in [``low``, ``high``] given as an int or an integral float
    (``1.5e6``).

    Refused, with a message naming ``name``: booleans, non-numbers, NaN, infinities,
    fractions (``1.5``) and values below ``low`` or above ``high`` (None: no upper bound);
    floats above 2^53, which are not exact integers any more, are accepted as the integer
    they round to.

    Examples
    --------
    >>> check_count(1.5e6, "rounds")
    1500000
    >>> try:
    ...     check_count(2e18, "rounds", high=1e18)
    ... except ParameterError as exc:
    ...     print(exc.field, "|", exc)
    rounds | rounds = 2e+18 is outside the allowed range [1, 1e+18]
    """
    if isinstance(value, (bool, np.bool_)):
        raise ParameterError(f"{name} must be {what}, got the boolean {value!r}", name)
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be {what}, got {value!r}", name) from None
    if not math.isfinite(v):
        raise ParameterError(f"{name} = {v:g} must be a finite whole number >= {low}", name)
    if v != math.floor(v):
        raise ParameterError(f"{name} = {v!r} is not a whole number: give {what} as an "
                             "integer, e.g. 1500 or 1.5e3", name)
    if v < low or (high is not None and v > high):
        hi = "inf)" if high is None else f"{high:g}]"
        raise ParameterError(f"{name} = {v:g} is outside the allowed range [{low}, {hi}",
                             name)
    return int(v)


def check_rate_hz(value, name: str = "rate_hz", *, attempt_time_s=None,
                  where: str = "") -> float:
    """Validate a rate in Hz (an entanglement-generation or delivery rate): a finite real
    number > 0; return it as a float, or as an ndarray for an array.

    The one check of every function that takes a rate (``rate_hz`` of
    :func:`catbell_qutip.rates.alpha_for_rate`, the thresholds, the advantage map, the
    repeater; ``target_rate_hz`` of a sweep). Given ``attempt_time_s``, a rate no amplitude
    can reach is refused too, before any work: one attempt per attempt time T and a
    success probability P <= 1 give at most 1 / T, so a rate above 1 / min(T) is
    unattainable everywhere.

    Parameters
    ----------
    value : float or array_like
        The rate, in Hz.
    name : str, optional
        The argument's name in messages and in the error's ``field`` (default
        ``"rate_hz"``).
    attempt_time_s : float or array_like, optional
        Attempt times T [s] of the points the rate is asked of (> 0); the shortest bounds
        every rate by 1 / T.
    where : str, optional
        Which attempt that shortest T belongs to, for the message (", the shortest link
        of the scan: 1.25 km").

    Returns
    -------
    float or ndarray
        The rate in Hz.

    Raises
    ------
    ParameterError
        If a value is not a number, not finite or not > 0.

    Examples
    --------
    >>> check_rate_hz(3000)
    3000.0
    >>> try:
    ...     check_rate_hz(-1.0)
    ... except ParameterError as exc:
    ...     print(exc.field, "|", exc)
    rate_hz | rate_hz = -1 Hz is outside the allowed range (0.0, inf) Hz
    >>> try:
    ...     check_rate_hz(1e12, attempt_time_s=2.5e-5)
    ... except ParameterError as exc:
    ...     print(exc)  # doctest: +NORMALIZE_WHITESPACE
    rate_hz = 1e+12 Hz is above 1 / T = 40000 Hz, which no amplitude reaches (one attempt
    per attempt time T = max(L / c_f, t0) = 2.5e-05 s, success probability P <= 1); give
    rate_hz <= 40000
    """
    rate = check_real(value, name, low=0.0, low_open=True, unit="Hz")
    if attempt_time_s is not None:
        T = float(np.min(attempt_time_s))
        top = float(np.max(rate))
        if T > 0 and top * T > 1.0:
            raise ParameterError(
                f"{name} = {top:g} Hz is above 1 / T = {1.0 / T:.6g} Hz, which no amplitude "
                f"reaches (one attempt per attempt time T = max(L / c_f, t0) = {T:.6g} s"
                f"{where}, success probability P <= 1); give {name} <= {1.0 / T:.6g}", name)
    return rate


def check_int(value, name: str, *, low: float | None = None, high: float | None = None,
              what: str = "") -> int:
    """Validate an integer (a Python or NumPy integer: a float or string is refused,
    booleans too) in [low, high]; return it as int. ``what`` adds why the range is what
    it is."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ParameterError(f"{name} must be an integer, got {value!r}", name)
    v = int(value)
    if (low is not None and v < low) or (high is not None and v > high):
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf)" if high is None else f"{high:g}]"
        raise ParameterError(f"{name} = {v} is outside the allowed range [{lo}, {hi}"
                             + (f" ({what})" if what else ""), name)
    return v


def check_choice(value, name: str, choices) -> str:
    """Validate a string option against its allowed values."""
    if not isinstance(value, str) or value not in choices:
        raise ParameterError(f"{name} must be one of {sorted(choices)}, got {value!r}", name)
    return value


def check_out_dir(path, flag: str = "--out", *, kind: str = "folder"):
    """Refuse, before any work, an output location that cannot take the results; return it
    as a :class:`pathlib.Path` (not created).

    Refused: an empty path (it would write into the current folder), an existing
    non-folder, a path below an existing file (its parents cannot be created), and a
    location this process cannot write. Writability is tested by creating and removing a
    probe file in the nearest existing folder (``os.access`` says yes to root everywhere,
    even in /proc), so a refused location is left as it was. ``flag`` names the option in
    the caller's terms (``--out``), ``kind`` what is written there ("folder", "sweep
    store"). The message is one line saying what is wrong and what to do.
    """
    import os
    import tempfile
    from pathlib import Path

    text = os.fspath(path) if path is not None else ""
    if not str(text).strip():
        raise ParameterError(f"{flag} is empty: give the {kind} to write, e.g. {flag} results",
                             flag)
    p = Path(text)
    where = f"{flag} {str(p)!r}"
    if p.exists() and not p.is_dir():
        raise ParameterError(f"{where} is an existing file, not a {kind}; choose another path",
                             flag)
    d = p
    while not d.exists() and d != d.parent:
        d = d.parent
    if not d.is_dir():
        raise ParameterError(f"{where}: {str(d)!r} is a file, so the {kind} cannot be "
                             "created there; choose another path", flag)
    why = None
    if not os.access(d, os.W_OK | os.X_OK):
        why = "read-only location or no permission"
    else:
        try:
            fd, probe = tempfile.mkstemp(prefix=".catbell-write-test-", dir=d)
        except OSError as exc:
            import errno

            why = ("read-only file system" if exc.errno == errno.EROFS else
                   "no permission" if exc.errno in (errno.EACCES, errno.EPERM) else
                   "no space left" if exc.errno == errno.ENOSPC else
                   "a test file could not be created there")
        else:
            os.close(fd)
            os.unlink(probe)
    if why is not None:
        raise ParameterError(f"{where}: {str(d)!r} is not writable ({why}), so the {kind} "
                             "cannot be created there; choose a writable location", flag)
    return p
