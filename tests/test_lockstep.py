"""The lockstep driver (catbell_qutip/lockstep.py): Brent's method as a task gives
scipy.optimize.brentq's root from the same evaluation sequence; many tasks, nested or of
different lengths, advance together; and the rate solves batched through it give bit for
bit what each gives alone (tests of the batching in rates.py and thresholds.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq

from catbell_qutip.lockstep import brent, gather, run, run_one

FUNCTIONS = [
    (lambda x: x * x - 2.0, 0.0, 2.0, {}),
    (lambda x: math.exp(x) - 3.0, -1.0, 4.0, {"xtol": 1e-14}),
    (lambda x: math.cos(x) - x, 0.0, 1.0, {"rtol": 1e-13, "xtol": 1e-300}),
    (lambda x: (x - 0.3) ** 3, 0.0, 1.0, {}),  # a triple root: many bisections
    (lambda x: math.atan(50 * (x - 0.123)), -3.0, 5.0, {"xtol": 1e-12}),
    (lambda x: x - 0.25, 0.25, 1.0, {}),  # f(a) = 0
    (lambda x: 1e-200 * (x - 0.7), 0.0, 1.0, {}),  # tiny values
]


def _recorded(fn):
    seen = []

    def f(x):
        seen.append(x)
        return fn(x)
    return f, seen


def _task_f(fn, seen):
    def f(x):
        (fx,) = yield [x]
        seen.append(x)
        return fx
    return f


def _answer(fn):
    return lambda reqs: [fn(x) for x in reqs]


@pytest.mark.parametrize("case", range(len(FUNCTIONS)))
def test_brent_is_scipy_brentq(case):
    """Same root and the same x values asked for, in order (exact equality)."""
    fn, a, b, kw = FUNCTIONS[case]
    f, ref_seen = _recorded(fn)
    ref = brentq(f, a, b, **kw)
    seen = []
    got = run_one(brent(_task_f(fn, seen), a, b, **kw), _answer(fn))
    assert got == ref and seen == ref_seen


def test_brent_errors_as_scipy():
    fn = lambda x: x * x + 1.0  # noqa: E731
    with pytest.raises(ValueError, match="different signs"):
        brentq(fn, 0.0, 1.0)
    with pytest.raises(ValueError, match="different signs"):
        run_one(brent(_task_f(fn, []), 0.0, 1.0), _answer(fn))
    nan = lambda x: math.nan if x > 0.5 else x - 0.7  # noqa: E731
    for solve in (lambda: brentq(nan, 0.0, 1.0),
                  lambda: run_one(brent(_task_f(nan, []), 0.0, 1.0), _answer(nan))):
        with pytest.raises(ValueError, match="is NaN"):
            solve()
    cube = lambda x: (x - 0.3) ** 3  # noqa: E731
    with pytest.raises(RuntimeError, match="Failed to converge after 3 iterations"):
        brentq(cube, 0.0, 1.0, maxiter=3)
    with pytest.raises(RuntimeError, match="Failed to converge after 3 iterations"):
        run_one(brent(_task_f(cube, []), 0.0, 1.0, maxiter=3), _answer(cube))
    with pytest.raises(ValueError, match="rtol too small"):
        run_one(brent(_task_f(cube, []), 0.0, 1.0, rtol=1e-17), _answer(cube))


def test_nested_solves_match_nested_brentq():
    """An outer solve whose f is an inner solve (c with sqrt(c) = 1.5, sqrt by Brent):
    the same root and the same inner evaluations as nested scipy calls."""
    ref_seen = []

    def inner_ref(c):
        f, seen = _recorded(lambda x: x * x - c)
        r = brentq(f, 0.0, 10.0)
        ref_seen.extend(seen)
        return r - 1.5
    ref = brentq(inner_ref, 1.0, 5.0)

    seen = []

    def inner(c):
        def f(x):
            (fx,) = yield [(c, x)]
            seen.append(x)
            return fx
        r = yield from brent(f, 0.0, 10.0)
        return r - 1.5
    got = run_one(brent(inner, 1.0, 5.0), lambda reqs: [x * x - c for c, x in reqs])
    assert got == ref and seen == ref_seen


def test_many_solves_of_different_lengths_advance_together():
    """Each result is scipy's; every round evaluates all pending requests in one call, so
    the number of calls is the longest solve's, not the sum."""
    cs = [2.0, 3.0, 10.0, 0.5, 7.0]
    lengths, refs = [], []
    for c in cs:
        f, seen = _recorded(lambda x, c=c: x ** 3 - c)
        refs.append(brentq(f, 0.0, 4.0))
        lengths.append(len(seen))
    assert len(set(lengths)) > 1  # the solves really differ in length

    def f_of(c):
        def f(x):
            (fx,) = yield [(c, x)]
            return fx
        return f
    calls = []

    def ev(reqs):
        calls.append(len(reqs))
        return [x ** 3 - c for c, x in reqs]
    got = run([brent(f_of(c), 0.0, 4.0) for c in cs], ev)
    assert got == refs
    assert len(calls) == max(lengths) and sum(calls) == sum(lengths)


def test_a_solve_that_raises_stops_the_run():
    closed = []

    def ok():
        try:
            while True:
                yield [1.0]
        finally:
            closed.append(True)

    def bad():
        yield [1.0]
        raise ArithmeticError("boom")
    with pytest.raises(ArithmeticError, match="boom"):
        run([ok(), bad()], lambda reqs: reqs)
    assert closed == [True]


def test_gather_returns_in_order():
    def ask(x, n):
        for _ in range(n):
            (x,) = yield [x]
        return x
    assert run_one(gather(ask(1, 3), ask(5, 1), ask(2, 0)),
                   lambda reqs: [2 * r for r in reqs]) == [8, 10, 2]


# -- the rate solves in lockstep (rates.solve_task / solve_many, thresholds.thresholds) ---

BASE = {"encoder": "ideal", "eta_int_placement": "lumped", "length_km": 5.0}


@pytest.mark.parametrize("l", [0, 1, 3])
def test_batched_P_is_each_point_alone_bit_for_bit(l):
    """What rates._BATCHED lets vary in one evaluation: P of every point of a batch is
    the P that point gets alone, exactly (else a lockstep solve would leave the scalar
    solve's path). Amplitudes over the whole scan range, efficiencies over (0, 1]."""
    from catbell_qutip.rates import _BATCHED, _evaluate_P

    rng = np.random.default_rng(l)
    for usd, names in _BATCHED.items():
        for placement in ("lumped", "after"):
            fields = dict(BASE, usd=usd, eta_int_placement=placement)
            for name in names:
                alpha, x = rng.uniform(0.01, 6.0, 8), rng.uniform(0.02, 1.0, 8)
                batch = _evaluate_P(l, "coherent", alpha, dict(fields, **{name: x}))
                alone = [float(_evaluate_P(l, "coherent", float(a),
                                           dict(fields, **{name: float(v)})))
                         for a, v in zip(alpha, x, strict=True)]
                assert np.array_equal(batch, alone), (usd, placement, name)


def test_solve_tasks_in_lockstep_equal_solve_at_rate():
    """Solves of several codes and efficiencies at once: each result is solve_at_rate's
    at that point, bit for bit, and the run makes fewer evaluate calls than the solves
    would alone."""
    from catbell_qutip import rates

    points = [(l, x) for l in (0, 1) for x in (0.6, 0.8, 0.95)]
    calls = []
    real = rates._evaluate_requests

    def counting(reqs):
        calls.append(len(reqs))
        return real(reqs)
    tasks = [rates.solve_task(l, 3000.0, n_scan=24, eta_c=x, **BASE) for l, x in points]
    got = rates.run(tasks, counting)
    for (l, x), r in zip(points, got, strict=True):
        ref = rates.solve_at_rate(l, 3000.0, n_scan=24, eta_c=x, **BASE)
        for k in ("alpha", "P", "F", "S", "Q"):
            assert r[k] == ref[k], (l, x, k)
    assert len(calls) < sum(calls)


def test_thresholds_in_lockstep_equal_the_scalar_brentq_route():
    """thresholds() against the route it replaces, written out here: the gap scan from
    two solve_at_rate calls per run (thresholds() shares S_0's between runs that differ
    only in l), g(x) from two more, refined by scipy.optimize.brentq. Gaps and crossings
    must be identical (a different iterate path would move them within the 1e-5
    tolerance)."""
    from catbell_qutip.rates import solve_at_rate
    from catbell_qutip.thresholds import _fields, thresholds

    fixed = {"encoder": "ideal", "eta_int_placement": "lumped"}
    jobs = [("eta_int", 1, {}), ("eta_c", 3, {}), ("eta_int", 3, {}),  # shares S_0's scan
            ("eta_int", 3, {"encoder": "explicit"})]
    got = thresholds([dict(parameter=p, loss_order=l, **e) for p, l, e in jobs], n_grid=5,
                     n_scan=24, **fixed)
    for (p, l, extra), th in zip(jobs, got, strict=True):
        base = dict(fixed, **extra, length_km=5.0)

        def g(x, p=p, l=l, base=base):
            S = [solve_at_rate(c, 3000.0, n_scan=24, **_fields(p, x, base))["S"]
                 for c in (l, 0)]
            return float(S[0] - S[1])
        x, gap = th.grid, th.gap
        S = [solve_at_rate(c, 3000.0, n_scan=24, **_fields(p, x, base))["S"] for c in (l, 0)]
        np.testing.assert_array_equal(gap, S[0] - S[1])
        ref = [brentq(g, x[i - 1], x[i], xtol=1e-5, rtol=1e-12)
               for i in range(x.size - 1, 0, -1)
               if np.isfinite(gap[i]) and np.isfinite(gap[i - 1])
               and (gap[i] > 0) != (gap[i - 1] > 0)]
        assert ref and list(th.crossings) == ref, (p, l, extra)


def test_only_coherent_P_requests_are_batched():
    """F, S, Q and the Fock engine are not batch-invariant: such requests stay alone."""
    from catbell_qutip.rates import _Request

    def same_group(engine, outputs):
        a, b = (_Request(1, engine, 1.0, dict(BASE, eta_c=c), outputs) for c in (0.5, 0.6))
        return a.group() == b.group()
    assert same_group("coherent", ("P",))
    assert not same_group("coherent", None) and not same_group("fock", ("P",))
