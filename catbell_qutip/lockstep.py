"""Many independent solves advancing together: one batched evaluation per step.

A *task* is a generator that yields a list of requests and receives the list of their
results (same order); its return value is the task's result. :func:`run` drives many
tasks at once: each round it collects every pending request of every unfinished task and
hands them to one ``evaluate`` function, which may compute them in a single vectorised
call (:mod:`catbell_qutip.rates` groups them by what cannot be an array). Tasks nest with
``yield from``; :func:`gather` runs several sub-tasks side by side inside one task.

:func:`brent` is Brent's root finder written as such a task: an exact transcription of
SciPy's ``brentq`` (scipy/optimize/Zeros/brentq.c, with the NaN check of its Python
wrapper), so the same f values give the same iterates and the same root, bit for bit.
"""

from __future__ import annotations

import math

__all__ = ["brent", "gather", "run", "run_one"]

#: smallest rtol :func:`scipy.optimize.brentq` accepts (4 machine epsilons)
_RTOL_MIN = 4 * 2.220446049250313e-16


def brent(f, a: float, b: float, *, xtol: float = 2e-12, rtol: float = _RTOL_MIN,
          maxiter: int = 100):
    """Root of f in [a, b] by Brent's method, as a task (``root = yield from brent(...)``).

    Parameters
    ----------
    f : callable
        ``f(x)`` returns a task (a generator) whose return value is f at x (dimensionless
        float); it may yield requests (the evaluation is then batched by :func:`run`).
    a, b : float
        The bracket; f(a) and f(b) must have different signs (units of x).
    xtol, rtol : float
        Absolute and relative tolerance of the root, as :func:`scipy.optimize.brentq`.
    maxiter : int
        Maximum number of iterations (default 100, as SciPy's).

    Returns
    -------
    float
        The root: the same number, from the same sequence of x values, as
        ``scipy.optimize.brentq(f, a, b, xtol=xtol, rtol=rtol, maxiter=maxiter)``.

    Raises
    ------
    ValueError
        If f(a) and f(b) have the same sign, f returns NaN, or a tolerance is invalid
        (SciPy's messages).
    RuntimeError
        If it does not converge in ``maxiter`` iterations.

    Examples
    --------
    >>> def f(x):
    ...     return x * x - 2.0
    ...     yield  # a task: here with nothing to request
    >>> run_one(brent(f, 0.0, 2.0)) == __import__("scipy").optimize.brentq(
    ...     lambda x: x * x - 2.0, 0.0, 2.0)
    True
    """
    if xtol <= 0:
        raise ValueError(f"xtol too small ({xtol:g} <= 0)")
    if rtol < _RTOL_MIN:
        raise ValueError(f"rtol too small ({rtol:g} < {_RTOL_MIN:g})")

    def value(x):
        fx = yield from f(x)
        fx = float(fx)
        if math.isnan(fx):
            raise ValueError(f"The function value at x={x} is NaN; solver cannot continue.")
        return fx

    xpre, xcur = float(a), float(b)
    xblk = fblk = spre = scur = 0.0
    fpre = yield from value(xpre)
    fcur = yield from value(xcur)
    if fpre == 0:
        return xpre
    if fcur == 0:
        return xcur
    if _signbit(fpre) == _signbit(fcur):
        raise ValueError("f(a) and f(b) must have different signs")
    for _ in range(int(maxiter)):
        if fpre != 0 and fcur != 0 and _signbit(fpre) != _signbit(fcur):
            xblk, fblk = xpre, fpre
            spre = scur = xcur - xpre
        if abs(fblk) < abs(fcur):
            xpre, xcur, xblk = xcur, xblk, xcur
            fpre, fcur, fblk = fcur, fblk, fcur
        delta = (xtol + rtol * abs(xcur)) / 2
        sbis = (xblk - xcur) / 2
        if fcur == 0 or abs(sbis) < delta:
            return xcur
        if abs(spre) > delta and abs(fcur) < abs(fpre):
            if xpre == xblk:  # interpolate
                stry = -fcur * (xcur - xpre) / (fcur - fpre)
            else:  # extrapolate (inverse quadratic)
                dpre = (fpre - fcur) / (xpre - xcur)
                dblk = (fblk - fcur) / (xblk - xcur)
                stry = -fcur * (fblk * dblk - fpre * dpre) / (dblk * dpre * (fblk - fpre))
            bound = 3 * abs(sbis) - delta
            if 2 * abs(stry) < (abs(spre) if abs(spre) < bound else bound):
                spre, scur = scur, stry  # good short step
            else:
                spre = scur = sbis  # bisect
        else:
            spre = scur = sbis  # bisect
        xpre, fpre = xcur, fcur
        if abs(scur) > delta:
            xcur += scur
        else:
            xcur += delta if sbis > 0 else -delta
        fcur = yield from value(xcur)
    raise RuntimeError(f"Failed to converge after {int(maxiter)} iterations, value is {xcur}")


def _signbit(x: float) -> bool:
    """C's signbit (true for -0.0 too): SciPy compares signs, not the product, which
    underflows for tiny f values."""
    return math.copysign(1.0, x) < 0


def gather(*tasks):
    """Run sub-tasks side by side inside one task (``a, b = yield from gather(ta, tb)``).

    Parameters
    ----------
    *tasks : generator
        Tasks (see the module docstring).

    Returns
    -------
    list
        Their return values, in order. Each round yields the pending requests of every
        unfinished sub-task together.

    Examples
    --------
    >>> def ask(x):
    ...     (y,) = yield [x]
    ...     return y
    >>> run_one(gather(ask(1), ask(2)), lambda reqs: [10 * r for r in reqs])
    [10, 20]
    """
    out = [None] * len(tasks)
    pending = {}
    for i, t in enumerate(tasks):
        _advance(t, None, i, pending, out)
    while pending:
        order = list(pending)
        reqs = [r for i in order for r in pending[i][1]]
        res = yield reqs
        start = 0
        for i in order:
            t, asked = pending.pop(i)
            _advance(t, res[start:start + len(asked)], i, pending, out)
            start += len(asked)
    return out


def _advance(task, value, key, pending, out):
    """Send ``value`` to ``task``; record its next requests in ``pending`` or its result."""
    try:
        reqs = task.send(value)
    except StopIteration as stop:
        out[key] = stop.value
        return
    pending[key] = (task, list(reqs))


def run(tasks, evaluate):
    """Drive ``tasks`` to completion, every round evaluating all their requests at once.

    Parameters
    ----------
    tasks : sequence of generator
        Independent tasks.
    evaluate : callable
        ``evaluate(requests)`` returns the list of results of a list of requests.

    Returns
    -------
    list
        The tasks' return values, in order.

    Raises
    ------
    Exception
        The first exception a task raises (the other tasks are closed).

    Examples
    --------
    Two root searches of different lengths; each round is one call of ``evaluate``:

    >>> def f(c):
    ...     def at(x):
    ...         (fx,) = yield [(c, x)]
    ...         return fx
    ...     return at
    >>> calls = []
    >>> def ev(reqs):
    ...     calls.append(len(reqs))
    ...     return [x * x - c for c, x in reqs]
    >>> roots = run([brent(f(2.0), 0.0, 2.0), brent(f(3.0), 0.0, 4.0)], ev)
    >>> [round(r, 9) for r in roots], calls[0]
    ([1.414213562, 1.732050808], 2)
    """
    tasks = list(tasks)
    try:
        return run_one(gather(*tasks), evaluate)
    finally:
        for t in tasks:
            t.close()


def run_one(task, evaluate=None):
    """Drive one task to completion; ``evaluate(requests)`` answers its requests.

    Parameters
    ----------
    task : generator
        A task (see the module docstring).
    evaluate : callable or None
        As in :func:`run`; None for a task that requests nothing.

    Returns
    -------
    object
        The task's return value.

    Examples
    --------
    >>> def ask(x):
    ...     (y,) = yield [x]
    ...     return y + 1
    >>> run_one(ask(1), lambda reqs: [2 * r for r in reqs])
    3
    """
    try:
        reqs = task.send(None)
        while True:
            reqs = task.send(evaluate(list(reqs)))
    except StopIteration as stop:
        return stop.value
