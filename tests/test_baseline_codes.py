"""The full-space baseline on every code family of docs/model.md section 7, against closed
forms and constructions that share nothing with it.

``benchmarks/baseline_qutip.py`` runs the protocol on cat, squeezed-cat, binomial and
user-vector codes: the light starts in |Theta_N> (ideal encoder) or in the family's
primitive (explicit encoder), and Bob's USD is the generalised TUB. Checked here:

- binomial codewords: the literal kitten and single-rail vectors, orthogonality of the
  pair, and P = F = 1 without loss (a);
- the kitten code under one pure loss: P and F derived by hand (b);
- the single-rail code N = 1, M = 0 under loss, with and without memory dephasing (c);
- squeezed cat at r = 0 is the cat code (d);
- the squeezed-cat primitive against ``qutip.displace * qutip.squeeze`` and the Hermite
  closed form (e);
- a user vector equal to a binomial codeword gives the binomial result (f);
- the generalised TUB reproduces the cat-code TUB exactly, is a valid unambiguous POVM
  for every family, and its fallback state a^j |Theta_N>;
- any code under one pure loss against a branch-by-branch pure-state computation (the
  derivation of (b) for a general |Theta_N>, with codewords built by QuTiP);
- the points of :func:`baseline_codes_points` (physical results, truncation).

Points are ProtocolParams (:func:`code_params`); the baseline's own refusals are checked
on a raw stand-in that bypasses ProtocolParams' validation.
Cost: about 12 s CPU of the default run.
"""

from __future__ import annotations

import doctest
import functools
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import qutip
from numpy.polynomial.hermite import hermval

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import benchmarks.baseline_qutip as baseline_module  # noqa: E402
from benchmarks.baseline_qutip import (  # noqa: E402
    baseline_codes_points,
    baseline_run,
    binomial_amplitudes,
    code_cutoff,
    code_params,
    code_state,
    code_tub_effects,
    squeezed_coherent_amplitudes,
    tub_effects,
)

PHI_PLUS = np.array([1, 0, 0, 1]) / math.sqrt(2)
KITTEN = np.array([1, 0, math.sqrt(2), 0, 1]) / 2  # (|0> + sqrt2 |2> + |4>)/2, literal
RAIL = np.array([1, 1]) / math.sqrt(2)  # (|0> + |1>)/sqrt2, literal


@functools.lru_cache(maxsize=16)
def _qutip_dsq(alpha: float, r: float, big: int = 150) -> np.ndarray:
    """<n| D(alpha) S(r) |0>, n < big, from qutip.displace * qutip.squeeze at ``big``
    levels (qutip's squeeze(z) = exp[(z* a^2 - z a^dag^2)/2] is docs/model.md's S(r) at
    z = r); the top of the truncated space is wrong, read it on n <= 90 only."""
    ket = qutip.displace(big, alpha) * qutip.squeeze(big, r) * qutip.basis(big, 0)
    out = ket.full().ravel()
    out.flags.writeable = False
    return out


def _results_equal(a, b, tol):
    """Largest |difference| of P, F, rho and every record of two baseline results."""
    assert a.records.keys() == b.records.keys()
    worst = max(abs(a.P - b.P), abs(a.F - b.F), float(np.abs(a.rho - b.rho).max()))
    for key, (p, rho) in a.records.items():
        q, sig = b.records[key]
        worst = max(worst, abs(p - q), float(np.abs(rho - sig).max()))
    return worst < tol, worst


# -- (a) binomial codewords -----------------------------------------------------------------
def test_binomial_codewords_are_the_literal_kitten_and_single_rail():
    assert np.abs(binomial_amplitudes(2, 1) - KITTEN).max() < 1e-16
    assert np.abs(binomial_amplitudes(1, 0) - RAIL).max() < 1e-16
    # default M = N - 1 in the run's code, N = 2: the kitten
    th = code_state(code_params(loss_order=1, code="binomial"), 4).codeword
    assert np.abs(th[:5].astype(complex) - KITTEN).max() < 1e-16


@pytest.mark.parametrize("n_comp,m", [(1, 0), (1, 3), (2, 0), (2, 1), (2, 3), (4, 1), (4, 3)])
def test_binomial_pair_is_orthogonal_with_mean_photon_number(n_comp, m):
    """<Theta| exp(i pi n/N) |Theta> = 2^-(M+1) sum_k C(M+1, k) (-1)^k = 0, and the mean
    photon number is N (M + 1) / 2 (the binomial distribution of k)."""
    th = binomial_amplitudes(n_comp, m)
    n = np.arange(len(th))
    assert abs(np.sum(th ** 2) - 1) < 1e-15
    assert abs(np.vdot(th, np.exp(1j * np.pi * n / n_comp) * th)) < 1e-15
    assert abs(np.sum(n * th ** 2) - n_comp * (m + 1) / 2) < 1e-13


@pytest.mark.parametrize("ell,m", [(0, 0), (1, 1), (1, 2), (3, 3)])
@pytest.mark.parametrize("encoder", ["ideal", "explicit"])
def test_binomial_without_loss_always_heralds_phi_plus(ell, m, encoder):
    """Orthogonal pair, no loss: the TUB is projective and always succeeds, P = F = 1."""
    p = code_params(loss_order=ell, code="binomial", binomial_m=m, encoder=encoder)
    res = baseline_run(p, (m + 1) * (ell + 1))
    assert abs(res.P - 1) < 1e-13 and abs(res.F - 1) < 1e-13


# -- (b) the kitten code under one pure loss, by hand ---------------------------------------
def kitten_closed_form(eta: float) -> dict:
    """P and F of the kitten code, one pure loss eta between the entangling reflections.

    Derivation (docs/model.md 3 and 7; e = 1 - eta). After Alice's CR(pi/2) on A in |+>
    and the loss Kraus operator A_j, then Bob's CR(pi/2) on B in |+>, with R = exp(i pi n/2)
    and phi_j = A_j |Theta>, the state is
    (1/2)[(|uu> + e^{-i pi j/2}|dd>) phi_j + (|ud> + e^{i pi j/2}|du>) R phi_j]
    (R^2 phi_j = e^{-i pi j} phi_j since phi_j lies in the sector n = -j mod 2). The
    branches, A_j = sqrt(e^j/j!) eta^{n/2} a^j on (|0> + sqrt2 |2> + |4>)/2:

    - j = 0: phi_0 = |0>/2 + eta |2>/sqrt2 + eta^2 |4>/2,  syndrome s = 0
    - j = 1: phi_1 = sqrt(eta e) (|1> + eta |3>),          s = 1
    - j = 2: phi_2 = e (|0>/sqrt2 + sqrt(6) eta |2>/2),    s = 0
    - j = 3: phi_3 = sqrt(eta) e^{3/2} |1>,                s = 1
    - j = 4: phi_4 = e^2 |0>/2,                            s = 0

    Smallest loss j0 = -s mod 2; the frame maps the atoms to |phi+> for j = j0, j0 + 4 and
    to |phi->/|psi> (fidelity 0) for j = j0 + 2 (floor(j/2) odd).

    IDP in sector 0 (the TUB pair is phi_0 and R phi_0, R = +1 on |0>, |4> and -1 on |2>):
    write phi_0 = a u + b |2>, u = (|0> + eta^2|4>)/s, s = sqrt(1 + eta^4), a = s/2,
    b = eta/sqrt2. Then E_even = (b u + a|2>)(.)^dag / (2 a^2), E_odd = (b u - a|2>)(.)^dag
    / (2 a^2). A branch x u + y|2> (+ u_perp part, always inconclusive) succeeds with
    probability (b^2 x^2 + a^2 y^2) / a^2, of which |b x + a y|^2 / (2 a^2) is the
    |phi_k> part (k = floor(j/2)) and the rest |psi>. With |0> = (u + eta^2 u_perp)/s:
    j = 0: x = a, y = b: success eta^2, all phi+;
    j = 2: x = e/(sqrt2 s), y = sqrt6 eta e/2: success eta^2 e^2 (3/2 + 1/s^4), none phi+;
    j = 4: x = e^2/(2s), y = 0: success eta^2 e^4/(2 s^4), phi+ eta^2 e^4/(4 s^4).

    IDP in sector 1: phi_1 ~ |1> + eta|3>, R phi_1 ~ |1> - eta|3> (up to i), so
    E_even = (eta|1> + |3>)(.)^dag/2, E_odd = (eta|1> - |3>)(.)^dag/2; a branch
    x|1> + y|3> succeeds with eta^2 x^2 + y^2, of which (eta x + y)^2/2 is |phi_k>:
    j = 1: success 2 eta^3 e, all phi+;  j = 3: success eta^3 e^3, none phi+.

    So P = eta^2 [1 + e^2 (3/2 + 1/s^4) + e^4/(2 s^4)] + eta^3 e (2 + e^2) and
    F = [eta^2 + 2 eta^3 e + eta^2 e^4 / (4 s^4)] / P.
    """
    e = 1.0 - eta
    s4 = (1.0 + eta ** 4) ** 2
    sector0 = eta ** 2 * (1 + e ** 2 * (1.5 + 1 / s4) + e ** 4 / (2 * s4))
    sector1 = eta ** 3 * e * (2 + e ** 2)
    good = eta ** 2 + 2 * eta ** 3 * e + eta ** 2 * e ** 4 / (4 * s4)
    P = sector0 + sector1
    return dict(P=P, F=good / P, sector0=sector0, sector1=sector1)


@pytest.mark.parametrize("eta", [0.15, 0.5, 0.83, 0.99])
def test_kitten_under_one_pure_loss_matches_hand_derivation(eta):
    cf = kitten_closed_form(eta)
    res = baseline_run(code_params(loss_order=1, code="binomial", binomial_m=1, eta=eta), 4)
    assert abs(res.P - cf["P"]) < 1e-13
    assert abs(res.F - cf["F"]) < 1e-13
    for s in (0, 1):  # the success of each syndrome sector, even and odd alike
        p_even, p_odd = res.records[(0, s, "even")][0], res.records[(0, s, "odd")][0]
        assert abs(p_even + p_odd - cf[f"sector{s}"]) < 1e-13
        assert abs(p_even - p_odd) < 1e-13


def test_kitten_loss_is_the_same_wherever_it_sits_between_the_reflections():
    """eta_c, fibre and lumped eta_int^3 (ideal encoder: 3 reflections) are the same one
    pure loss between Alice's and Bob's entangling reflections: the same closed form."""
    eta = 0.64
    cf = kitten_closed_form(eta)
    km = -10 * math.log10(eta) / 0.2
    for kw in (dict(eta_c=eta), dict(length_km=km),
               dict(eta_int=eta ** (1 / 3), eta_int_placement="lumped")):
        res = baseline_run(code_params(loss_order=1, code="binomial", binomial_m=1, **kw), 4)
        assert abs(res.P - cf["P"]) < 1e-12 and abs(res.F - cf["F"]) < 1e-12


def test_binomial_m0_sector_with_one_fock_state_never_heralds():
    """N = 2, M = 0: |Theta> = (|0> + |2>)/sqrt2. One loss leaves sqrt(eta e)|1> in sector
    1, where the TUB pair (|1>, i|1>) is parallel: never conclusive. Sector 0 (a = 1/sqrt2
    on |0>, b = eta/sqrt2 on |2>, as in :func:`kitten_closed_form`): j = 0 succeeds with
    eta^2, all phi+; j = 2 (e|0>/sqrt2) with eta^2 e^2/2, none phi+. So
    P = eta^2 (1 + e^2/2), F = 1 / (1 + e^2/2)."""
    for eta in (0.3, 0.75):
        e = 1 - eta
        res = baseline_run(code_params(loss_order=1, code="binomial", binomial_m=0, eta=eta), 2)
        assert abs(res.P - eta ** 2 * (1 + e ** 2 / 2)) < 1e-14
        assert abs(res.F - 1 / (1 + e ** 2 / 2)) < 1e-14
        assert res.records[(0, 1, "even")][0] == 0 and res.records[(0, 1, "odd")][0] == 0


# -- (c) single rail ------------------------------------------------------------------------
def single_rail_closed_form(eta: float, d: float = 1.0) -> tuple[float, float]:
    """P and F of the single-rail code (|0> + |1>)/sqrt2, N = 1, under one pure loss eta,
    memory factor d = exp(-t_w / t_c).

    One sector (N = 1, no syndrome), j0 = 0, R = (-1)^n. Branches: j = 0:
    phi_0 = (|0> + sqrt(eta)|1>)/sqrt2 (frame gives phi+); j = 1: phi_1 = sqrt(e/2)|0>
    (floor(j/1) = 1 odd: phi- or psi). The TUB pair is |0> +/- sqrt(eta)|1> (a = 1,
    b = sqrt(eta) in the notation of :func:`kitten_closed_form`): E_even =
    (sqrt(eta)|0> + |1>)(.)^dag/2, E_odd = (sqrt(eta)|0> - |1>)(.)^dag/2. A branch
    x|0> + y|1> succeeds with eta x^2 + y^2, of which (sqrt(eta) x + y)^2/2 is |phi_k>:
    j = 0 gives eta, all phi+; j = 1 gives eta e/2, of which eta e/4 is phi- and eta e/4
    psi. Memory dephasing of A swaps phi+ and phi- with probability (1 - d)/2 (it commutes
    with every other step). So P = eta (3 - eta)/2 and
    F = [(1 + d)/2 eta + (1 - d)/2 eta e/4] / P  (= 2/(3 - eta) at d = 1).
    """
    e = 1.0 - eta
    P = eta * (3 - eta) / 2
    return P, ((1 + d) / 2 * eta + (1 - d) / 2 * eta * e / 4) / P


@pytest.mark.parametrize("eta", [0.05, 0.4, 0.9])
@pytest.mark.parametrize("encoder", ["ideal", "explicit"])
def test_single_rail_under_loss_matches_closed_form(eta, encoder):
    P, F = single_rail_closed_form(eta)
    res = baseline_run(code_params(loss_order=0, code="binomial", binomial_m=0, eta=eta,
                                   encoder=encoder), 1)
    assert abs(res.P - P) < 1e-14 and abs(res.F - F) < 1e-14
    assert abs(F - 2 / (3 - eta)) < 1e-15


def test_single_rail_with_memory_dephasing_matches_closed_form():
    """db_per_km = 0: the fibre only sets the waiting time t_w = L / c_f = 1e-5 s."""
    eta, t_c = 0.7, 2e-5
    P, F = single_rail_closed_form(eta, math.exp(-0.5))
    res = baseline_run(code_params(loss_order=0, code="binomial", binomial_m=0, eta=eta,
                                   length_km=2.0, db_per_km=0.0, t_c_s=t_c), 1)
    assert abs(res.P - P) < 1e-14 and abs(res.F - F) < 1e-14


# -- (d) squeezed cat at r = 0 is the cat code ----------------------------------------------
R0_POINTS = [
    dict(loss_order=0, alpha=1.3, eta=0.7, eta_int=0.9, length_km=2.0, t_c_s=1e-4),
    dict(loss_order=1, alpha=1.6, eta_c=0.8, eta_int=0.88, eta_d=0.9,
         encoder="explicit", eta_int_placement="before", decoder="ml"),
    dict(loss_order=1, alpha=1.1, eta_dc=0.8, eta_uc=0.7, eta_int=0.9,
         eta_int_placement="lumped", encoder="explicit"),
    dict(loss_order=3, alpha=1.7, eta=0.85, eta_int=0.92, eta_d=0.95),
]


@pytest.mark.parametrize("kw", R0_POINTS)
def test_squeezed_cat_at_zero_squeezing_is_the_cat_code(kw):
    cat = baseline_run(code_params(**kw), 26)
    sq = baseline_run(code_params(code="squeezed-cat", squeezing=0.0, **kw), 26)
    ok, worst = _results_equal(cat, sq, 1e-12)
    assert ok, worst


# -- (e) the squeezed-cat primitive against QuTiP and the Hermite closed form ---------------
SQUEEZED = [(0.0, 0.5), (1.3, 0.4), (2.0, -0.3), (1.0, -0.8)]


@pytest.mark.parametrize("alpha,r", SQUEEZED)
def test_squeezed_primitive_equals_qutip_displace_squeeze(alpha, r):
    """D(alpha) S(r)|0> from qutip.displace * qutip.squeeze, read on n <= 90, equals the
    recursion; and both equal the Hermite closed form c_n = c_0 (tanh(r)/2)^{n/2}
    H_n(alpha e^r / sqrt(sinh 2r)) / sqrt(n!) (complex square roots for r < 0; n <= 60)."""
    n_max = 90
    ref = _qutip_dsq(alpha, r)[: n_max + 1]
    assert np.abs(squeezed_coherent_amplitudes(alpha, r, n_max) - ref).max() < 1e-12
    n = np.arange(61)
    c0 = math.exp(-alpha ** 2 * (1 + math.tanh(r)) / 2) / math.sqrt(math.cosh(r))
    t = np.emath.sqrt(math.tanh(r) / 2)
    x = alpha * math.exp(r) / np.emath.sqrt(math.sinh(2 * r))
    herm = np.array([hermval(x, np.eye(len(n))[k]) for k in n])
    closed = c0 * t ** n * herm / np.sqrt([float(math.factorial(k)) for k in n])
    assert np.abs(closed - ref[: len(n)]).max() < 1e-12


@pytest.mark.parametrize("ell,alpha,r", [(1, 1.3, 0.4), (3, 2.0, -0.3)])
@pytest.mark.parametrize("encoder", ["ideal", "explicit"])
def test_squeezed_cat_light_is_the_projected_qutip_state(ell, alpha, r, encoder):
    """The run's initial light: D(alpha)S(r)|0> (explicit) or its normalised projection on
    n = 0 mod N (ideal), from QuTiP; the dropped mass is its tail."""
    cutoff, N = 30, ell + 1
    ref = _qutip_dsq(alpha, r)[:91]
    if encoder == "ideal":
        ref = np.where(np.arange(len(ref)) % N == 0, ref, 0)
        ref = ref / np.linalg.norm(ref)
    p = code_params(loss_order=ell, code="squeezed-cat", alpha=alpha, squeezing=r,
                    encoder=encoder)
    light, dropped = code_state(p, cutoff).light(encoder == "explicit", cutoff)
    assert np.abs(light.full().ravel() - ref[: cutoff + 1]).max() < 1e-12
    assert abs(dropped - np.sum(np.abs(ref[cutoff + 1:]) ** 2)) < 1e-14


# -- the conventions of a peer: Grimsmo, Combes and Baragiola's rotation codes ------------
@pytest.mark.parametrize("n_comp,m", [(1, 0), (2, 1), (2, 3), (4, 3), (8, 1)])
def test_binomial_is_the_peer_plus_word(n_comp, m):
    """arXiv:1901.08071's binomial code of order N: |+> = 2^{-(M+1)/2} sum_k sqrt(C(M+1,
    k)) |kN>, |-> the same with (-1)^k. Ours: |Theta_N> = |+>, exp(i pi n/N)|Theta_N> =
    |->, built here from Fock kets with QuTiP."""
    dim = (m + 2) * n_comp + 1
    plus = sum(math.sqrt(math.comb(m + 1, k)) * qutip.basis(dim, k * n_comp)
               for k in range(m + 2)) / math.sqrt(2 ** (m + 1))
    minus = sum((-1) ** k * math.sqrt(math.comb(m + 1, k)) * qutip.basis(dim, k * n_comp)
                for k in range(m + 2)) / math.sqrt(2 ** (m + 1))
    p = code_params(loss_order=n_comp - 1, code="binomial", binomial_m=m)
    th = code_state(p, dim).codeword[:dim].astype(complex)
    rot = np.exp(1j * np.pi * np.arange(dim) / n_comp) * th
    assert np.abs(th - plus.full().ravel()).max() < 1e-15
    assert np.abs(rot - minus.full().ravel()).max() < 1e-15


@pytest.mark.parametrize("n_comp,alpha,r_peer", [(1, 1.2, -0.4), (2, 1.5, 0.3)])
def test_squeezed_cat_is_the_peer_propeller_code(n_comp, alpha, r_peer):
    """arXiv:1901.08071's "propeller" (squeezed cat) code: 2N blades
    D(alpha e^{i phi_m}) S(r e^{2i(phi_m - pi/2)})|0>, phi_m = m pi/N (QuTiP's S), summed
    into |0_L> (all blades) and |1_L> (sign (-1)^m), each normalised. Its blade m = 0 is
    D(alpha) S(-r)|0>: our squeezed cat with squeezing = -r (r > 0 there squeezes the
    phase quadrature). Our |Theta_N> is the normalised sum of the even blades,
    (n0 |0_L> + n1 |1_L>) / sqrt(n0^2 + n1^2) with n0, n1 the norms of the blade sums:
    the peer's |+> = (|0_L> + |1_L>)/sqrt2 only when n0 = n1."""
    big, n_max = 100, 40
    blades = []
    for m in range(2 * n_comp):
        phi = m * np.pi / n_comp
        blades.append((qutip.displace(big, alpha * np.exp(1j * phi))
                       * qutip.squeeze(big, r_peer * np.exp(2j * (phi - np.pi / 2)))
                       * qutip.basis(big, 0)).full().ravel()[: n_max + 1])
    zero_l = sum(blades)
    one_l = sum((-1) ** m * b for m, b in enumerate(blades))
    p = code_params(loss_order=n_comp - 1, code="squeezed-cat", alpha=alpha, squeezing=-r_peer)
    th = code_state(p, n_max).codeword[: n_max + 1].astype(complex)
    even = zero_l + one_l
    assert np.abs(th - even / np.linalg.norm(even)).max() < 1e-12
    n = np.arange(n_max + 1)
    for q, word in ((0, zero_l), (n_comp, one_l)):  # |0_L>, |1_L>: th on n = q mod 2N
        part = np.where(n % (2 * n_comp) == q, th, 0)
        assert np.abs(part / np.linalg.norm(part) - word / np.linalg.norm(word)).max() < 1e-12


# -- (f) a user vector ----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["bin l=1 kitten explicit before ml",
                                  "bin l=3 M=3 ideal after sl",
                                  "bin l=1 M=2 explicit after sl"])
def test_user_vector_equal_to_binomial_gives_the_binomial_result(name):
    """The binomial codeword given as a vector, unnormalised (x 2) and with a global phase,
    runs exactly as the binomial code."""
    kw = dict(baseline_codes_points()[name])
    p_bin = code_params(**kw)
    n_comp, m = kw["loss_order"] + 1, kw["binomial_m"]
    kw.update(code="vector", binomial_m=None,
              code_vector=tuple(2j * binomial_amplitudes(n_comp, m)))
    cutoff = (m + 1) * n_comp
    ok, worst = _results_equal(baseline_run(p_bin, cutoff),
                               baseline_run(code_params(**kw), cutoff), 1e-13)
    assert ok, worst


def test_user_vector_rotated_gives_the_same_result():
    """exp(i theta n) commutes with every step (loss picks up a phase per branch, CR and
    the syndrome commute with it, the TUB is rotated with the state): the result of a
    vector and of its rotated copy agree."""
    kw = dict(baseline_codes_points()["vec l=1 ideal before ml"])
    v = np.array(kw["code_vector"])
    rot = tuple(v * np.exp(0.37j * np.arange(len(v))))
    a = baseline_run(code_params(**kw), 4)
    b = baseline_run(code_params(**{**kw, "code_vector": rot}), 4)
    assert abs(a.P - b.P) < 1e-13 and abs(a.F - b.F) < 1e-13


# -- the generalised TUB --------------------------------------------------------------------
@pytest.mark.parametrize("n_comp", [1, 2, 4])
@pytest.mark.parametrize("alpha,eta", [(1.7, 0.6), (0.3, 0.9), (2.5, 0.2)])
def test_generalised_tub_is_the_cat_tub_for_cats(n_comp, alpha, eta):
    """|e> = a^{j0} eta^{n/2} P_r|alpha> is P_s|alpha sqrt(eta)> (s = r - j0): the effects
    equal :func:`tub_effects` at beta = alpha sqrt(eta), for every (r, s). (In very weak
    light both Gram-Schmidts lose digits: with 1 - |<u|v>| ~ 1e-12, at alpha = 0.05 and
    N = 4, two extended-precision roundings agree to ~1e-7 relative only.)"""
    cutoff = 30
    cs = code_state(code_params(loss_order=n_comp - 1, alpha=alpha, encoder="explicit"),
                    cutoff)
    for r in range(n_comp):
        for s in range(n_comp):
            new = code_tub_effects(cs.sector_state(r), n_comp, (r - s) % n_comp, eta, cutoff)
            old = tub_effects(n_comp, s, alpha * math.sqrt(eta), cutoff)
            for a, b in zip(new, old, strict=True):
                assert np.abs(a - b).max() < 1e-15


@pytest.mark.parametrize("name", ["sq l=1 ideal after sl", "vec l=1 ideal before ml",
                                  "bin l=3 M=3 ideal after sl", "sq l=3 ideal after sl"])
def test_generalised_tub_is_an_optimal_unambiguous_povm(name):
    """For each sector: E_even never fires on |o>, E_odd never on |e>, each succeeds with
    1 - |<e|o>| on its state (IDP), E_even + E_odd <= 1; |e> is built here from the
    codeword by QuTiP operators (destroy, num)."""
    p = code_params(**baseline_codes_points()[name])
    cutoff, eta = 24, 0.55
    N = p.loss_order + 1
    cs = code_state(p, cutoff)
    big = len(cs.codeword)
    theta = qutip.Qobj(cs.codeword.astype(complex))
    damp = qutip.Qobj(np.diag(eta ** (np.arange(big) / 2)))
    rot = (1j * np.pi / N * qutip.num(big)).expm()
    for j0 in range(N):
        e = (qutip.destroy(big) ** j0 * damp * theta).full().ravel()[: cutoff + 1]
        e = e / np.linalg.norm(e)
        o = (rot.full() @ np.pad(e, (0, big - cutoff - 1)))[: cutoff + 1]
        c = abs(np.vdot(e, o))
        E_even, E_odd = code_tub_effects(cs.codeword, N, j0, eta, cutoff)
        assert abs(np.vdot(o, E_even @ o)) < 1e-13 and abs(np.vdot(e, E_odd @ e)) < 1e-13
        assert abs(np.vdot(e, E_even @ e).real - (1 - c)) < 1e-13
        assert abs(np.vdot(o, E_odd @ o).real - (1 - c)) < 1e-13
        assert np.linalg.eigvalsh(np.eye(cutoff + 1) - E_even - E_odd).min() > -1e-13


@pytest.mark.parametrize("n_comp", [2, 4])
def test_sector_state_falls_back_to_lowered_codeword(n_comp):
    """A binomial primitive has no weight off n = 0 mod N: |Theta_r> is then
    a^{(-r mod N)} |Theta_N> normalised (QuTiP's destroy), which lies in sector r."""
    cs = code_state(code_params(loss_order=n_comp - 1, code="binomial",
                                encoder="explicit"), 20)
    big = len(cs.codeword)
    theta = qutip.Qobj(cs.codeword.astype(complex))
    for r in range(1, n_comp):
        ref = (qutip.destroy(big) ** ((-r) % n_comp) * theta).unit().full().ravel()
        got = cs.sector_state(r).astype(complex)
        assert np.abs(got - ref).max() < 1e-15
        assert np.all(got[np.arange(big) % n_comp != r] == 0)


# -- any code under one pure loss, branch by branch -----------------------------------------
def _branch_sum(theta: np.ndarray, n_comp: int, eta: float) -> tuple[float, float]:
    """P, F of the ideal protocol with one pure loss eta between the entangling
    reflections, for any |Theta_N>: the derivation of :func:`kitten_closed_form` done
    numerically. Branch j (phi_j = A_j|Theta>, A_j = sqrt(C(n, j) eta^(n-j) e^j)
    |n-j><n|) lands in sector -j mod N, Bob assumes j0 = j mod N; the TUB pair is
    (|e>, R|e>), |e> ~ phi_j0; a rank-one effect lambda |w><w| gives the even record
    sqrt(lambda)/2 [<w|phi_j> a_j + <w|R phi_j> b_j] whose frame maps a_j to sqrt2 |phi_k>
    (k = floor(j/N); phi+ for k even) and b_j to a state orthogonal to phi+-; odd swaps
    the roles of a_j and b_j."""
    n = np.arange(len(theta))
    R = np.exp(1j * np.pi * n / n_comp)

    def kraus(j):
        out = np.zeros(len(theta), dtype=complex)
        m = n[j:]
        out[: len(m)] = np.sqrt([float(math.comb(int(k), j)) for k in m]) * \
            eta ** ((m - j) / 2) * (1 - eta) ** (j / 2) * theta[j:]
        return out

    def idp(e, o):
        e, o = e / np.linalg.norm(e), o / np.linalg.norm(o)
        c = abs(np.vdot(e, o))
        if c > 1 - 1e-14:  # one Fock state: the pair cannot be told apart
            return 0.0, e, o
        w_even = e - o * np.vdot(o, e)
        w_odd = o - e * np.vdot(e, o)
        return 1 / (1 + c), w_even / np.linalg.norm(w_even), w_odd / np.linalg.norm(w_odd)

    P = good = 0.0
    for j in range(len(theta)):
        phi = kraus(j)
        if np.linalg.norm(phi) == 0:
            continue
        e = kraus(j % n_comp)
        lam, w_e, w_o = idp(e, R * e)
        right = (j // n_comp) % 2 == 0
        ce, ce_r = np.vdot(w_e, phi), np.vdot(w_e, R * phi)
        co, co_r = np.vdot(w_o, phi), np.vdot(w_o, R * phi)
        P += lam * (abs(ce) ** 2 + abs(ce_r) ** 2 + abs(co) ** 2 + abs(co_r) ** 2) / 2
        if right:
            good += lam * (abs(ce) ** 2 + abs(co_r) ** 2) / 2
    return P, good / P


def test_branch_sum_reproduces_the_hand_derivations():
    for eta in (0.3, 0.8):
        cf = kitten_closed_form(eta)
        P, F = _branch_sum(KITTEN.astype(complex), 2, eta)
        assert abs(P - cf["P"]) < 1e-14 and abs(F - cf["F"]) < 1e-14
        P, F = _branch_sum(RAIL.astype(complex), 1, eta)
        assert (P, F) == pytest.approx(single_rail_closed_form(eta), abs=1e-14)


@pytest.mark.parametrize("ell,alpha,r,eta", [(0, 1.3, 0.4, 0.6), (1, 1.3, 0.4, 0.7),
                                             (1, 0.0, 0.5, 0.4), (3, 2.0, -0.3, 0.85)])
def test_squeezed_cat_under_one_loss_matches_branch_sum(ell, alpha, r, eta):
    """Codeword from qutip.displace * qutip.squeeze, projected on n = 0 mod N."""
    N = ell + 1
    psi = _qutip_dsq(alpha, r)[:91]
    theta = np.where(np.arange(len(psi)) % N == 0, psi, 0)
    theta = theta / np.linalg.norm(theta)
    P, F = _branch_sum(theta, N, eta)
    p = code_params(loss_order=ell, code="squeezed-cat", alpha=alpha, squeezing=r, eta=eta)
    res = baseline_run(p, code_cutoff(p, 1e-14))
    assert abs(res.P - P) < 1e-12 and abs(res.F - F) < 1e-12


@pytest.mark.parametrize("vector,ell", [((0.6, 0, 0.48j, 0, 0.64), 1),
                                        ((0.6, 0, 0, 0, 0.48j, 0, 0, 0, 0.64), 3),
                                        ((0.8, 0.36j, 0.48), 0)])
def test_user_vector_under_one_loss_matches_branch_sum(vector, ell):
    eta = 0.65
    P, F = _branch_sum(np.array(vector, dtype=complex), ell + 1, eta)
    res = baseline_run(code_params(loss_order=ell, code="vector", code_vector=vector,
                                   eta=eta), len(vector) - 1)
    assert abs(res.P - P) < 1e-13 and abs(res.F - F) < 1e-13


def test_lossless_squeezed_cat_succeeds_with_one_minus_overlap():
    """No loss: with w_q the weight of D(alpha)S(r)|0> (QuTiP) on n = q mod 2N, sector r
    holds the pair (Theta_r, R Theta_r), |<Theta_r|R|Theta_r>| = |w_r - w_{r+N}| /
    (w_r + w_{r+N}). Ideal encoder (r = 0 only): P = 2 min(w_0, w_N) / (w_0 + w_N);
    explicit encoder (sector r with probability w_r + w_{r+N}): P = sum_r 2 min(w_r,
    w_{r+N}). F = 1 for both."""
    N, alpha, r = 2, 1.0, -0.8
    psi = _qutip_dsq(alpha, r)
    n = np.arange(len(psi))
    w = [np.sum(np.abs(psi[n % (2 * N) == q]) ** 2) for q in range(2 * N)]
    expected = {"ideal": 2 * min(w[0], w[N]) / (w[0] + w[N]),
                "explicit": sum(2 * min(w[q], w[q + N]) for q in range(N))}
    for enc, P in expected.items():
        p = code_params(loss_order=N - 1, code="squeezed-cat", alpha=alpha, squeezing=r,
                        encoder=enc)
        res = baseline_run(p, code_cutoff(p, 1e-15))
        assert abs(res.P - P) < 1e-12
        assert abs(res.F - 1) < 1e-12


# -- the comparison points ------------------------------------------------------------------
def test_codes_points_cover_the_families_and_choices():
    pts = baseline_codes_points()
    assert len(pts) >= 20
    seen = {k: {kw.get(k) for kw in pts.values()} for k in
            ("code", "loss_order", "encoder", "eta_int_placement", "decoder")}
    assert seen["code"] == {"squeezed-cat", "binomial", "vector"}
    assert seen["loss_order"] == {0, 1, 3}
    assert {"explicit", None} <= seen["encoder"]
    assert {"before", "lumped", None} <= seen["eta_int_placement"]
    assert {"ml", None} <= seen["decoder"]


@pytest.mark.parametrize("name", list(baseline_codes_points()))
def test_codes_point_is_physical(name):
    """P in (0, 1], F in [0, 1], rho a state, and every outcome's probability summing to 1
    (trace preservation through all channels and read-outs)."""
    p = code_params(**baseline_codes_points()[name])
    res = baseline_run(p, code_cutoff(p))
    total = sum(q for q, _ in res.records.values()) + sum(res.inconclusive.values())
    assert abs(total - 1) < 1e-12
    assert 0 < res.P <= 1 and 0 <= res.F <= 1
    assert np.abs(res.rho - res.rho.conj().T).max() < 1e-14
    assert abs(np.trace(res.rho) - 1) < 1e-13 and np.linalg.eigvalsh(res.rho).min() > -1e-13
    assert abs(res.F - (PHI_PLUS @ res.rho @ PHI_PLUS).real) < 1e-14


@pytest.mark.parametrize("name", ["sq l=1 heavy ml", "sq l=3 ideal after sl"])
def test_codes_point_truncation_is_negligible(name):
    """A cutoff 8 levels larger changes nothing beyond a few times the dropped mass; a
    cutoff that drops too much is refused."""
    p = code_params(**baseline_codes_points()[name])
    c = code_cutoff(p)
    small, large = baseline_run(p, c), baseline_run(p, c + 8)
    bound = 4 * small.truncation_error + 1e-14
    assert abs(small.P - large.P) <= bound
    assert np.abs(small.rho - large.rho).max() <= 2 * bound / small.P
    with pytest.raises(ValueError, match="drops mass"):
        baseline_run(p, c // 2)


def test_baseline_module_examples_run():
    """The docstring examples of the baseline module (``benchmarks/`` is outside the
    package's --doctest-modules run)."""
    failed, attempted = doctest.testmod(baseline_module,
                                        optionflags=doctest.NORMALIZE_WHITESPACE)
    assert attempted >= 5 and failed == 0


# -- refusals -------------------------------------------------------------------------------
@pytest.mark.parametrize("kw,match", [
    (dict(code="binomial", usd="linear"), "usd='tub'"),
    (dict(code="squeezed-cat", usd="linear", p_dark=0.01), "usd='tub'"),
    (dict(code="binomial", binomial_m=-1), "integer >= 0"),
    (dict(code="binomial", binomial_m=1.5), "integer >= 0"),
    (dict(code="vector", code_vector=(0.6, 0.8)), r"n = 0 mod 2"),
    (dict(code="vector", code_vector=(0.0, 0.0, 0.0)), "non-zero"),
    (dict(code="vector"), "needs code_vector"),
    (dict(code="gkp"), "unknown code"),
])
def test_baseline_refuses_what_the_model_does_not_define(kw, match):
    """The baseline's own checks (ProtocolParams refuses these too, in its own words: the
    raw stand-in bypasses it)."""
    with pytest.raises(ValueError, match=match):
        baseline_run(code_params(raw=True, loss_order=1, **kw), 10)
