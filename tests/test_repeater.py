"""Repeater chains (docs/repeater.md) against closed forms, brute force and Monte Carlo.

Expected values come from: the Bell-state algebra written out here with our own Pauli
matrices; a brute-force four-qubit computation with QuTiP (tensor products, projectors,
partial traces) that shares no code with :mod:`catbell_qutip.repeater`; series summed
term by term; seeded Monte Carlo of the per-atom dephasing; and the single-link result of
:func:`catbell_qutip.simulate`.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import qutip
from conftest import tol

import catbell_qutip as cb
from catbell_qutip import repeater as rp
from catbell_qutip.bell import bell_fidelity
from catbell_qutip.cli import main
from catbell_qutip.keyrate import peak_key_rate
from catbell_qutip.repeater.waiting import _markov_factors

I2 = np.eye(2)
X = np.array([[0, 1], [1, 0]], dtype=complex)
Y = np.array([[0, -1j], [1j, 0]])
Z = np.diag([1.0, -1.0]).astype(complex)
PAULIS = (I2, X, Y, Z)
PHI_PLUS = np.array([1, 0, 0, 1]) / np.sqrt(2)
PHI_MINUS = np.array([1, 0, 0, -1]) / np.sqrt(2)


def dm(v):
    return np.outer(v, np.conj(v))


def bell_mixture(F):
    return F * dm(PHI_PLUS) + (1 - F) * dm(PHI_MINUS)


def random_state(rng, rank=4):
    G = rng.normal(size=(4, rank)) + 1j * rng.normal(size=(4, rank))
    r = G @ G.conj().T
    return r / np.trace(r)


def brute_force_swap(r1, r2, depol=0.0):
    """Four qubits (A1, B1, A2, B2) in QuTiP: depolarise (B1, A2), project on each Bell
    state of (B1, A2), correct B2 by the Pauli of that outcome, trace out (B1, A2)."""
    dims = [[2, 2, 2, 2], [2, 2, 2, 2]]
    full = qutip.Qobj(np.kron(r1, r2), dims=dims)
    if depol:
        marg = full.ptrace([0, 3]).full()  # (A1, B2)
        # 1/4 on (B1, A2) (x) marg on (A1, B2), reordered to A1 B1 A2 B2
        mixed = np.einsum("adxw,bcyz->abcdxyzw", marg.reshape(2, 2, 2, 2),
                          np.eye(4).reshape(2, 2, 2, 2) / 4).reshape(16, 16)
        full = (1 - depol) * full + depol * qutip.Qobj(mixed, dims=dims)
    out = np.zeros((4, 4), dtype=complex)
    for s in PAULIS:
        beta = np.kron(I2, s) @ PHI_PLUS  # (1 x sigma)|phi+> on (B1, A2)
        proj = qutip.Qobj(np.kron(np.kron(I2, dm(beta)), I2), dims=dims)
        corr = qutip.Qobj(np.kron(np.eye(8), s), dims=dims)
        post = corr * proj * full * proj * corr.dag()
        out += post.ptrace([0, 3]).full()
    return out


# -- composition --------------------------------------------------------------------------
@pytest.mark.parametrize("F1,F2", [(1.0, 1.0), (0.9, 0.8), (0.6, 0.97), (0.5, 0.7), (0.3, 0.2)])
def test_bell_diagonal_links_compose_to_F1F2_plus_complement(F1, F2):
    out = rp.bell_swap(bell_mixture(F1), bell_mixture(F2))
    F = F1 * F2 + (1 - F1) * (1 - F2)
    np.testing.assert_allclose(out, bell_mixture(F), atol=1e-15)


def test_pure_bell_states_give_the_right_bell_state_for_every_outcome():
    """(1 x s_i)|phi+> and (1 x s_j)|phi+> swap to (1 x s_j s_i)|phi+>, each of the four
    outcomes with probability 1/4 once its Pauli correction is applied."""
    for i, si in enumerate(PAULIS):
        for j, sj in enumerate(PAULIS):
            left = dm(np.kron(I2, si) @ PHI_PLUS)
            right = dm(np.kron(I2, sj) @ PHI_PLUS)
            expected = dm(np.kron(I2, sj @ si) @ PHI_PLUS)
            outs = rp.swap_outcomes(left, right)
            assert outs.shape == (4, 4, 4)
            for k in range(4):
                np.testing.assert_allclose(outs[k], expected / 4, atol=1e-15,
                                           err_msg=f"inputs {i}, {j}, outcome {k}")


def test_outcome_names_match_the_measured_bell_states():
    """Outcome k of :func:`swap_outcomes` is the Bell state its name says: with phi+ on the
    left and a state on the right whose (B1, A2) pair is forced into outcome k alone, only
    the slot k carries weight."""
    names = {"phi+": PHI_PLUS, "phi-": PHI_MINUS,
             "psi+": np.array([0, 1, 1, 0]) / np.sqrt(2),
             "psi-": np.array([0, 1, -1, 0]) / np.sqrt(2)}
    for k, (name, pauli) in enumerate(rp.BSM_OUTCOMES):
        beta = names[name]
        s = dict(zip("IXYZ", PAULIS, strict=True))[pauli]
        np.testing.assert_allclose(abs(np.vdot(beta, np.kron(I2, s) @ PHI_PLUS)), 1.0,
                                   atol=1e-15)
        # (B1, A2) in beta exactly: B1 = atom of the left link, A2 = first of the right
        left = dm(np.kron([1, 0], [1, 0]))  # |00>
        right = dm(np.kron([1, 0], [1, 0]))
        probs = np.real(np.trace(rp.swap_outcomes(left, right), axis1=-2, axis2=-1))
        # |0>_B1 |0>_A2 overlaps phi+ and phi- with 1/2 each, psi+- not at all
        assert probs[k] == pytest.approx(0.5 if name.startswith("phi") else 0.0, abs=1e-15)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_swap_of_generic_states_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    r1, r2 = random_state(rng), random_state(rng, rank=2)
    np.testing.assert_allclose(rp.bell_swap(r1, r2), brute_force_swap(r1, r2), atol=1e-14)
    np.testing.assert_allclose(rp.bell_swap(r1, r2, depol=0.3),
                               brute_force_swap(r1, r2, depol=0.3), atol=1e-14)


@pytest.mark.parametrize("p", [0.0, 0.05, 0.5, 1.0])
def test_swap_depolarising_error_closed_form(p):
    F1, F2 = 0.93, 0.81
    out = rp.bell_swap(bell_mixture(F1), bell_mixture(F2), depol=p)
    F = F1 * F2 + (1 - F1) * (1 - F2)
    np.testing.assert_allclose(out, (1 - p) * bell_mixture(F) + p * np.eye(4) / 4, atol=1e-15)
    assert bell_fidelity(out) == pytest.approx((1 - p) * F + p / 4, abs=1e-15)


def test_swap_order_does_not_matter_and_batches_broadcast():
    rng = np.random.default_rng(7)
    r = [random_state(rng) for _ in range(3)]
    left_first = rp.bell_swap(rp.bell_swap(r[0], r[1]), r[2])
    right_first = rp.bell_swap(r[0], rp.bell_swap(r[1], r[2]))
    np.testing.assert_allclose(left_first, right_first, atol=1e-15)
    np.testing.assert_allclose(rp.compose_chain(r), left_first, atol=1e-15)
    batch = rp.bell_swap(np.stack(r), r[0])
    for i in range(3):
        np.testing.assert_allclose(batch[i], rp.bell_swap(r[i], r[0]), atol=1e-15)


# -- waiting times ------------------------------------------------------------------------
def expected_max_by_series(p, n, terms=200_000):
    """E[M] = sum_{k >= 0} P(M > k) = sum_k 1 - (1 - q^k)^n, summed term by term."""
    k = np.arange(terms)
    return float(np.sum(1.0 - (1.0 - (1.0 - p) ** k) ** n))


@pytest.mark.parametrize("n", [1, 2, 3, 4, 8])
@pytest.mark.parametrize("p", [0.9, 0.3, 0.02])
def test_expected_max_of_geometrics(p, n):
    series = expected_max_by_series(p, n)
    assert rp.expected_max_geometric(p, n) == pytest.approx(series, rel=1e-12)
    assert rp.expected_attempts(p, n) == pytest.approx(series, rel=1e-12)


@pytest.mark.parametrize("n,p", [(2, 0.3), (4, 0.05), (8, 0.2)])
def test_expected_max_matches_monte_carlo(n, p):
    mc = rp.waiting_monte_carlo(p, n, 0.0, samples=100_000, seed=11)
    mean, se = mc["attempts"]
    exact = rp.expected_attempts(p, n)
    assert abs(mean - exact) < 4 * se
    assert se < 0.01 * exact  # the test can resolve a 4 % error


def expected_max_by_stable_series(p, n, terms):
    """The same series with every term 1 - (1 - q^k)^n = -expm1(n log1p(-q^k)), accurate
    for any n; ``terms`` must reach q^k < 1e-20."""
    k = np.arange(terms)
    assert (1.0 - p) ** terms < 1e-20
    with np.errstate(divide="ignore"):  # k = 0: log1p(-1) = -inf, the term is 1
        return float(np.sum(-np.expm1(n * np.log1p(-((1.0 - p) ** k)))))


@pytest.mark.parametrize("n", [48, 64, 200, 1024])
@pytest.mark.parametrize("p", [0.3, 0.05])
def test_expected_max_of_many_geometrics_is_exact(p, n):
    """Long chains (issue 23, item 12): the alternating closed form lost 3.5e-4 relative at
    n = 48 and everything from n = 64 on; both routes must equal the series to 1e-12."""
    series = expected_max_by_stable_series(p, n, terms=5000)
    assert rp.expected_max_geometric(p, n) == pytest.approx(series, rel=1e-12)
    assert rp.expected_attempts(p, n) == pytest.approx(series, rel=1e-12)


def test_expected_max_of_many_geometrics_matches_monte_carlo():
    n, p, samples = 48, 0.1, 100_000
    m = np.random.default_rng(23).geometric(p, size=(samples, n)).max(axis=1)
    se = m.std(ddof=1) / math.sqrt(samples)
    assert abs(m.mean() - rp.expected_max_geometric(p, n)) < 4 * se
    assert se < 0.002 * m.mean()  # resolves a 1 % error


def test_expected_max_of_1024_rare_geometrics_is_finite_and_exact():
    """n = 1024, p = 1e-9 (the closed form gave NaN): for small lambda = -ln(1 - p) the
    series sum_k 1 - (1 - e^(-lambda k))^n is H_n / lambda + 1/2 + O(lambda^2) by
    Euler-Maclaurin (the integral is H_n / lambda, f(0) = 1 and f'(0) = 0 for n >= 2)."""
    n, p = 1024, 1e-9
    harmonic = math.fsum(1.0 / k for k in range(1, n + 1))
    expected = harmonic / -math.log1p(-p) + 0.5
    exact = rp.expected_max_geometric(p, n)
    assert math.isfinite(exact)
    assert exact == pytest.approx(expected, rel=1e-14)
    # the chain's float recursion accumulates ~1e-11 over 1024 levels
    assert rp.expected_attempts(p, n) == pytest.approx(expected, rel=1e-10)
    assert rp.expected_max_geometric(1.0, n) == 1.0 == rp.expected_attempts(1.0, n)


def test_idle_time_distribution_of_two_links():
    p = 0.15
    d = np.arange(0, 2000)
    pmf = rp.idle_time_pmf(p, d)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-12)
    # E|N1 - N2| = 2 q / (p (2 - p)) for i.i.d. geometrics
    assert (d * pmf).sum() == pytest.approx(2 * (1 - p) / (p * (2 - p)), rel=1e-12)
    # against the convolution of two geometric laws
    k = np.arange(1, 3000)
    g = p * (1 - p) ** (k - 1)
    direct = [g @ g] + [2 * g[:-j] @ g[j:] for j in range(1, 6)]
    np.testing.assert_allclose(pmf[:6], direct, rtol=1e-12)
    rng = np.random.default_rng(5)
    N = rng.geometric(p, size=(200_000, 2))
    D = np.abs(N[:, 0] - N[:, 1])
    for j in range(4):
        f = np.mean(D == j)
        assert abs(f - pmf[j]) < 4 * math.sqrt(pmf[j] * (1 - pmf[j]) / D.size)


@pytest.mark.parametrize("p,c", [(0.3, 0.05), (0.02, 0.01), (0.7, 1.5)])
def test_two_link_idle_dephasing(p, c):
    d = np.arange(0, 20_000)
    series = np.sum(rp.idle_time_pmf(p, d) * np.exp(-c * d))
    q = 1 - p
    closed = p * (1 + q * math.exp(-c)) / ((2 - p) * (1 - q * math.exp(-c)))
    assert series == pytest.approx(closed, rel=1e-12)
    assert rp.idle_dephasing_two_links(p, c) == pytest.approx(closed, rel=1e-13)
    # E[d_A d_B] of a two-link chain: both atoms of the earlier link idle, 2 x per attempt
    assert rp.memory_factors(p, 2, c / 2)[2] == pytest.approx(closed, rel=1e-12)
    mc = rp.waiting_monte_carlo(p, 2, c / 2, samples=100_000, seed=3)
    mean, se = mc["d_AB"]
    assert abs(mean - closed) < 4 * se


def test_two_link_factors_closed_form_equal_recursion_and_markov_chain():
    p, x = np.array([0.4, 0.05, 0.9]), np.array([0.02, 0.3, 1.0])
    closed = rp.two_link_memory_factors(p, x)
    rec = rp.memory_factors(p, 2, x)
    markov = _markov_factors(p, 2, x, "parallel")
    for a, b, c in zip(closed, rec, markov, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
        np.testing.assert_allclose(a, c, rtol=1e-12)


@pytest.mark.parametrize("n", [3, 4, 8])
def test_parallel_recursion_equals_markov_chain(n):
    p, x = np.array([0.5, 0.1, 0.01]), np.array([0.01, 0.002, 1e-4])
    for a, b in zip(rp.memory_factors(p, n, x), _markov_factors(p, n, x, "parallel"),
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-11)


@pytest.mark.parametrize("strategy,n", [("parallel", 4), ("nested", 4), ("asap", 4),
                                        ("nested", 8), ("asap", 3), ("parallel", 8)])
def test_memory_factors_match_monte_carlo(strategy, n):
    p, x = 0.2, 0.03
    exact = rp.memory_factors(p, n, x, strategy=strategy)
    mc = rp.waiting_monte_carlo(p, n, x, strategy=strategy, samples=60_000, seed=17)
    for key, e in zip(("d_A", "d_B", "d_AB"), exact, strict=True):
        mean, se = mc[key]
        assert abs(mean - e) < 4 * se, (key, mean, se, e)


def test_strategies_order_and_end_atoms():
    """Swapping earlier stores fewer atoms for less time: asap >= nested >= parallel; the
    end atom A_1 waits until delivery in every strategy, so E[d_A] is the same."""
    p, x = np.array([0.3, 0.05]), np.array([0.05, 0.01])
    par, nes, asap = (rp.memory_factors(p, 8, x, strategy=s) for s in rp.STRATEGIES)
    np.testing.assert_allclose(par[0], nes[0], rtol=1e-12)
    np.testing.assert_allclose(par[0], asap[0], rtol=1e-12)
    for k in (1, 2):
        assert np.all(asap[k] > nes[k]) and np.all(nes[k] > par[k])


def test_chain_state_equals_monte_carlo_of_per_atom_dephasing():
    """Independent route: sample the attempts, dephase EVERY stored atom of every (generic,
    non-Bell-diagonal) link by its own storage time, swap, average."""
    rng = np.random.default_rng(23)
    rho = random_state(rng)
    n, p, x = 3, 0.25, 0.05
    N = rng.geometric(p, size=(40_000, n))
    M = N.max(axis=1)
    diffA = np.array([[(i >> 1) != (j >> 1) for j in range(4)] for i in range(4)])
    diffB = np.array([[(i & 1) != (j & 1) for j in range(4)] for i in range(4)])
    links = []
    for i in range(n):
        d = np.exp(-x * (M - N[:, i]))[:, None, None]  # both atoms of link i
        f = np.where(diffA, d, 1.0) * np.where(diffB, d, 1.0)
        links.append(rho[None] * f)
    samples = rp.compose_chain(links)
    mc_mean = samples.mean(axis=0)
    mc_se = samples.std(axis=0) / math.sqrt(N.shape[0])
    exact = rp.dephase_output(rp.compose_chain([rho] * n), *rp.memory_factors(p, n, x))
    # 1e-11: rounding of the 40 000-term sums behind the mean (naive along axis 0)
    assert np.all(np.abs(mc_mean - exact) < 4 * mc_se + 1e-11)
    # the memory mattered: the ideal-memory state is far outside the error bars
    assert np.max(np.abs(rp.compose_chain([rho] * n) - exact)) > 20 * mc_se.max()


# -- chains of protocol links --------------------------------------------------------------
SETTINGS = [
    dict(loss_order=0, alpha=0.6, length_km=20.0),
    dict(loss_order=1, alpha=1.1, length_km=30.0, **cb.preset("table1"), t_c_s=0.01,
         t0_s=2e-5),
    dict(loss_order=1, alpha=1.4, length_km=8.0, usd="linear", p_dark=1e-3, eta_d=0.9,
         encoder="explicit", eta_int=0.95, decoder="ml", eta_int_placement="before"),
]


@pytest.mark.parametrize("kw", SETTINGS, ids=["ideal", "table1", "linear-dark"])
def test_one_segment_reproduces_the_single_link(kw):
    kw = dict(kw)
    l, a, L = kw.pop("loss_order"), kw.pop("alpha"), kw.pop("length_km")
    r = rp.chain(l, a, L, 1, **kw)
    s = cb.simulate(l, a, length_km=L, engine="coherent", **kw)
    assert float(r["F"]) == s.F and float(r["S"]) == s.S and float(r["Q"]) == s.Q
    assert float(r["rate_hz"]) == s.R_eg and float(r["key_rate"]) == s.key_rate
    np.testing.assert_array_equal(r["rho"], s.rho_array)


def test_chain_of_protocol_links_follows_the_closed_forms():
    """l = 0 links with channel loss only are F phi+ + (1 - F) phi- (docs/model.md 5);
    two of them compose to F^2 + (1 - F)^2, and the memory multiplies the phi+/phi-
    coherence by E[d_A d_B]; the rate is 1 / (E[max N] T0)."""
    a, L, t_c = 0.5, 100.0, 0.05
    L0 = L / 2
    eta = 10 ** (-0.2 * L0 / 10)
    F = (1 + math.exp(-2 * (1 - eta) * a * a)) / 2
    P = 1 - math.exp(-2 * eta * a * a)
    r = rp.chain(0, a, L, 2, t_c_s=t_c, wait_rule="none")
    T0 = L0 * 1e3 / 2e8
    q = 1 - P
    c = 2 * T0 / t_c
    E_dd = P * (1 + q * math.exp(-c)) / ((2 - P) * (1 - q * math.exp(-c)))
    F_end = 0.5 + 0.5 * (2 * (F * F + (1 - F) ** 2) - 1) * E_dd
    assert float(r["P_link"]) == pytest.approx(P, rel=1e-12)
    assert float(r["F"]) == pytest.approx(F_end, rel=1e-12)
    assert float(r["S"]) == pytest.approx(2 * math.sqrt(1 + (2 * F_end - 1) ** 2), rel=1e-12)
    E_M = (2 / P - 1 / (1 - q * q))  # E[max] = 2 / (1 - q) - 1 / (1 - q^2)
    assert float(r["rate_hz"]) == pytest.approx(1 / (E_M * T0), rel=1e-12)
    assert float(r["Q"]) == pytest.approx(0.0, abs=1e-15)


def test_swap_success_probability_divides_the_rate_only():
    kw = dict(t_c_s=0.1)
    a = rp.chain(0, 0.4, 200.0, 4, **kw)
    b = rp.chain(0, 0.4, 200.0, 4, p_swap=0.5, **kw)
    assert float(b["rate_hz"]) == pytest.approx(float(a["rate_hz"]) * 0.5 ** 3, rel=1e-14)
    assert float(b["S"]) == float(a["S"])


def test_key_rate_is_zero_where_S_is_at_most_2():
    alpha = np.linspace(0.05, 4.0, 40)
    r = rp.chain(1, alpha[:, None], np.array([20.0, 300.0]), 4, swap_depol=0.03, t_c_s=0.02)
    assert np.any(r["S"] <= 2) and np.any(r["S"] > 2)
    assert np.all(r["key_rate"][r["S"] <= 2] == 0.0)
    assert np.all(r["rate_hz"] > 0)  # pairs are still delivered, they just carry no key
    full = rp.chain(0, 0.5, 100.0, 2, swap_depol=1.0)
    assert float(full["S"]) == pytest.approx(0.0, abs=1e-12) and float(full["key_rate"]) == 0


def test_fock_engine_links_give_the_same_chain():
    kw = dict(eta_int=0.95, t_c_s=0.02)
    a = rp.chain(1, 1.2, 20.0, 2, engine="fock", **kw)
    b = rp.chain(1, 1.2, 20.0, 2, **kw)
    for k in ("F", "S", "rate_hz", "key_rate"):
        assert float(a[k]) == pytest.approx(float(b[k]), rel=tol(1e-9))


@pytest.mark.parametrize("L", [10.0, 120.0])
def test_optimised_one_segment_is_the_single_link_peak(L):
    ds = rp.optimise(0, [L], [1], t_c_s=0.5)
    alpha, peak = peak_key_rate(0, length_km=L, t_c_s=0.5)
    assert float(ds["key_rate"][0, 0]) == pytest.approx(peak, rel=1e-9)
    assert float(ds["alpha"][0, 0]) == pytest.approx(alpha, rel=1e-3)


def test_optimise_at_fixed_delivery_rate():
    from catbell_qutip.rates import solve_at_rate

    L = np.array([40.0, 80.0])
    # one segment: the paper's fixed-rate convention, the smallest alpha reaching the rate
    one = rp.optimise(0, L, [1], objective="S", rate_hz=300.0, t_c_s=0.01)
    ref = solve_at_rate(0, 300.0, length_km=L, t_c_s=0.01)
    assert np.all(np.isfinite(ref["alpha"]))
    # both solve alpha to ~1e-7 (optimise: bisection in alpha; rates: 1e-9 in R_eg)
    np.testing.assert_allclose(one["alpha"].values[0], ref["alpha"], rtol=1e-6)
    np.testing.assert_allclose(one["S"].values[0], ref["S"], rtol=1e-6)
    # chains with memory: at least the rate, and no amplitude on a fine grid does better
    ds = rp.optimise(0, L, [2, 4], objective="S", rate_hz=20.0, t_c_s=0.2)
    grid = np.linspace(0.01, 4.0, 400)
    for i, n in enumerate(ds["segments"].values):
        r = rp.chain(0, grid[:, None], L, int(n), t_c_s=0.2)
        S_best = np.where(r["rate_hz"] >= 20.0, r["S"], -np.inf).max(axis=0)
        assert np.all(ds["rate_hz"].values[i] >= 20.0 * (1 - 1e-12))
        assert np.all(ds["S"].values[i] >= S_best - 1e-9)
    # with this memory the best amplitude is not the smallest one reaching the rate
    assert np.any(ds["rate_hz"].values > 1.5 * 20.0)


@pytest.mark.parametrize("call,fragment", [
    (lambda: rp.chain(0, 0.5, 10.0, 0), "segments = 0 is outside the allowed range"),
    (lambda: rp.chain(0, 0.5, 10.0, 3, strategy="nested"), "not a power of 2"),
    (lambda: rp.chain(0, 0.5, 10.0, 16, strategy="asap"), "use strategy='parallel'"),
    (lambda: rp.chain(0, 0.5, 10.0, 4, strategy="nested", p_swap=0.5),
     "needs strategy='parallel'"),
    (lambda: rp.scan([0, 0], [10.0], [1]), "loss_orders lists a code twice"),
    (lambda: rp.scan([0], [10.0], [2, 2]), "segments lists a number twice"),
    (lambda: rp.optimise(0, [10.0], [2], rate_hz=5.0), "rate_hz is used only with "
                                                      "objective='S'"),
    (lambda: rp.chain(0, 0.5, 10.0, 2, p_swap=0.0), "p_swap = 0 is outside"),
    (lambda: rp.chain(0, 0.5, 10.0, 2, swap_depol=1.5), "swap_depol = 1.5 is outside"),
    (lambda: rp.chain(0, 0.5, 10.0, 2, t_c_s=-1.0), "t_c_s = -1 s is outside"),
    (lambda: rp.chain(0, 0.5, 0.0, 2), "attempt time"),
    (lambda: rp.chain(0, 0.5, 10.0, 2, strategy="sometimes"), "strategy must be one of"),
    (lambda: rp.optimise(0, [10.0], [2], objective="S"), "needs rate_hz"),
])
def test_bad_arguments_raise_with_the_parameter_named(call, fragment):
    with pytest.raises(ValueError) as err:
        call()
    assert fragment in str(err.value)


# -- PLOB ----------------------------------------------------------------------------------
def bits_per_use(eta):
    """-log2(1 - eta) = sum_k eta^k / k / ln 2, summed term by term (no 1 - eta rounding)."""
    eta = np.asarray(eta, dtype=float)
    k = np.arange(1, 3000)
    return np.sum(eta[..., None] ** k / k, axis=-1) / math.log(2)


@pytest.mark.parametrize("L", [1.0, 15.0, 50.0, 200.0, 500.0])
def test_plob_is_minus_log2_of_one_minus_eta_per_use(L):
    eta = 10 ** (-0.02 * L)
    assert rp.plob_key_rate(L, 1.0) == pytest.approx(bits_per_use(eta), rel=1e-13)
    assert rp.plob_key_rate(L, 2.5e-4) == pytest.approx(bits_per_use(eta) / 2.5e-4,
                                                        rel=1e-13)
    assert rp.plob_key_rate(L, 1.0, db_per_km=0.3) == pytest.approx(
        bits_per_use(10 ** (-0.03 * L)), rel=1e-13)


def test_plob_high_loss_limit_is_eta_over_ln2():
    """-log2(1 - eta) = eta / ln 2 (1 + eta / 2 + ...): in bits, not nats."""
    for L in (300.0, 400.0, 600.0):
        eta = 10 ** (-0.02 * L)
        assert rp.plob_key_rate(L, 1.0) / (eta / math.log(2)) == pytest.approx(1.0,
                                                                                abs=2 * eta)


def test_plob_line_does_not_depend_on_the_chains_compared():
    """Issue 23, item 13: the PLOB line is the bound at one source rate for every chain;
    adding or removing chains must not move it (nor the n = 2 chain's crossing with it)."""
    L = np.array([50.0, 150.0, 250.0])
    kw = dict(n_alpha=8, t_c_s=0.5)
    few = rp.scan([0], L, [2], **kw)
    many = rp.scan([0], L, [1, 2, 8], **kw)
    assert np.array_equal(few["plob_key_rate"].values, many["plob_key_rate"].values)
    assert few.attrs["plob_clock"] == many.attrs["plob_clock"]
    assert (rp.scan_summary(few)["l0"]["n2"]["beats_plob_from_km"]
            == rp.scan_summary(many)["l0"]["n2"]["beats_plob_from_km"])
    # default: one use per attempt of a single link over L, here L / c_f (t0 = 0)
    eta = 10 ** (-0.02 * L)
    np.testing.assert_allclose(many["plob_key_rate"].values,
                               bits_per_use(eta) / (L * 1e3 / 2e8), rtol=1e-13)
    # a stated source rate; the round-trip clock of a slower t0
    fixed = rp.scan([0], L, [2], plob_rate_hz=1e6, **kw)
    np.testing.assert_allclose(fixed["plob_key_rate"].values, bits_per_use(eta) * 1e6,
                               rtol=1e-13)
    assert fixed.attrs["plob_rate_hz"] == 1e6 and "1e+06 channel uses/s" in fixed.attrs[
        "plob_clock"]
    rt = rp.scan([0], L, [2], wait_rule="round-trip", t0_s=1e-3, **kw)
    np.testing.assert_allclose(rt["plob_key_rate"].values,
                               bits_per_use(eta) / np.maximum(2 * L * 1e3 / 2e8, 1e-3),
                               rtol=1e-13)


# -- package layout ------------------------------------------------------------------------
def test_package_reexports_every_public_name_of_its_modules_once():
    """catbell_qutip.repeater's __all__ is the union of its modules' __all__, each name defined
    in one module and re-exported as the same object; no re-exported name shadows a module."""
    import importlib
    import pkgutil
    import types

    seen = {}
    for info in pkgutil.iter_modules(rp.__path__):
        mod = importlib.import_module(f"catbell_qutip.repeater.{info.name}")
        assert isinstance(getattr(rp, info.name), types.ModuleType), info.name
        for name in mod.__all__:
            assert name not in seen, (name, seen.get(name), info.name)
            seen[name] = info.name
            assert getattr(rp, name) is getattr(mod, name), name
    assert sorted(seen) == sorted(rp.__all__)


# -- the command ---------------------------------------------------------------------------
def test_cli_writes_figure_and_netcdf(tmp_path, capsys):
    import xarray as xr

    out = tmp_path / "rep"
    argv = ["repeater", "--out", str(out), "--segments", "1", "2", "--loss-orders", "0",
            "--length-max-km", "120", "--num-lengths", "4", "--n-alpha", "16",
            "--t-c", "0.5", "--no-progress"]
    assert main(argv) == 0
    for name in ("repeater.png", "repeater.pdf", "repeater.nc", "summary.json"):
        assert (out / name).stat().st_size > 0, name
    text = capsys.readouterr().out
    assert "l = 0, n = 2" in text
    ds = xr.open_dataset(out / "repeater.nc")
    one = ds.sel(loss_order=0, segments=1)
    for L, a, K, S in zip(one["length_km"].values, one["alpha"].values,
                          one["key_rate"].values, one["S"].values, strict=True):
        s = cb.simulate(0, float(a), length_km=float(L), engine="coherent", t_c_s=0.5)
        assert K == pytest.approx(s.key_rate, rel=1e-13) and S == pytest.approx(s.S, rel=1e-13)
    assert ds["key_rate"].attrs["units"] == "bit/s"
    ds.close()

    def no_nan(token):
        raise AssertionError(f"{token} in JSON")

    json.loads((out / "summary.json").read_text(), parse_constant=no_nan)


@pytest.mark.parametrize("extra,fragment", [
    (["--segments", "0"], "--segments = 0 is outside the allowed range [1, inf): a chain has "
                          "at least one segment"),
    (["--segments", "two"], "argument --segments: not an integer: 'two'"),
    (["--strategy", "nested", "--segments", "1", "3"], "--segments = 3 is not a power of 2"),
    (["--t-c", "-1"], "--t-c = -1 s is outside the allowed range"),
    (["--length-km", "5"], "--length-km (or 'length_km' in a preset/config) does not apply"),
    (["--objective", "S", "--rate-hz", "1e12"], "--rate-hz = 1e+12 Hz is above 1 / T"),
    (["--objective", "S"], "--objective S needs --rate-hz"),
    (["--p-swap", "0.5", "--strategy", "asap"], "needs --strategy parallel"),
    (["--loss-orders", "2"], "--loss-orders 2: a loss order is of the form 2^m - 1"),
    (["--num-lengths", "1"], "--num-lengths = 1 is outside the allowed range"),
    (["--preset", "nope"], "unknown preset"),
])
def test_cli_bad_input_exits_2_with_one_line(tmp_path, extra, fragment, capsys):
    argv = ["repeater", "--out", str(tmp_path / "x"), "--segments", "1", "2",
            "--loss-orders", "0", "--num-lengths", "3", "--n-alpha", "8", "--no-progress"]
    for flag in ("--segments", "--loss-orders", "--num-lengths"):
        if flag in extra:  # the case's own value replaces the default one
            i = argv.index(flag)
            j = i + 1
            while j < len(argv) and not argv[j].startswith("--"):
                j += 1
            del argv[i:j]
    try:
        rc = main(argv + extra)
    except SystemExit as exc:  # refused by the parser (argparse exits)
        rc = exc.code
    assert rc == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1, err


def test_alpha_jumps_and_beats_one_segment_ignore_keyless_points():
    """alpha_jumps flags a reversal much larger than the step before it (the n = 8, l = 1
    notch of the default scan), not a smooth drift; _beats_from ignores points where neither
    chain has a key (both below key_min)."""
    import numpy as np

    from catbell_qutip.repeater import alpha_jumps
    from catbell_qutip.repeater.distance_scan import _beats_from

    assert list(alpha_jumps([1.278, 1.302, 1.328, 1.353, 1.131, 1.046, 0.982])) == [3]
    assert list(alpha_jumps([0.78, 0.585, 0.492, 0.434, 0.395])) == []
    L = np.array([10.0, 20.0, 30.0, 40.0])
    K = np.array([1.0, 2.0, 1e-3, 1e-12])
    one = np.array([2.0, 1.0, 1e-4, 1e-10])
    assert _beats_from(K, one, L, 1e-3) == 20.0
    assert _beats_from(one, K, L, 1e-3) is None


@pytest.mark.parametrize("strategy", ["parallel", "nested", "asap"])
def test_links_that_always_succeed_give_no_runtime_warning(strategy):
    """p = 1 (the placeholder where a link never heralds, e.g. repeater --length-max-km 1e9)
    printed 'divide by zero in log1p' before the command's error; the suite runs with
    -Werror. With p = 1 every link succeeds at once: one attempt, no waiting."""
    p = np.array([1.0, 0.5])
    E = rp.expected_attempts(p, 4)
    assert E[0] == 1.0 and E[1] > 1.0
    dA, dB, dAB = (np.asarray(v) for v in rp.memory_factors(p, 4, 0.1, strategy=strategy))
    assert dA[0] == dB[0] == dAB[0] == 1.0


SQUEEZED = dict(code="squeezed-cat", squeezing=0.2)


def test_squeezed_cat_link_swaps_exactly_and_its_bit_errors_add():
    """A squeezed-cat link (r = 0.2) is not F phi+ + (1 - F) phi-: it has bit errors
    (Q > 0) and coherences off the Bell diagonal, so F^2 + (1 - F)^2 does not hold for it.
    The chain composes it exactly (= the QuTiP four-qubit computation), and the key-round
    parities multiply, 1 - 2 Q_chain = (1 - 2 Q)^2: bit errors add up under swapping, the
    physical reason a two-segment squeezed-cat chain loses its key (docs/repeater.md 5)."""
    rho = np.asarray(rp.link_states(0, 0.35771, 20.0, **SQUEEZED)["rho"])
    bell = np.stack([PHI_PLUS, np.kron(I2, X) @ PHI_PLUS, np.kron(I2, Y) @ PHI_PLUS / 1j,
                     PHI_MINUS])
    in_bell = bell.conj() @ rho @ bell.T
    assert np.abs(in_bell - np.diag(np.diag(in_bell))).max() > 1e-3
    Q = (rho[1, 1] + rho[2, 2]).real
    assert Q > 0.03
    out = rp.compose_chain([rho, rho])
    np.testing.assert_allclose(out, brute_force_swap(rho, rho), atol=1e-14)
    F = float(bell_fidelity(rho))
    assert abs(float(bell_fidelity(out)) - (F ** 2 + (1 - F) ** 2)) > 1e-3
    assert (out[1, 1] + out[2, 2]).real == pytest.approx(2 * Q * (1 - Q), abs=1e-14)


def test_reach_summary_says_where_S_is_undefined_not_below_the_level():
    """The key-optimal alpha does not exist where no alpha gives a key; S is then NaN and
    the S reach ends there although S is far above 2.01 at other amplitudes. Squeezed cat,
    n = 2, 60 km: no key at any alpha (Q composes as above), S up to ~2.45."""
    a = np.linspace(0.01, 4.0, 400)
    far = rp.chain(0, a, 60.0, 2, **SQUEEZED)
    assert np.nanmax(far["key_rate"]) == 0.0 and np.nanmax(far["S"]) > 2.4
    ds = rp.scan([0], [40.0, 60.0], [1, 2], n_alpha=40, **SQUEEZED)
    s = rp.scan_summary(ds)["l0"]
    assert s["n2"]["S_reach_km"] == 40.0 and s["n2"]["S_undefined_from_km"] == 60.0
    assert s["n1"]["S_reach_km"] == 60.0 and s["n1"]["S_undefined_from_km"] is None


def test_cli_says_where_S_is_undefined(tmp_path, capsys):
    code = main(["repeater", "--code", "squeezed-cat", "--squeezing", "0.2",
                 "--loss-orders", "0", "--segments", "2", "--length-max-km", "60",
                 "--num-lengths", "2", "--n-alpha", "40", "--no-progress",
                 "--out", str(tmp_path / "r")])
    line = capsys.readouterr().out.splitlines()[1]
    assert code == 0
    assert "S >= 2.01 up to 30 km (S undefined from 60 km: no alpha gives a key there" in line


def test_an_unattainable_delivery_rate_is_refused_before_any_work(tmp_path, capsys,
                                                                 monkeypatch):
    """A delivery rate above 1 / T of the scan's shortest link (L_min / n_max) cannot be
    reached by any amplitude (P <= 1, one attempt per T): refused by check_options with
    the bound, and on the command line in one line naming --rate-hz before the scan runs
    (it used to run the whole scan, then say "nothing is reachable")."""
    from catbell_qutip._checks import ParameterError
    from catbell_qutip.cli import repeater as cli_repeater

    # 10 km / 2 segments: T = 5 km / (2e5 km/s) = 25 us, 1 / T = 40 kHz
    with pytest.raises(ParameterError, match=r"rate_hz = 1e\+12 Hz is above 1 / T = 40000 Hz"
                       ) as err:
        rp.check_options([10.0, 20.0], [1, 2], objective="S", rate_hz=1e12)
    assert err.value.field == "rate_hz"
    assert rp.check_options([10.0, 20.0], [1, 2], objective="S", rate_hz=4e4)["rate_hz"] == 4e4
    # t0 = 1 s makes every attempt last 1 s: at most 1 Hz
    with pytest.raises(ParameterError, match=r"rate_hz = 2 Hz is above 1 / T = 1 Hz"):
        rp.check_scan([0], [10.0], [1], objective="S", rate_hz=2.0, t0_s=1.0)

    def no_scan(*a, **k):
        raise AssertionError("the scan ran")

    monkeypatch.setattr(cli_repeater, "scan", no_scan)
    for rate in ("1e12", "5e5"):  # 400 km / 60 / 8 = 0.833 km: 1 / T = 240 kHz
        rc = main(["repeater", "--objective", "S", "--rate-hz", rate, "--no-progress",
                   "--out", str(tmp_path / "x")])
        err_text = capsys.readouterr().err
        assert rc == 2 and err_text.count("\n") == 1, err_text
        assert err_text.startswith(f"catbell repeater: error: --rate-hz = {float(rate):g} Hz "
                                   "is above 1 / T = 240000 Hz"), err_text
        assert "give --rate-hz <= 240000" in err_text and "rate_hz" not in err_text
    assert not (tmp_path / "x").exists()
