"""Finite-size key length of the CHSH-based DI-QKD protocol under entropy accumulation.

The analysis is the one of D. P. Nadlinger et al., "Experimental quantum key distribution
certified by Bell's theorem", Nature 607, 682 (2022), Supplementary Information
(arXiv:2109.14600), sections S4-S11, referred to below as [N22]; the same bound is used for
the finite-size key of arXiv:2409.17075 (its Sec. E). It is the entropy accumulation theorem
with improved second-order terms (Dupuis and Fawzi; Theorem 3 of Liu et al., Nat. Phys. 17,
448 (2021), as cited in [N22] eq. 101) applied to the standard protocol:

- n heralded rounds; Bob picks a test round with probability gamma (then x, y uniform in
  {0, 1}: a CHSH round), else a key round (x = 0 for Alice, y = 2 for Bob: the key
  settings A0, B2) ([N22] eqs. 2-3);
- Alice sends an error-correction syndrome of m bits ([N22] eq. 23) and authenticated hashes;
  Bob reconstructs Alice's string and aborts unless at most n gamma (1 - omega_thr) test
  rounds lose the CHSH game ([N22] eq. 5);
- privacy amplification by a Trevisan extractor ([N22] Proposition 1, eqs. 52-53).

Every formula below is [N22]'s, implemented from the paper (its equations are read from the
arXiv text); the equation numbers are [N22]'s. With omega = (4 + S) / 8 the CHSH winning
probability and h the binary entropy:

- eta(omega) = 1 - h(1/2 + sqrt(16 omega (omega - 1) + 3) / 2) for omega in [3/4, omega_max]
  (and its mirror image below 1/4), 0 in between (eq. 62): the asymptotic entropy bound,
  eta((4 + S) / 8) = 1 - chi(S) with chi of :mod:`catbell_qutip.formulas`;
  omega_min, omega_max = (1 -+ 1/sqrt 2) / 2;
- g_t(omega) = eta(t) + (omega - t) eta'(t), the tangent at t in (3/4, omega_max) (eq. 61);
  f_t its affine extension to the score distribution q(omega) = (gamma (1 - omega),
  gamma omega, 1 - gamma) over {lost, won, key round} (eqs. 63-64, 67), with variance
  Var_q(f_t) = (1 - omega)(1 - gamma (1 - omega)) eta'(t)^2 / gamma (eq. 65);
- theta_eps = log2(1 / (1 - sqrt(1 - eps^2))) (eq. 66), Delta(f_t, omega) = eta(omega) -
  g_t(omega) (eq. 68), V = (ln 2 / 2)(log2 33 + sqrt(2 + Var))^2 (eq. 69),
  K_a = 2^((a - 1)(2 + g_t(1) - g_t(omega_min))) ln^3(2^(2 + g_t(1) - g_t(omega_min)) + e^2)
  / (6 (2 - a)^3 ln 2) (eq. 70);
- the key length (eq. 73), with Renyi parameters a' in (1, 2), a'' in (1, 1 + 1/log2 5) and
  Upsilon_b(x) = b W(e^(x / b) / b), b = 4 / ln 2, W the Lambert function (eq. 52):

      l = Upsilon_b( n g_t(omega_thr) + n inf_omega [Delta - (a' - 1) V]
                     - n (a' - 1)^2 K_a' - n gamma - n (a'' - 1) log2(5)^2
                     - (theta_eps' + a' log2(1/eps_EA)) / (a' - 1)
                     - (theta_eps'' + a'' log2(1/eps_EA)) / (a'' - 1)
                     - 3 theta_(eps_s - eps' - 2 eps'') - 5 log2(1/eps_PA) - m - 264 ),

  0 where the argument is below 1 (Proposition 1 needs l >= 1). 264 bits = the 258 bits of
  hashes, tags and flags the protocol sends besides the syndrome (eq. 93) + 6 (eq. 53).
- soundness: max(eps_EA, eps_PA + 2 eps_s) + 4 eps_h secret (eq. 91) and eps_h correct
  (eq. 78), eps_h = 2^-61 the collision probability of the 64-bit VHASH tags; we spend
  eps_sound = max(eps_EA, eps_PA + 2 eps_s) + 5 eps_h. (Proposition 2 states + 4 eps_h;
  the correctness term of eq. 78 adds one more eps_h: we keep it, 4e-19 either way.)
- syndrome (eq. 23), generalised by an efficiency f >= 1 (f = 1 is [N22]'s choice):
  m = f n ((1 - gamma) h(Q) + gamma h((4 - S) / 8)) + 50 sqrt(n);
- threshold: [N22] eqs. 24-25 accept up to q + 3 sqrt(q (1 - q) / n) lost test rounds per
  round, q = gamma (1 - omega) (3 standard deviations). Here the threshold is set by the
  completeness error instead: the largest count c of lost test rounds with
  P(Binomial(n, q) > c) <= eps_completeness in the honest, i.i.d. model, omega_thr =
  1 - c / (n gamma). (Error correction can fail too; [N22] measured <= 1e-3 for its code at
  this syndrome length. That depends on the code and is not part of eps_completeness here.)

The free parameters (gamma, t, a', a'', and the split of eps_sound into eps_EA, eps_PA,
eps_s, eps', eps'') are optimised for each n: gamma, t, a' numerically (a vectorised coarse
grid, then bounded Nelder-Mead), a'' in closed form (the a''-terms are n b c + C / b with
b = a'' - 1), the epsilons by the Lagrange split of their log2(1/eps) weights (each
theta_eps ~ 1 + 2 log2(1/eps)). The infimum over omega in [omega_min, omega_max] is taken on
a 2001-point grid and refined by Brent's method to 1e-12 in omega for the reported value.

Cross-checks (docs/finite-key.md): [N22]'s own operating point (n = 1.5e6, S = 2.64,
Q = 1.8 %, gamma = 13/256, eps_sound = 1e-10, its 3-sigma threshold) gives 95 885 bits here
against the paper's 95 884 (its Fig. 4 and Table I); the first key at S = 2 sqrt 2, Q = 0
comes at n = 2.56e5 here, "n ~ 2.6e5" in its Fig. S15a; as n -> infinity the key per round
tends to 1 - h(Q) - chi(S) from below.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq, minimize, minimize_scalar
from scipy.special import bdtrik
from scipy.stats import binom

from .._checks import ParameterError, check_count, check_real
from ..formulas import S_MAX, binary_entropy, key_rate

__all__ = [
    "EPS_SOUND",
    "EPS_COMPLETENESS",
    "EC_EFFICIENCY",
    "EC_MARGIN",
    "EPS_HASH",
    "CLASSICAL_OVERHEAD_BITS",
    "OMEGA_MIN",
    "OMEGA_MAX",
    "MAX_ROUNDS",
    "FiniteKey",
    "check_bound_options",
    "finite_key",
    "asymptotic_key_per_round",
    "entropy_bound",
    "syndrome_length",
    "threshold_omega",
    "upsilon",
    "min_rounds",
]

#: Default soundness error of the key: the protocol's output is eps_sound-close to an ideal
#: key (correct and secret, [N22] eqs. 39-41).
EPS_SOUND = 1e-10
#: Default completeness error: the largest probability that the honest devices (the
#: expected S and Q, i.i.d. rounds) fail the Bell test of the protocol and abort.
EPS_COMPLETENESS = 1e-2
#: Default error-correction efficiency f: the syndrome is f times the Slepian-Wolf length
#: n H(A|B) of [N22]'s model plus the margin below (f = 1: [N22] eq. 23).
EC_EFFICIENCY = 1.0
#: Finite-length margin of the syndrome, in units of sqrt(n) bits ([N22] eq. 23: 50; it
#: covers its SC-LDPC code with a decoding failure probability <= 1e-3 at n = 1.5e6).
EC_MARGIN = 50.0
#: Collision probability of the 64-bit VHASH tags that verify error correction and
#: authenticate the messages ([N22] section S9 A).
EPS_HASH = 2.0 ** -61
#: Bits the protocol reveals or cannot extract besides the syndrome: 258 of hashes, tags and
#: flags ([N22] eq. 93) and 6 of the Trevisan extractor ([N22] eq. 53).
CLASSICAL_OVERHEAD_BITS = 264
#: Smallest and largest quantum CHSH winning probability, (1 -+ 1/sqrt 2) / 2.
OMEGA_MIN = (1.0 - 1.0 / math.sqrt(2.0)) / 2.0
OMEGA_MAX = (1.0 + 1.0 / math.sqrt(2.0)) / 2.0
#: Largest number of rounds accepted (beyond it the key per round equals the asymptotic rate
#: to better than 1e-5 and the binomial threshold loses double precision).
MAX_ROUNDS = 1e18

_LN2 = math.log(2.0)
_B = 4.0 / _LN2  # b of [N22] eq. 52
_LOG5_SQ = math.log2(5.0) ** 2
_LOG33 = math.log2(33.0)
_A2_MAX = 1.0 / math.log2(5.0)  # a'' - 1 < 1 / log2 5 ([N22] eq. 71)


def _omega_grid(k: int) -> np.ndarray:
    """About k points on [omega_min, omega_max], uniform within the three pieces of eta
    (the kinks 1/4 and 3/4 are grid points)."""
    w = OMEGA_MAX - OMEGA_MIN
    parts = [(OMEGA_MIN, 0.25), (0.25, 0.75), (0.75, OMEGA_MAX)]
    pieces = [np.linspace(a, b, max(3, round(k * (b - a) / w)))[:-1] for a, b in parts]
    return np.concatenate([*pieces, [OMEGA_MAX]])


_GRID = _omega_grid(2001)  # omega grid of the reported infimum (eq. 73), refined by Brent
_MID = _omega_grid(601)  # the optimiser's grid (parabolic interpolation between points)
_COARSE = _omega_grid(201)  # the coarse parameter scan
_T_SPAN = OMEGA_MAX - 0.75
_S_MIN_T, _S_MAX_T = 1e-7, 1.0 - 1e-9  # t = 3/4 + s (omega_max - 3/4)

#: names of the loss terms of :class:`FiniteKey`, in the order they are reported
LOSS_TERMS = ("statistics", "eat_second_order", "test_rounds", "error_correction",
              "privacy_amplification")


def entropy_bound(omega):
    """eta(omega): Eve's worst-case entropy of Alice's key bit at CHSH winning probability
    omega, in bits ([N22] eq. 62).

    Parameters
    ----------
    omega : float or ndarray
        CHSH winning probability, in [omega_min, omega_max] = [(1 - 1/sqrt 2)/2,
        (1 + 1/sqrt 2)/2].

    Returns
    -------
    float or ndarray
        1 - h(1/2 + sqrt(16 omega (omega - 1) + 3) / 2) for |omega - 1/2| >= 1/4, else 0.
        At omega = (4 + S) / 8 this is 1 - chi(S).

    Examples
    --------
    >>> round(float(entropy_bound(OMEGA_MAX)), 12), float(entropy_bound(0.75))
    (1.0, 0.0)
    >>> from catbell_qutip.formulas import chi
    >>> S = 2.5; abs(float(entropy_bound((4 + S) / 8)) - (1 - chi(S))) < 1e-15
    True
    """
    w = np.asarray(omega, dtype=float)
    u2 = 16.0 * (w - 0.5) ** 2 - 1.0
    u = np.sqrt(np.clip(u2, 0.0, 1.0))
    out = np.where(u2 > 0.0, 1.0 - binary_entropy(0.5 * (1.0 + u)), 0.0)
    return float(out) if out.ndim == 0 else out


def _entropy_slope(t):
    """eta'(t) for t in (3/4, omega_max): 8 (t - 1/2) / u * 2 artanh(u) / ln 2,
    u = sqrt(16 (t - 1/2)^2 - 1); the limit 16 (t - 1/2) / ln 2 at u -> 0."""
    t = np.asarray(t, dtype=float)
    u = np.sqrt(np.clip(16.0 * (t - 0.5) ** 2 - 1.0, 0.0, 1.0))
    small = u < 1e-6
    us = np.where(small, 0.5, np.minimum(u, 1.0 - 1e-16))
    slope = 8.0 * (t - 0.5) / us * 2.0 * np.arctanh(us) / _LN2
    return np.where(small, 16.0 * (t - 0.5) / _LN2 * (1.0 + u * u / 3.0), slope)


def _eta(t):
    """eta(t) without input validation, for t in (3/4, omega_max] (the optimiser's t)."""
    u = np.sqrt(np.clip(16.0 * (np.asarray(t, dtype=float) - 0.5) ** 2 - 1.0, 0.0, 1.0))
    p, r = 0.5 * (1.0 + u), 0.5 * (1.0 - u)
    return 1.0 + p * np.log2(p) + np.where(r > 0.0, r * np.log2(np.where(r > 0.0, r, 1.0)),
                                           0.0)


#: eta on the two omega grids, computed once (keyed by the grid object)
_ETA = {id(g): entropy_bound(g) for g in (_GRID, _MID, _COARSE)}


def _theta(eps):
    """theta_eps = log2(1 / (1 - sqrt(1 - eps^2))) ([N22] eq. 66), without cancellation."""
    eps = np.asarray(eps, dtype=float)
    return np.log2((1.0 + np.sqrt(1.0 - eps * eps)) / (eps * eps))


def upsilon(x):
    """Upsilon_b(x) = b W(exp(x / b) / b), b = 4 / ln 2: the key length a Trevisan extractor
    reaches from x bits of smooth min-entropy less its fixed costs ([N22] eqs. 52-55).

    It is the solution y of y + b ln y = x, so x - b ln x <= Upsilon_b(x) <= x for x >= 1.

    Parameters
    ----------
    x : float or ndarray
        Bits, >= 1 (below 1 no key: 0 is returned).

    Returns
    -------
    float or ndarray
        Key length in bits (real-valued; the key has floor of it).

    Examples
    --------
    >>> upsilon(1.0), upsilon(0.5)
    (1.0, 0.0)
    >>> y = upsilon(1e6); round(y + 4 / math.log(2) * math.log(y), 6)
    1000000.0
    """
    x = np.asarray(x, dtype=float)
    xs = np.maximum(x, 1.0)
    y = np.maximum(xs - _B * np.log(xs), 1.0)
    for _ in range(60):  # Newton on y + b ln y - x: monotone, converges in a few steps
        step = (y + _B * np.log(y) - xs) / (1.0 + _B / y)
        y = np.maximum(y - step, 1e-300)
        if np.all(np.abs(step) <= 1e-13 * y):
            break
    out = np.where(x >= 1.0, y, 0.0)
    return float(out) if out.ndim == 0 else out


def syndrome_length(n, S, Q, gamma, *, ec_efficiency=EC_EFFICIENCY, ec_margin=EC_MARGIN):
    """Error-correction syndrome length m in bits ([N22] eq. 23, with an efficiency f).

    m = f n ((1 - gamma) h(Q) + gamma h((4 - S) / 8)) + ec_margin sqrt(n): Bob reconstructs
    Alice's key rounds (bit-error rate Q) and test rounds (she and Bob disagree with the CHSH
    rule with probability (4 - S) / 8, [N22]'s model, eqs. 6-7).

    Parameters
    ----------
    n : float or ndarray
        Number of heralded rounds (dimensionless).
    S : float or ndarray
        Expected CHSH value (dimensionless).
    Q : float or ndarray
        Key-round bit-error rate in [0, 1] (dimensionless).
    gamma : float or ndarray
        Test-round probability in (0, 1] (dimensionless).
    ec_efficiency : float, optional
        Error-correction efficiency f >= 1 (dimensionless).
    ec_margin : float, optional
        Extra syndrome bits per sqrt(n) (bits).

    Returns
    -------
    float or ndarray
        Syndrome length m in bits (real-valued).

    Examples
    --------
    [N22]'s operating point (their m = 296 517):

    >>> int(syndrome_length(1.5e6, 2.64, 0.018, 13 / 256))
    296517
    """
    return (ec_efficiency * n * ((1.0 - gamma) * binary_entropy(Q)
                                 + gamma * binary_entropy((4.0 - S) / 8.0))
            + ec_margin * np.sqrt(n))


def threshold_omega(n, S, gamma, eps_completeness=EPS_COMPLETENESS):
    """Acceptance threshold omega_thr of the Bell test and the honest abort probability.

    The protocol aborts when more than n gamma (1 - omega_thr) test rounds lose the CHSH
    game ([N22] eq. 5). With honest i.i.d. rounds of winning probability omega = (4 + S) / 8
    the number of lost test rounds is Binomial(n, gamma (1 - omega)); the threshold is its
    (1 - eps_completeness) quantile c, omega_thr = 1 - c / (n gamma), capped at omega_max.

    Parameters
    ----------
    n : float
        Number of heralded rounds (dimensionless).
    S : float or ndarray
        Expected CHSH value of the honest devices (dimensionless).
    gamma : float or ndarray
        Test-round probability in (0, 1] (dimensionless).
    eps_completeness : float, optional
        Allowed honest abort probability (dimensionless).

    Returns
    -------
    (omega_thr, abort_probability) : tuple of float or ndarray
        abort_probability = P(Binomial > c) <= eps_completeness.

    Examples
    --------
    >>> w, p = threshold_omega(1.5e6, 2.64, 13 / 256)
    >>> round(w, 6), p <= 1e-2
    (0.826524, True)
    """
    omega = (4.0 + np.asarray(S, dtype=float)) / 8.0
    gamma = np.asarray(gamma, dtype=float)
    q = gamma * (1.0 - omega)
    w = _threshold(n, q, gamma, eps_completeness)
    p = binom.sf(np.floor(n * gamma * (1.0 - w) * (1.0 + 1e-12)), n, q)
    if np.ndim(w) == 0:
        return float(w), float(p)
    return w, p


def _threshold(n, q, gamma, eps_completeness):
    """omega_thr = 1 - c / (n gamma), c the (1 - eps) quantile of Binomial(n, q): the
    smallest integer with P(X <= c) >= 1 - eps (the continuous inverse of the regularised
    incomplete beta function, rounded up; tests/test_finitekey.py checks it against
    scipy.stats.binom.ppf)."""
    k = bdtrik(1.0 - eps_completeness, n, q)
    c = np.clip(np.ceil(np.where(np.isnan(k), 0.0, k) - 1e-9), 0.0, n)
    return np.minimum(1.0 - c / (n * gamma), OMEGA_MAX)


def asymptotic_key_per_round(S, Q):
    """1 - h(Q) - chi(S) bits per heralded round, 0 where negative or S <= 2: the
    asymptotic rate of docs/model.md section 4 (:func:`catbell_qutip.formulas.key_rate` at
    R_eg = 1).

    Parameters
    ----------
    S : float or ndarray
        CHSH value in [0, 2 sqrt 2] (dimensionless).
    Q : float or ndarray
        Key-round bit-error rate in [0, 1] (dimensionless).

    Returns
    -------
    float or ndarray
        Bits per heralded round, in [0, 1]: 1 at S = 2 sqrt 2, Q = 0; 0 for S <= 2.

    Examples
    --------
    >>> asymptotic_key_per_round(2 * 2 ** 0.5, 0.0), asymptotic_key_per_round(2.0, 0.0)
    (1.0, 0.0)
    >>> round(asymptotic_key_per_round(2.64, 0.018), 6)
    0.50706
    """
    return key_rate(1.0, S, Q)


def _epsilons(E, b1, b2):
    """Split eps_sound - 5 eps_h = E into eps', eps'', eps_r = eps_s - eps' - 2 eps'' and
    eps_PA with 2 eps_s + eps_PA = E, minimising the sum of w_i log2(1/eps_i), weights
    (2 / b1, 2 / b2, 6, 5) (theta_eps ~ 1 + 2 log2(1 / eps)); costs (2, 4, 2, 1) in E.
    Lagrange: eps_i = E w_i / (c_i sum w)."""
    w1, w2 = 2.0 / b1, 2.0 / b2
    W = w1 + w2 + 11.0
    return E * w1 / (2.0 * W), E * w2 / (4.0 * W), E * 6.0 / (2.0 * W), E * 5.0 / W


def _a2(n, E, b1, logEA):
    """a'' - 1 in closed form: minimises n b log2(5)^2 + (theta_eps'' + (1 + b) log2(1/eps_EA))
    / b, i.e. b = sqrt((theta + log2(1/eps_EA)) / (n log2(5)^2)), iterated with the
    epsilon split (which depends on b); capped below 1 / log2 5."""
    b2 = np.sqrt((2.0 * math.log2(1.0 / E) + 2.0 * logEA) / (n * _LOG5_SQ))
    b2 = np.minimum(b2, _A2_MAX * (1.0 - 1e-9))
    for _ in range(3):
        e2 = _epsilons(E, b1, b2)[1]
        b2 = np.minimum(np.sqrt((_theta(e2) + logEA) / (n * _LOG5_SQ)), _A2_MAX * (1 - 1e-9))
    return b2


@dataclass(frozen=True)
class _Problem:
    """One key-length problem: inputs and what does not depend on the free parameters."""

    n: float
    S: float
    Q: float
    E: float  # eps_sound - 5 eps_h
    eps_completeness: float
    ec_efficiency: float
    ec_margin: float
    gamma: float | None = None
    omega_thr: float | None = None
    sigmas: float | None = None

    @property
    def logEA(self) -> float:
        return math.log2(1.0 / self.E)

    h_key: float = 0.0  # h(Q), set by _problem()
    h_test: float = 0.0  # h((4 - S) / 8)

    def threshold(self, gamma):
        """omega_thr at test probability gamma (array)."""
        if self.omega_thr is not None:
            return np.full(np.shape(gamma), self.omega_thr)
        gamma = np.asarray(gamma)
        q = gamma * (1.0 - (4.0 + self.S) / 8.0)
        if self.sigmas is not None:  # [N22] eqs. 24-25
            q_thr = q + self.sigmas * np.sqrt(q * (1.0 - q) / self.n)
            return np.minimum(1.0 - q_thr / gamma, OMEGA_MAX)
        return _threshold(self.n, q, gamma, self.eps_completeness)

    def abort_probability(self, gamma, omega_thr) -> float:
        """Honest Bell-test abort probability at this gamma and threshold."""
        q = gamma * (1.0 - (4.0 + self.S) / 8.0)
        return float(binom.sf(math.floor(self.n * gamma * (1.0 - omega_thr) * (1 + 1e-12)),
                              self.n, q))

    def syndrome(self, gamma):
        """[N22] eq. 23 with efficiency f (as :func:`syndrome_length`)."""
        return (self.ec_efficiency * self.n * ((1.0 - gamma) * self.h_key
                                               + gamma * self.h_test)
                + self.ec_margin * math.sqrt(self.n))


def _terms(pb: _Problem, gamma, t, b1, grid=_GRID, refine=False):
    """The argument x of Upsilon in [N22] eq. 73 and its parts (bits), broadcast over
    arrays gamma, t, b1 = a' - 1."""
    n = pb.n
    gamma, t, b1 = (np.asarray(v, dtype=float) for v in (gamma, t, b1))
    if not gamma.shape == t.shape == b1.shape:
        gamma, t, b1 = np.broadcast_arrays(gamma, t, b1)
    w_thr = np.broadcast_to(pb.threshold(gamma), gamma.shape)
    slope, eta_t = _entropy_slope(t), _eta(t)
    g_thr = eta_t + (w_thr - t) * slope
    inf = _infimum(gamma, t, b1, slope, eta_t, grid, refine)
    M = 2.0 + slope * (1.0 - OMEGA_MIN)  # 2 + g_t(1) - g_t(omega_min)
    K = (np.exp(np.minimum(b1 * M * _LN2, 700.0)) * np.logaddexp(M * _LN2, 2.0) ** 3
         / (6.0 * (1.0 - b1) ** 3 * _LN2))
    logEA = pb.logEA
    b2 = _a2(n, pb.E, b1, logEA)
    e1, e2, er, epa = _epsilons(pb.E, b1, b2)
    m = pb.syndrome(gamma)
    entropy = n * g_thr
    eat = -n * inf + n * b1 * b1 * K + (_theta(e1) + (1.0 + b1) * logEA) / b1
    test = n * gamma + n * b2 * _LOG5_SQ + (_theta(e2) + (1.0 + b2) * logEA) / b2
    pa = 3.0 * _theta(er) + 5.0 * np.log2(1.0 / epa) + CLASSICAL_OVERHEAD_BITS
    x = entropy - eat - test - m - pa
    x = np.where(np.isfinite(x), x, -np.inf)
    return x, dict(entropy=entropy, eat=eat, test=test, m=m, pa=pa, omega_thr=w_thr,
                   b2=b2, eps=(e1, e2, er, epa))


def _infimum(gamma, t, b1, slope, eta_t, grid, refine):
    """inf over omega in [omega_min, omega_max] of Delta(f_t, omega) - b1 V(f_t, q(omega))
    ([N22] eqs. 65, 68, 69, 73) on ``grid``; with ``refine`` (scalars only) the grid minimum
    is refined by Brent's method between its neighbours."""
    w = grid.reshape((1,) * gamma.ndim + (-1,))
    g, tt, b, s, e = (np.asarray(a)[..., None] for a in (gamma, t, b1, slope, eta_t))
    eta_w = _ETA[id(grid)].reshape(w.shape)

    def f(wv, eta_wv):
        var = (1.0 - wv) * (1.0 - g * (1.0 - wv)) * s * s / g
        V = 0.5 * _LN2 * (_LOG33 + np.sqrt(2.0 + var)) ** 2
        return eta_wv - e - (wv - tt) * s - b * V

    vals = f(w, eta_w)
    if not refine:  # parabola through the grid minimum and its neighbours: smooth in t
        i = np.argmin(vals, axis=-1)[..., None]
        j = np.clip(i, 1, grid.size - 2)
        f0, f1, f2 = (np.take_along_axis(vals, j + d, axis=-1)[..., 0] for d in (-1, 0, 1))
        curv = f0 - 2.0 * f1 + f2
        smooth = (i[..., 0] == j[..., 0]) & (curv > 0.0)
        vertex = f1 - (f2 - f0) ** 2 / (8.0 * np.where(smooth, curv, 1.0))
        return np.where(smooth, np.minimum(vertex, f1), np.min(vals, axis=-1))
    out = np.min(vals, axis=-1)
    i = int(np.argmin(vals.reshape(-1)))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    res = minimize_scalar(lambda x: float(f(np.float64(x), entropy_bound(x)).reshape(-1)[0]),
                          bounds=(lo, hi), method="bounded", options={"xatol": 1e-12})
    return np.minimum(out, res.fun)


@dataclass(frozen=True)
class FiniteKey:
    """The finite-size key of one run of the protocol (:func:`finite_key`).

    Parameters
    ----------
    n : int
        Heralded rounds.
    S, Q : float
        Expected CHSH value and key-round bit-error rate the protocol is tuned to.
    key_length_bits : int
        Secure key length in bits: the floor of ``key_length`` (0: no key).
    key_length : float
        The bound l of [N22] eq. 73 in bits (real-valued).
    key_per_round : float
        key_length_bits / n, bits per heralded round.
    asymptotic_key_per_round : float
        1 - h(Q) - chi(S) (0 where negative): the limit n -> infinity.
    losses : dict
        Bits lost against n x the asymptotic rate, per cause (:data:`LOSS_TERMS`):
        ``statistics`` n (eta(omega) - g_t(omega_thr)), the threshold below the expected
        winning probability and the tangent; ``eat_second_order`` the EAT's finite-size
        corrections to Alice's and Bob's entropy (a' terms); ``test_rounds`` Bob's test
        outcomes (n gamma and the a'' terms); ``error_correction`` the syndrome beyond
        n h(Q); ``privacy_amplification`` smoothing, extractor, tags and the Lambert-W
        loss. They add up to n x asymptotic - key_length where the key is positive.
    dominant : str
        The largest loss term.
    params : dict
        The protocol and proof parameters used: ``gamma``, ``omega_thr``, ``syndrome_bits``,
        ``abort_probability`` (honest Bell-test abort probability), ``t``, ``alpha1``,
        ``alpha2``, ``eps_EA``, ``eps_PA``, ``eps_s``, ``eps_s1``, ``eps_s2``, ``eps_hash``.
    inputs : dict
        ``eps_sound``, ``eps_completeness``, ``ec_efficiency``, ``ec_margin`` and whether
        gamma / omega_thr were fixed by the caller.

    Examples
    --------
    The loss terms account for the whole gap to the asymptotic key:

    >>> r = finite_key(10 ** 8, 2.64, 0.018)
    >>> gap = r.n * r.asymptotic_key_per_round - r.key_length
    >>> bool(np.isclose(sum(r.losses.values()), gap)), r.key_per_round < r.asymptotic_key_per_round
    (True, True)
    """

    n: int
    S: float
    Q: float
    key_length_bits: int
    key_length: float
    key_per_round: float
    asymptotic_key_per_round: float
    losses: dict = field(repr=False)
    dominant: str
    params: dict = field(repr=False)
    inputs: dict = field(repr=False)

    def to_dict(self) -> dict:
        """JSON-ready (no NaN or infinity: undefined values are None)."""
        def clean(v):
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, (bool, np.bool_)):
                return bool(v)
            if isinstance(v, (int, np.integer)):
                return int(v)
            if isinstance(v, (float, np.floating)):
                return float(v) if math.isfinite(v) else None
            return v

        return clean({"n": self.n, "S": self.S, "Q": self.Q,
                      "key_length_bits": self.key_length_bits,
                      "key_per_round": self.key_per_round,
                      "asymptotic_key_per_round": self.asymptotic_key_per_round,
                      "dominant_loss": self.dominant, "losses_bits": self.losses,
                      "params": self.params, "inputs": self.inputs})


def check_bound_options(*, eps_sound=EPS_SOUND, eps_completeness=EPS_COMPLETENESS,
                        ec_efficiency=EC_EFFICIENCY, ec_margin=EC_MARGIN, gamma=None,
                        omega_thr=None, completeness_sigmas=None) -> dict:
    """Validate the options of :func:`finite_key` (the same names, meaning and defaults);
    return them as floats (None where not given).

    The one check of these options, before any work, for every function that takes them
    (:func:`finite_key`, :func:`min_rounds`, :func:`.simulator.finite_key_at`,
    :func:`.figure.write_outputs`), also where no key is computed (S <= 2).

    Parameters
    ----------
    eps_sound : float
        Soundness error in (0, 1), above 10 :data:`EPS_HASH` (the hashes' share).
    eps_completeness : float
        Largest honest abort probability, in (0, 1).
    ec_efficiency : float
        Error-correction efficiency f, in [1, 10].
    ec_margin : float
        sqrt(n) coefficient of the syndrome, bits, in [0, 1e6].
    gamma : float, optional
        Test-round probability in (0, 1).
    omega_thr : float, optional
        Threshold winning probability in (3/4, omega_max].
    completeness_sigmas : float, optional
        In [0, 40]; not together with ``omega_thr``.

    Returns
    -------
    dict
        The seven options.

    Raises
    ------
    catbell_qutip._checks.ParameterError
        For an option outside its range; ``field`` names it.

    Examples
    --------
    >>> check_bound_options(gamma=0.1)["gamma"]
    0.1
    >>> try:
    ...     check_bound_options(ec_efficiency=0.5)
    ... except ParameterError as exc:
    ...     print(exc.field, "|", exc)
    ec_efficiency | ec_efficiency = 0.5 is outside the allowed range [1.0, 10.0]
    """
    eps_sound = check_real(eps_sound, "eps_sound", low=0.0, high=1.0, low_open=True,
                           high_open=True)
    if eps_sound <= 10 * EPS_HASH:
        raise ParameterError(f"eps_sound = {eps_sound:g} is below 10 eps_hash = "
                             f"{10 * EPS_HASH:.2g}, the hashes' share; give a larger one",
                             "eps_sound")
    eps_completeness = check_real(eps_completeness, "eps_completeness", low=0.0, high=1.0,
                                  low_open=True, high_open=True)
    ec_efficiency = check_real(ec_efficiency, "ec_efficiency", low=1.0, high=10.0)
    ec_margin = check_real(ec_margin, "ec_margin", low=0.0, high=1e6)
    if gamma is not None:
        gamma = check_real(gamma, "gamma", low=0.0, high=1.0, low_open=True, high_open=True)
    if omega_thr is not None:
        omega_thr = check_real(omega_thr, "omega_thr", low=0.75, high=OMEGA_MAX,
                               low_open=True)
    if completeness_sigmas is not None:
        completeness_sigmas = check_real(completeness_sigmas, "completeness_sigmas",
                                         low=0.0, high=40.0)
        if omega_thr is not None:
            raise ParameterError("give omega_thr or completeness_sigmas, not both",
                                 "completeness_sigmas")
    return {"eps_sound": eps_sound, "eps_completeness": eps_completeness,
            "ec_efficiency": ec_efficiency, "ec_margin": ec_margin, "gamma": gamma,
            "omega_thr": omega_thr, "completeness_sigmas": completeness_sigmas}


def _check_inputs(n, S, Q, **options):
    """Validated n, S, Q and :func:`check_bound_options`."""
    n = check_count(n, "n", high=MAX_ROUNDS, what="a number of rounds")
    if isinstance(S, (float, np.floating)) and S_MAX < S <= S_MAX * (1 + 1e-12):
        S = float(S_MAX)  # 2 sqrt 2 computed with rounding
    S = check_real(S, "S", low=2.0, high=float(S_MAX), low_open=True)
    if not isinstance(S, float):
        raise ParameterError("S must be a single number", "S")
    Q = check_real(Q, "Q", low=0.0, high=0.5)
    if not isinstance(Q, float):
        raise ParameterError("Q must be a single number", "Q")
    return n, S, Q, check_bound_options(**options)


def _to_t(s):
    return 0.75 + np.asarray(s) * _T_SPAN


def _optimise(pb: _Problem, start=None):
    """(gamma, t, b1) maximising x of eq. 73: coarse vectorised grid, then Nelder-Mead."""
    g_lo = min(max(1e-9, 3.0 / pb.n), 0.1)
    g_hi = 0.5
    fixed_g = pb.gamma is not None
    warm = start is not None
    if start is None:
        gs = (np.array([pb.gamma]) if fixed_g else
              np.logspace(math.log10(g_lo), math.log10(g_hi), 11))
        ss = np.linspace(0.02, 0.995, 11)
        bs = np.logspace(-7, -0.3, 12)
        G, Sg, Bg = np.meshgrid(gs, ss, bs, indexing="ij")
        x, _ = _terms(pb, G, _to_t(Sg), Bg, grid=_COARSE)
        i = np.unravel_index(int(np.argmax(x)), x.shape)
        start = (float(G[i]), float(_to_t(Sg[i])), float(Bg[i]))
    g0, t0, b0 = start
    s0 = min(max((t0 - 0.75) / _T_SPAN, _S_MIN_T), _S_MAX_T)

    def unpack(v):
        if fixed_g:
            return pb.gamma, _to_t(v[0]), 10.0 ** v[1]
        return 10.0 ** v[0], _to_t(v[1]), 10.0 ** v[2]

    def neg(v):
        g, t, b = unpack(v)
        return -float(_terms(pb, g, t, b, grid=_MID)[0]) / pb.n

    b_bounds = (-9.0, math.log10(0.99))
    if fixed_g:
        x0, bounds = [s0, math.log10(b0)], [(_S_MIN_T, _S_MAX_T), b_bounds]
    else:
        g0 = min(max(g0, g_lo), g_hi)
        x0 = [math.log10(g0), s0, math.log10(b0)]
        bounds = [(math.log10(g_lo), math.log10(g_hi)), (_S_MIN_T, _S_MAX_T), b_bounds]
    x0 = [min(max(v, lo), hi) for v, (lo, hi) in zip(x0, bounds, strict=True)]
    best, f_best = np.asarray(x0, dtype=float), neg(x0)
    for scale in (0.2 if warm else 1.0, 0.05):  # a restart: Nelder-Mead can stall early
        res = minimize(neg, best, method="Nelder-Mead", bounds=bounds,
                       options={"xatol": 1e-6, "fatol": 1e-11, "maxiter": 1000,
                                "initial_simplex": _simplex(best, bounds, scale)})
        if res.fun < f_best:
            best, f_best = res.x, res.fun
    return unpack(best)


def _simplex(x0, bounds, scale=1.0):
    """Initial Nelder-Mead simplex: steps of 0.3 decades / 5 % of the t range (times
    ``scale``: smaller from a warm start), inside the bounds."""
    pts = [list(x0)]
    for i, (lo, hi) in enumerate(bounds):
        p = list(x0)
        step = scale * (0.05 if hi - lo <= 1.0 else 0.3)
        p[i] = p[i] + step if p[i] + step <= hi else p[i] - step
        pts.append(p)
    return np.array(pts)


def _result(pb: _Problem, gamma, t, b1, inputs) -> FiniteKey:
    x, parts = _terms(pb, gamma, t, b1, refine=True)
    x = float(x)
    ell = float(upsilon(x)) if x >= 1.0 else 0.0
    bits = int(math.floor(ell))
    n = pb.n
    asym = float(asymptotic_key_per_round(pb.S, pb.Q))
    omega = (4.0 + pb.S) / 8.0
    losses = {
        "statistics": n * entropy_bound(omega) - float(parts["entropy"]),
        "eat_second_order": float(parts["eat"]),
        "test_rounds": float(parts["test"]),
        "error_correction": float(parts["m"]) - n * float(binary_entropy(pb.Q)),
        "privacy_amplification": float(parts["pa"]) + (x - ell if x >= 1.0 else 0.0),
    }
    dominant = max(losses, key=losses.get)
    e1, e2, er, epa = (float(v) for v in parts["eps"])
    p_abort = pb.abort_probability(float(gamma), float(parts["omega_thr"]))
    params = {
        "gamma": float(gamma), "omega_thr": float(parts["omega_thr"]),
        "syndrome_bits": int(math.ceil(float(parts["m"]))),
        "abort_probability": float(p_abort), "t": float(t),
        "alpha1": 1.0 + float(b1), "alpha2": 1.0 + float(parts["b2"]),
        "eps_EA": pb.E, "eps_PA": epa, "eps_s": e1 + 2.0 * e2 + er, "eps_s1": e1,
        "eps_s2": e2, "eps_hash": EPS_HASH,
    }
    return FiniteKey(n=int(n), S=pb.S, Q=pb.Q, key_length_bits=bits, key_length=ell,
                     key_per_round=bits / n, asymptotic_key_per_round=asym, losses=losses,
                     dominant=dominant, params=params, inputs=inputs)


def finite_key(n, S, Q, *, eps_sound=EPS_SOUND, eps_completeness=EPS_COMPLETENESS,
               ec_efficiency=EC_EFFICIENCY, ec_margin=EC_MARGIN, gamma=None,
               omega_thr=None, completeness_sigmas=None, start=None) -> FiniteKey:
    """Secure key length of n heralded rounds of the CHSH protocol (module docstring).

    Parameters
    ----------
    n : int or integral float
        Heralded rounds, in [1, 1e18] (``1.5e6`` is accepted).
    S : float
        CHSH value the devices are expected to reach, in (2, 2 sqrt 2].
    Q : float
        Bit-error rate of the key rounds (A0 vs B2), in [0, 1/2].
    eps_sound : float
        Soundness error in (0, 1), default :data:`EPS_SOUND` = 1e-10.
    eps_completeness : float
        Largest honest abort probability of the Bell test, in (0, 1), default
        :data:`EPS_COMPLETENESS` = 1e-2; sets the threshold omega_thr.
    ec_efficiency : float
        f >= 1 of the syndrome m (:func:`syndrome_length`), default 1.
    ec_margin : float
        sqrt(n) coefficient of the syndrome, bits, default :data:`EC_MARGIN` = 50.
    gamma : float, optional
        Test-round probability in (0, 1); optimised if not given.
    omega_thr : float, optional
        Threshold winning probability in (3/4, omega_max] (an experiment's fixed value);
        from ``eps_completeness`` if not given. ``params["abort_probability"]`` reports the
        honest abort probability it implies.
    completeness_sigmas : float, optional
        Use [N22]'s threshold rule instead (eqs. 24-25): accept up to q + k sqrt(q (1 - q)
        / n) lost test rounds per round, k = ``completeness_sigmas`` (they take 3);
        ``eps_completeness`` is then not used.
    start : tuple, optional
        (gamma, t, a' - 1) to start the optimiser from (skips the coarse grid), e.g. the
        optimum at a neighbouring n.

    Returns
    -------
    FiniteKey

    Raises
    ------
    catbell_qutip._checks.ParameterError
        For an input outside its range (the message names it).

    Examples
    --------
    [N22]'s run, their gamma and threshold rule (their Fig. 4 and Table I: 95 884 bits):

    >>> r = finite_key(1.5e6, 2.64, 0.018, gamma=13 / 256, completeness_sigmas=3)
    >>> r.key_length_bits, r.dominant, round(r.params["omega_thr"], 6)
    (95885, 'eat_second_order', 0.825538)

    Below some number of rounds there is no key at all:

    >>> finite_key(1e4, 2.64, 0.018).key_length_bits
    0
    """
    pb, inputs = _prepare(n, S, Q, eps_sound=eps_sound, eps_completeness=eps_completeness,
                          ec_efficiency=ec_efficiency, ec_margin=ec_margin, gamma=gamma,
                          omega_thr=omega_thr, completeness_sigmas=completeness_sigmas)
    g, t, b1 = _optimise(pb, start)
    return _result(pb, g, t, b1, inputs)


def _prepare(n, S, Q, **options):
    """Validated inputs (:func:`finite_key`'s arguments but ``start``) as a
    :class:`_Problem` and the ``inputs`` record of the result."""
    n, S, Q, o = _check_inputs(n, S, Q, **options)
    pb = _Problem(n=float(n), S=S, Q=Q, E=o["eps_sound"] - 5.0 * EPS_HASH,
                  eps_completeness=o["eps_completeness"], ec_efficiency=o["ec_efficiency"],
                  ec_margin=o["ec_margin"], gamma=o["gamma"], omega_thr=o["omega_thr"],
                  sigmas=o["completeness_sigmas"], h_key=float(binary_entropy(Q)),
                  h_test=float(binary_entropy((4.0 - S) / 8.0)))
    inputs = {"eps_sound": o["eps_sound"], "eps_completeness": o["eps_completeness"],
              "completeness_sigmas": o["completeness_sigmas"],
              "ec_efficiency": o["ec_efficiency"], "ec_margin": o["ec_margin"],
              "gamma_fixed": o["gamma"] is not None,
              "omega_thr_fixed": o["omega_thr"] is not None}
    return pb, inputs


def min_rounds(S, Q, *, rtol=1e-3, n_max=MAX_ROUNDS, n_guess=None, **kwargs) -> int | None:
    """Smallest number of heralded rounds with a key of at least one bit (to ``rtol``).

    The argument x(n) of Upsilon in [N22] eq. 73, maximised over the free parameters, is
    smooth and increasing in n and the key is >= 1 bit exactly where x(n) >= 1: the root of
    x(n) = 1 is bracketed by decades and found by Brent's method in log n.

    Parameters
    ----------
    S, Q : float
        As :func:`finite_key`.
    rtol : float
        Relative resolution in n, default 1e-3 (the returned n has a key).
    n_max : float
        Largest n searched, default :data:`MAX_ROUNDS`.
    n_guess : float, optional
        Where to start bracketing (e.g. the answer at a neighbouring S, Q); default: decades
        from 1e3 up.
    **kwargs
        ``eps_sound``, ``eps_completeness``, ``ec_efficiency``, ``ec_margin``, ``gamma``,
        ``omega_thr``, ``completeness_sigmas``.

    Returns
    -------
    int or None
        None when even ``n_max`` rounds give no key (e.g. 1 - h(Q) - chi(S) <= 0).

    Examples
    --------
    >>> n = min_rounds(2.64, 0.018)
    >>> 5e5 < n < 2e6, finite_key(n, 2.64, 0.018).key_length_bits >= 1
    (True, True)
    """
    pb, _ = _prepare(1, S, Q, **kwargs)
    if float(asymptotic_key_per_round(pb.S, pb.Q)) <= 0.0:
        return None
    cache: dict = {}

    def x_of(log_n, start=None):
        n = float(math.floor(10.0 ** log_n))
        if n not in cache:
            sub = dataclasses.replace(pb, n=n)
            g, t, b1 = _optimise(sub, start)
            cache[n] = (float(_terms(sub, g, t, b1, refine=True)[0]), (g, t, b1))
        return cache[n]

    lo, start = None, None
    step = 1.0
    log_hi = 3.0
    if n_guess is not None and n_guess > 1.0:
        log_hi, step = min(math.log10(n_guess) + 0.15, math.log10(n_max)), 0.5
    while True:
        x, start = x_of(log_hi, start)
        if x >= 1.0:
            break
        lo = log_hi
        if 10.0 ** log_hi >= n_max:
            return None
        log_hi = min(log_hi + step, math.log10(n_max))
    if lo is None and n_guess is not None:  # step down until no key
        lo = log_hi
        while lo > 0.0:
            lo = max(lo - 0.3, 0.0)
            if x_of(lo, start)[0] < 1.0:
                break
    if lo is None:  # already 1e3 rounds suffice: search down to 1
        lo = 0.0
    best = start

    def f(log_n):
        nonlocal best
        x, st = x_of(log_n, best)
        best = st
        return x - 1.0

    if f(lo) >= 0.0:
        return 1
    root = brentq(f, lo, log_hi, xtol=0.4 * math.log10(1.0 + rtol))
    n = math.ceil(10.0 ** root)
    while x_of(math.log10(n), best)[0] < 1.0:  # step up past the root (within rtol)
        n = math.ceil(n * (1.0 + rtol / 10.0))
    return int(n)


def _start(r: FiniteKey):
    """The optimiser's start point from a result: (gamma, t, a' - 1)."""
    return (r.params["gamma"], r.params["t"], r.params["alpha1"] - 1.0)
