"""The protocol as a plain QuTiP user would write it: full-space Qobj operators, one by one.

This is the independent route that checks the simulator's shared protocol code
(``catbell_qutip/protocol.py``, which both engines run, so their agreement cannot see a
bug there) and the speed baseline of ``catbell bench speed``. Every step of
docs/model.md section 3 is a full-space operator on one register

    atom A (x) atom B [(x) ancilla] (x) light,   dims [2, 2, (2,) cutoff + 1],

built with :func:`qutip.tensor`, applied to one Qobj density matrix per classical record:

1. Alice encodes (docs/model.md 3.1 and 7). ``encoder="ideal"``: the light starts in
   |Theta_N> (cat: |0_N> ~ sum_k |alpha e^{2 pi i k/N}>, written as that sum of coherent
   kets). ``encoder="explicit"``: the light starts in the code's primitive (cat: |alpha>;
   below); in round j = 1..m the ancilla
   (a real tensor factor, in |+>) reflects the light with CR(2 pi / 2^j), gets the
   feed-forward phase exp(-2 pi i b / 2^j) on |down> (b the bits read so far;
   docs/model-notes.md, "Feed-forward in Alice's encoder"), and is measured in X by the
   Kraus operators |+><+| and |+><-| on the ancilla (measure, then reset to |+> for the
   next round). Every outcome r = sum_j t_j 2^(j-1) is kept as its own branch.
2. Atom A reflects the light with CR(pi/N); Alice's memory dephasing (phase-flip Kraus
   operators on A, factor exp(-t_w / t_c), docs/model.md 3.7); the channel loss
   eta * eta_c * eta_fibre(L) (docs/model.md 3.2).
3. Bob's syndrome (docs/model.md 3.3): the same ancilla rounds as step 1, outcome s.
4. Atom B (idle in |+> since the start) reflects the light with CR(pi/N); detector
   loss eta_d.
5. USD (docs/model.md 3.5) on the light: effects E_even, E_odd (below), then the partial
   trace over ancilla and light leaves the 4x4 record state of (r, s, outcome).
6. Pauli frame (docs/model.md 3.6), on B as 2-qubit Qobj operators: "smallest-loss"
   (j0 = (r - s) mod N; X on B for "odd", then diag(1, e^{-i phi}),
   phi = pi j0 / N (+ 2 pi s / N for "even")) or "ml" (per record, X-or-not and the phase
   that maximise the record's overlap with phi+).

eta_int (docs/model.md 3, "Imperfections"): the reflections of one attempt are Alice's m
encoding rounds (explicit encoder only), her entangling reflection, Bob's m syndrome
rounds and his entangling reflection. Placement "after" applies a pure loss eta_int right
after each of them, "before" right before each, and "lumped" none at the reflections but
eta_int^k on the channel (k = m + 2 ideal, 2m + 2 explicit). Every pure loss is the
channel with Kraus operators 1 (x) A_k, A_k = sum_n sqrt(C(n, k) eta^(n-k) (1 - eta)^k)
|n - k><n| on the light, applied as one superoperator (``qutip.kraus_to_super`` on the
light, ``qutip.super_tensor`` with the identity channel on the qubits).

Codes (docs/model.md section 7; :func:`code_state`), read from the raw fields ``code``,
``alpha``, ``squeezing``, ``binomial_m``, ``code_vector`` (absent fields mean the cat
code). Each is built in a large Fock space in extended precision, the tail beyond it
below 1e-40 or exactly zero, then truncated to the run's cutoff:

- "cat": primitive |alpha>, |Theta_N> its normalised projection on n = 0 mod N;
- "squeezed-cat": primitive D(alpha) S(r)|0>, S(r) = exp[(r/2)(a^2 - a^dag^2)], from the
  three-term recursion of its Fock amplitudes (:func:`squeezed_coherent_amplitudes`;
  the tests check it against qutip.displace * qutip.squeeze and the Hermite closed form);
- "binomial": |Theta_N> = 2^{-(M+1)/2} sum_k sqrt(C(M+1, k)) |k N> (M = N - 1 by default),
  which is also the explicit encoder's primitive;
- "vector": the user's amplitudes, supported on n = 0 mod N to 1e-12 (then projected and
  normalised), likewise its own primitive.

USD effects, both built here. "tub": the Ivanovic-Dieks-Peres POVM of two pure states by
Gram-Schmidt, E_u = |v_perp><v_perp| / (1 + |<u|v>|), generalised to every code
(:func:`code_tub_effects`): for the record (r, s), j0 = (r - s) mod N, u = a^{j0}
eta_det^{n/2} |Theta_r> and v = exp(i pi n/N) u, with |Theta_r> the normalised projection
of the primitive on n = r mod N (ideal encoder: r = 0, |Theta_N>) or, where that is empty
(a binomial or vector code after a lossy encoder round), a^{(-r mod N)}|Theta_N>
normalised; eta_det is the product of every transmission up to the detectors. For cats
u = P_s|beta>, v = P_s|beta e^{i pi/N}>, beta = alpha sqrt(eta_det) the amplitude that
reaches the detectors (:func:`tub_effects`, which the tests compare it with). Parallel
pairs (a branch left in one Fock state) get zero effects.
"linear" (cat codes only; other codes are refused): the 2N-mode scheme written as a
multi-mode computation. The input mode is split
into M = 2N equal modes (|n> -> sum over the multinomial splittings, done as M - 1
successive binomial beam-splitter splittings); mode j is displaced by -beta e^{i pi j/N}/
sqrt(M) and watched by an on/off detector with dark-click probability p_dark, so on the
undisplaced mode "no click" is (1 - p_dark) |gamma_j><gamma_j| (the displaced vacuum
projector, gamma_j = beta e^{i pi j/N} / sqrt(M)) and "click" is 1 minus that. A click
pattern's effect is the tensor product of these single-mode effects pulled back through
the splitting; "even" (logical 0) sums the patterns in which every odd-j mode (those
nulling logical-1 ring points) clicks and not every mode does, "odd" likewise with the
even-j modes. All terms are positive: no inclusion-exclusion. The tests check these
effects against click probabilities of coherent inputs computed directly,
prod_j (1 - p_dark) exp(-|zeta/sqrt(M) - gamma_j|^2).

What is independent and what is shared. Nothing here imports ``catbell_qutip.protocol``,
the engines, :mod:`catbell_qutip.operations` or :mod:`catbell_qutip.codes`: the coherent
amplitudes, the codewords, CR(theta), the loss Kraus operators, the ancilla rounds and
their feed-forward, both USD POVMs, both Pauli frames, the channel transmission (eta,
eta_c or eta_dc eta_uc, the fibre's 10^(-a_dB L / 10)), the memory factor, the lumped
eta_int^k and the amplitude at the detectors are written again here from docs/model.md.
Shared are the input, :class:`catbell_qutip.params.ProtocolParams` (only its raw fields
are read, none of its derived properties), and the conventions |up> = basis(2, 0), atom
order A, B. The spec's choices (the encoder's feed-forward, the TUB taken in the syndrome
sector, which click patterns are "even") are read from docs/model.md and
docs/model-notes.md, so a misreading of the spec that both share would not be caught.
The code fields are read with ``getattr`` (absent means the cat code) and checked here
again, so the module also runs on a stand-in that carries them unvalidated
(:func:`code_params` with ``raw=True``).

Truncation: every operation keeps or lowers photon numbers, so the only truncation is
the mass the cutoff drops from the initial light state, computed here from the tail of
its Fock amplitudes (exact normalisation from the coherent-state Gram matrix for cats,
from the large-space amplitudes for the other codes) and
returned as ``truncation_error``; :func:`baseline_run` refuses a cutoff that drops more
than ``tol`` times min(1, P). The mass sets the scale of the truncation error; cross
terms between kept and dropped amplitudes can make the change of P a few times the mass
(``tests/test_baseline.py`` checks a larger cutoff against it).

Numerics: QuTiP's ``auto_tidyup`` (zeroing entries below 1e-14 after sparse products) is
switched off during a run: at P ~ 1e-3 it alone moved F by ~2e-11. The TUB's
Gram-Schmidt runs in extended precision, since it cancels for weak light.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import qutip
from scipy.special import gammaln, xlogy

from catbell_qutip.params import ProtocolParams

__all__ = [
    "BaselineResult",
    "CodeState",
    "baseline_codes_points",
    "baseline_point",
    "baseline_run",
    "binomial_amplitudes",
    "code_cutoff",
    "code_params",
    "code_state",
    "code_tub_effects",
    "coherent_amplitudes",
    "linear_effects",
    "loss_kraus_ops",
    "squeezed_coherent_amplitudes",
    "tub_effects",
]

#: speed of light in fibre, m/s (docs/model.md section 4)
C_FIBRE = 2.0e8

UP, DOWN = qutip.basis(2, 0), qutip.basis(2, 1)
PLUS = (UP + DOWN).unit()
MINUS = (UP - DOWN).unit()
PHI_PLUS = (qutip.tensor(UP, UP) + qutip.tensor(DOWN, DOWN)).unit()
PLACEMENTS = ("after", "before", "lumped")
DECODERS = ("smallest-loss", "ml")


# -- light: amplitudes, initial states, loss -----------------------------------------------
def coherent_amplitudes(beta: complex, n_max: int) -> np.ndarray:
    """<n|beta> for n = 0..n_max: exp(-|beta|^2/2) beta^n / sqrt(n!), in log space."""
    n = np.arange(n_max + 1)
    r = abs(beta)
    logmag = xlogy(n, r) - 0.5 * r * r - 0.5 * gammaln(n + 1.0)
    return np.exp(logmag) * np.exp(1j * n * np.angle(beta))


def _initial_light(alpha: float, n_comp: int, explicit: bool, cutoff: int):
    """(ket on cutoff + 1 levels, dropped mass) of the light before encoding.

    Explicit encoder: |alpha>. Ideal encoder: |0_N> = sum_k |alpha w^k> / norm, w =
    e^{2 pi i / N}, norm^2 = sum_{k,k'} <alpha w^k|alpha w^k'> = N sum_d
    exp(|alpha|^2 (w^d - 1)) (untruncated). The dropped mass is the sum of |<n|psi>|^2
    over n > cutoff, up to where the Poisson tail is below 1e-40.
    """
    x = alpha * alpha
    n_hi = max(cutoff, int(math.ceil(x + 14 * math.sqrt(x) + 80)))
    if explicit:
        amps = coherent_amplitudes(alpha, n_hi)
    else:
        w = np.exp(2j * np.pi * np.arange(n_comp) / n_comp)
        amps = sum(coherent_amplitudes(alpha * wk, n_hi) for wk in w)
        norm2 = n_comp * float(np.real(np.sum(np.exp(x * (w - 1.0)))))
        amps = amps / math.sqrt(norm2)
    dropped = float(np.sum(np.abs(amps[cutoff + 1:]) ** 2))
    return qutip.Qobj(amps[: cutoff + 1]), dropped


@functools.lru_cache(maxsize=64)
def _loss_matrices(eta: float, cutoff: int) -> tuple[np.ndarray, ...]:
    n = np.arange(cutoff + 1)
    mats = []
    for k in range(cutoff + 1):
        A = np.zeros((cutoff + 1, cutoff + 1))
        m = n[k:]  # input photon numbers that can lose k
        logw = 0.5 * (gammaln(m + 1.0) - gammaln(k + 1.0) - gammaln(m - k + 1.0)
                      + xlogy(m - k, eta) + xlogy(k, 1.0 - eta))
        A[m - k, m] = np.exp(logw)
        mats.append(A)
    return tuple(mats)


def loss_kraus_ops(eta: float, cutoff: int) -> list[qutip.Qobj]:
    """Kraus operators A_k = sum_n sqrt(C(n,k) eta^(n-k) (1-eta)^k) |n-k><n| of pure loss."""
    return [qutip.Qobj(A) for A in _loss_matrices(float(eta), int(cutoff))]


# -- USD effects ---------------------------------------------------------------------------
def _coherent_ld(r: float, angle, n_max: int) -> np.ndarray:
    """<n|r e^{i angle}> in extended precision (complex256); ``angle`` a long double."""
    ld = np.longdouble
    n = np.arange(n_max + 1)
    logfact = np.concatenate([[ld(0)], np.cumsum(np.log(np.arange(1, n_max + 1, dtype=ld)))])
    r = ld(r)
    logr = np.log(r) if r > 0 else ld(-np.inf)
    logmag = np.where(n > 0, n * logr, ld(0)) - r * r / 2 - logfact / 2
    return np.exp(logmag) * np.exp(1j * angle * n.astype(ld))


#: below this norm the Gram-Schmidt remainder of two normalised states is rounding noise
#: (extended precision, ~1e-19): the states are parallel and cannot be told apart. A true
#: remainder this small would mean a success probability 1 - |c| < 1e-30.
PARALLEL = 1e-15


def _idp_effects(u: np.ndarray, v: np.ndarray):
    """(E_u, E_v) of the Ivanovic-Dieks-Peres POVM of two pure states (extended precision).

    Gram-Schmidt: E_u = |v_perp><v_perp| / (1 + |c|), v_perp = (u - v <v|u>) normalised,
    c = <u|v> after normalising u and v; likewise E_v. Zero when either state is empty,
    or when they are parallel (remainder below :data:`PARALLEL`: e.g. a binomial branch
    that leaves a single Fock state, whose rotation only changes its phase).
    """
    n_dim = len(u)
    nu, nv = np.sqrt(np.sum(np.abs(u) ** 2)), np.sqrt(np.sum(np.abs(v) ** 2))
    zero = np.zeros((n_dim, n_dim), dtype=complex)
    if nu == 0 or nv == 0:
        return zero, zero
    u, v = u / nu, v / nv
    c = np.vdot(u, v)
    out = []
    for target, other in ((u, v), (v, u)):
        perp = target - other * np.vdot(other, target)
        nrm = np.sqrt(np.sum(np.abs(perp) ** 2))
        if nrm < PARALLEL:
            out.append(zero)
            continue
        perp = perp / nrm
        out.append((np.outer(perp, perp.conj()) / (1 + abs(c))).astype(complex))
    return out[0], out[1]


def tub_effects(n_comp: int, sector: int, beta: float, cutoff: int):
    """(E_even, E_odd) IDP effects for u = P_s|beta>, v = P_s|beta e^{i pi/N}> (numpy).

    Gram-Schmidt: E_u = |v_perp><v_perp| / (1 + |c|), v_perp = (u - v <v|u>) normalised,
    c = <u|v>; likewise E_v. Zero when either state is empty (docs/model.md 3.5).
    Gram-Schmidt cancels when 1 - |c| is small (weak light), so it runs in extended
    precision (~1e-19) and is rounded to complex128 at the end. The cat-code case of
    :func:`code_tub_effects`, kept as the reference it is tested against.
    """
    ld = np.longdouble
    pi = 4 * np.arctan(ld(1))
    n = np.arange(cutoff + 1)
    mask = n % n_comp == sector
    u = np.where(mask, _coherent_ld(beta, ld(0), cutoff), 0)
    v = np.where(mask, _coherent_ld(beta, pi / n_comp, cutoff), 0)
    return _idp_effects(u, v)


# -- codes of docs/model.md section 7: the primitive and |Theta_N> in a large Fock space -----
CODES = ("cat", "squeezed-cat", "binomial", "vector")

#: a sector projection whose mass is exactly zero is "empty" (the generalised TUB then
#: falls back to a^j |Theta_N>); no threshold: every construction below gives exact zeros
#: where the state has no support


def squeezed_coherent_amplitudes(alpha: float, r: float, n_max: int,
                                 dtype=np.float64) -> np.ndarray:
    """Fock amplitudes <n| D(alpha) S(r) |0> of a displaced squeezed vacuum, n = 0..n_max.

    Convention of docs/model.md section 7: S(r) = exp[(r/2)(a^2 - a^dag^2)] (r > 0
    squeezes the amplitude quadrature x), alpha >= 0 real, so every amplitude is real.

    D S|0> is the eigenstate of b = a cosh r + a^dag sinh r (= D S a S^dag D^dag +
    alpha e^r) with eigenvalue alpha e^r, which gives the three-term recursion

        c_{n+1} = (alpha e^r c_n - sinh(r) sqrt(n) c_{n-1}) / (cosh(r) sqrt(n + 1)),
        c_0 = exp(-alpha^2 (1 + tanh r) / 2) / sqrt(cosh r),

    the recursion of the Hermite closed form c_n = c_0 (tanh(r)/2)^(n/2) H_n(alpha e^r /
    sqrt(sinh 2r)) / sqrt(n!) (r > 0). At r = 0 it is the coherent state |alpha>.

    Parameters
    ----------
    alpha : float
        Displacement, >= 0 (dimensionless).
    r : float
        Squeezing parameter (dimensionless, any sign).
    n_max : int
        Largest photon number returned.
    dtype : numpy dtype
        ``np.longdouble`` for the extended-precision TUB.

    Returns
    -------
    ndarray
        Real amplitudes, shape (n_max + 1,).

    Examples
    --------
    >>> c = squeezed_coherent_amplitudes(0.0, 0.5, 200)
    >>> bool(abs(c[2] + c[0] * math.tanh(0.5) / math.sqrt(2)) < 1e-15)  # squeezed vacuum
    True
    """
    alpha, r = dtype(alpha), dtype(r)
    ch, sh = np.cosh(r), np.sinh(r)
    gamma = alpha * np.exp(r)
    c = np.zeros(n_max + 1, dtype=dtype)
    c[0] = np.exp(-alpha * alpha * (1 + np.tanh(r)) / 2) / np.sqrt(ch)
    if n_max >= 1:
        c[1] = gamma * c[0] / ch
    for n in range(1, n_max):
        c[n + 1] = (gamma * c[n] - sh * np.sqrt(dtype(n)) * c[n - 1]) / (ch * np.sqrt(dtype(n + 1)))
    return c


def binomial_amplitudes(n_comp: int, m: int, dtype=np.float64) -> np.ndarray:
    """|Theta_N> of the binomial code: 2^{-(M+1)/2} sum_{k=0}^{M+1} sqrt(C(M+1, k)) |k N>.

    Parameters
    ----------
    n_comp : int
        N = l + 1, the spacing of the occupied Fock states.
    m : int
        M >= 0 (M = N - 1 corrects N - 1 losses).
    dtype : numpy dtype
        Float type of the result.

    Returns
    -------
    ndarray
        Amplitudes on n = 0..(M + 1) N.

    Examples
    --------
    >>> np.round(binomial_amplitudes(2, 1) ** 2, 12)  # the kitten (|0> + sqrt2 |2> + |4>)/2
    array([0.25, 0.  , 0.5 , 0.  , 0.25])
    """
    amps = np.zeros((m + 1) * n_comp + 1, dtype=dtype)
    for k in range(m + 2):
        amps[k * n_comp] = np.sqrt(dtype(math.comb(m + 1, k))) / np.sqrt(dtype(2) ** (m + 1))
    return amps


def _lower(amps: np.ndarray, j: int) -> np.ndarray:
    """a^j applied to Fock amplitudes: out[n - j] = sqrt(n! / (n - j)!) amps[n] (same length)."""
    if j == 0:
        return amps.copy()
    n = np.arange(len(amps))
    fac = np.ones(len(amps), dtype=np.longdouble)
    for i in range(j):
        fac = fac * np.maximum(n - i, 0).astype(np.longdouble)
    out = np.zeros_like(amps)
    out[: len(amps) - j] = (np.sqrt(fac) * amps)[j:]
    return out


@dataclass(frozen=True)
class CodeState:
    """A code of docs/model.md section 7 in a large Fock space (extended precision).

    ``primitive`` is |psi>, what the explicit encoder starts from (cat |alpha>, squeezed
    cat D(alpha) S(r)|0>, binomial and user vector |Theta_N> itself); ``codeword`` is
    |Theta_N>, the normalised projection of |psi> on n = 0 mod N. Both are complex
    long-double amplitudes on n = 0..n_hi, n_hi far enough that the tail beyond is
    negligible (< 1e-40) or exactly zero.
    """

    family: str
    n_comp: int
    primitive: np.ndarray = field(repr=False)
    codeword: np.ndarray = field(repr=False)

    def sector_state(self, r: int) -> np.ndarray:
        """|Theta_r>: the normalised projection of |psi> on n = r mod N or, where that is
        empty (only possible after lossy encoder rounds), normalised a^{(-r mod N)}|Theta_N>."""
        n = np.arange(len(self.primitive))
        proj = np.where(n % self.n_comp == r, self.primitive, 0)
        nrm2 = np.sum(np.abs(proj) ** 2)
        if nrm2 == 0:
            proj = _lower(self.codeword, (-r) % self.n_comp)
            nrm2 = np.sum(np.abs(proj) ** 2)
        return proj / np.sqrt(nrm2)

    def light(self, explicit: bool, cutoff: int) -> tuple[qutip.Qobj, float]:
        """(ket of the light on cutoff + 1 levels, dropped mass): |psi> (explicit encoder)
        or |Theta_N> (ideal encoder) truncated; the mass is sum_{n > cutoff} |<n|.>|^2."""
        amps = self.primitive if explicit else self.codeword
        dropped = float(np.sum(np.abs(amps[cutoff + 1:]) ** 2))
        return qutip.Qobj(amps[: cutoff + 1].astype(complex)), dropped


def _field(params, name: str, default=None):
    """A raw code field of ``params`` (default while ProtocolParams does not carry it)."""
    return getattr(params, name, default)


def code_state(params, cutoff: int) -> CodeState:
    """The code of ``params`` (raw fields ``code``, ``alpha``, ``squeezing``, ``binomial_m``,
    ``code_vector``, ``loss_order``) built from docs/model.md section 7, on n = 0..n_hi with
    n_hi >= cutoff + 40.

    Raises
    ------
    ValueError
        For an unknown code, a binomial M that is not an integer >= 0, a vector that is
        zero, not finite, or has support off n = 0 mod N beyond 1e-12 of its norm, or a
        squeezing whose Fock distribution would need more than 10^5 levels.
    """
    family = _field(params, "code", "cat") or "cat"
    N = int(params.loss_order) + 1
    ld = np.longdouble
    n_hi = int(cutoff) + 40
    if family == "cat":
        x = float(params.alpha) ** 2
        n_hi = max(n_hi, int(math.ceil(x + 14 * math.sqrt(x) + 80)))
        prim = _coherent_ld(float(params.alpha), ld(0), n_hi)
    elif family == "squeezed-cat":
        alpha, r = float(params.alpha), float(_field(params, "squeezing", 0.0) or 0.0)
        n_hi = max(n_hi, int(math.ceil(alpha * alpha + 14 * alpha + 80)))
        while True:  # extend until the tail is negligible and the norm is 1
            prim = squeezed_coherent_amplitudes(alpha, r, n_hi, ld)
            tail = float(np.sum(prim[-20:] ** 2))
            if tail < 1e-40 and abs(float(np.sum(prim ** 2)) - 1.0) < 1e-13:
                break
            if n_hi > 100_000:
                raise ValueError(f"squeezing {r} with alpha {alpha} needs more than 10^5 "
                                 "Fock levels; use |squeezing| of a few units at most")
            n_hi *= 2
        prim = prim.astype(np.clongdouble)
    elif family == "binomial":
        m = _field(params, "binomial_m")
        m = N - 1 if m is None else m
        if isinstance(m, bool) or not float(m).is_integer() or m < 0:
            raise ValueError(f"binomial_m must be an integer >= 0, got {m!r}")
        amps = binomial_amplitudes(N, int(m), ld)
        prim = np.zeros(max(n_hi, len(amps) - 1) + 1, dtype=np.clongdouble)
        prim[: len(amps)] = amps
    elif family == "vector":
        vec = _field(params, "code_vector")
        if vec is None:
            raise ValueError("code='vector' needs code_vector (Fock amplitudes of |Theta_N>)")
        vec = vec.full() if hasattr(vec, "full") else vec
        v = np.asarray(vec, dtype=complex).ravel()
        nrm = float(np.linalg.norm(v))
        if not np.all(np.isfinite(v)) or nrm == 0:
            raise ValueError("code_vector must be finite and non-zero")
        off = np.arange(len(v)) % N != 0
        if np.any(np.abs(v[off]) > 1e-12 * nrm):
            raise ValueError(f"code_vector must be supported on n = 0 mod {N} (loss order "
                             f"{N - 1}) to 1e-12")
        v = np.where(off, 0, v)
        prim = np.zeros(max(n_hi, len(v) - 1) + 1, dtype=np.clongdouble)
        prim[: len(v)] = v
        prim = prim / np.sqrt(np.sum(np.abs(prim) ** 2))
    else:
        raise ValueError(f"unknown code {family!r}; expected one of {CODES}")
    n = np.arange(len(prim))
    theta = np.where(n % N == 0, prim, 0)
    nrm2 = np.sum(np.abs(theta) ** 2)
    if nrm2 == 0:
        raise ValueError(f"the {family} primitive has no weight on n = 0 mod {N}")
    return CodeState(family, N, prim, theta / np.sqrt(nrm2))


def code_tub_effects(theta_r: np.ndarray, n_comp: int, j0: int, eta_det: float,
                     cutoff: int):
    """(E_even, E_odd) of the generalised TUB (docs/model.md section 7), numpy arrays.

    The IDP POVM of the two states Bob would hold had exactly j0 photons been lost:
    |e> = a^{j0} eta_det^{n/2} |Theta_r> and |o> = exp(i pi n / N) |e> (normalised after
    truncation to ``cutoff``), with Gram-Schmidt in extended precision. For a cat code
    (|Theta_r> = P_r|alpha>) this is :func:`tub_effects` at beta = alpha sqrt(eta_det)
    in the sector s = (r - j0) mod N.

    Parameters
    ----------
    theta_r : ndarray
        Fock amplitudes of |Theta_r> (:meth:`CodeState.sector_state`), longer than
        cutoff + j0 where it has weight.
    n_comp : int
        N.
    j0 : int
        The smallest loss consistent with the records, (r - s) mod N.
    eta_det : float
        Product of every transmission the light meets up to the detectors, in [0, 1].
    cutoff : int
        Largest photon number of the run.
    """
    ld = np.longdouble
    pi = 4 * np.arctan(ld(1))
    n = np.arange(len(theta_r))
    damped = theta_r * np.power(ld(eta_det), n.astype(ld) / 2)
    e = _lower(damped, int(j0))[: cutoff + 1]
    o = e * np.exp(1j * pi * np.arange(cutoff + 1).astype(ld) / n_comp)
    return _idp_effects(e, o)


def _split_pullback(F: np.ndarray, G: np.ndarray, t: float) -> np.ndarray:
    """Effect on one mode of (F on mode a) (x) (G on mode b) after splitting it into a
    (transmission t) and b (1 - t): |n> -> sum_k sqrt(C(n,k) t^k (1-t)^(n-k)) |k>_a |n-k>_b.
    """
    c1 = F.shape[0]
    n = np.arange(c1)
    nk = n[:, None] - n[None, :]
    valid = nk >= 0
    nk = np.where(valid, nk, 0)
    logb = 0.5 * (gammaln(n[:, None] + 1.0) - gammaln(n[None, :] + 1.0) - gammaln(nk + 1.0)
                  + xlogy(n[None, :], t) + xlogy(nk, 1.0 - t))
    B = np.where(valid, np.exp(logb), 0.0)  # B[n, k]
    Gs = G[nk[:, :, None, None], nk[None, None, :, :]]  # Gs[n, k, m, q] = G[n-k, m-q]
    T = B[:, :, None, None] * B[None, None, :, :] * F[None, :, None, :] * Gs
    return T.sum(axis=(1, 3))


def _pattern_effect(single: list[np.ndarray]) -> np.ndarray:
    """Pull (x)_j single[j] back through the equal M-way split of the input mode."""
    M = len(single)
    eff = single[-1]
    for j in range(M - 2, -1, -1):
        eff = _split_pullback(single[j], eff, 1.0 / (M - j))
    return eff


@functools.lru_cache(maxsize=32)
def _linear_cached(n_comp: int, beta: float, cutoff: int, p_dark: float):
    M = 2 * n_comp
    no_click, click = [], []
    for j in range(M):
        g = coherent_amplitudes(beta * np.exp(1j * np.pi * j / n_comp) / math.sqrt(M), cutoff)
        nc = (1.0 - p_dark) * np.outer(g, g.conj())
        no_click.append(nc)
        click.append(np.eye(cutoff + 1) - nc)
    effects = []
    for must in (1, 0):  # "even": every odd-j mode clicks; "odd": every even-j mode
        free = [j for j in range(M) if j % 2 != must]
        total = np.zeros((cutoff + 1, cutoff + 1), dtype=complex)
        for pattern in itertools.product((0, 1), repeat=len(free)):
            if all(pattern):
                continue  # every mode clicks: inconclusive
            single = [click[j] for j in range(M)]
            for j, clicked in zip(free, pattern, strict=True):
                if not clicked:
                    single[j] = no_click[j]
            total = total + _pattern_effect(single)
        total.flags.writeable = False
        effects.append(total)
    return tuple(effects)


def linear_effects(n_comp: int, beta: float, cutoff: int, p_dark: float = 0.0):
    """(E_even, E_odd) of the 2N-mode linear-optics USD (module docstring; numpy)."""
    return _linear_cached(int(n_comp), float(beta), int(cutoff), float(p_dark))


# -- the register ---------------------------------------------------------------------------
@functools.lru_cache(maxsize=32)
def _loss_superoperator(eta: float, cutoff: int, n_qubits: int) -> qutip.Qobj:
    """kraus_to_super of the loss Kraus operators on the light, super_tensor'ed with the
    identity channel on the qubits: the whole Kraus sum is one sparse product (adding
    dense Qobj term by term is slow under QuTiP's threaded BLAS on a loaded machine)."""
    light = qutip.kraus_to_super(loss_kraus_ops(eta, cutoff)).to("csr")
    qubits = qutip.to_super(qutip.qeye([2] * n_qubits)).to("csr")
    return qutip.super_tensor(qubits, light).to("csr")


def _sandwich(K: qutip.Qobj, rho: qutip.Qobj) -> qutip.Qobj:
    """K rho K^dagger, written K (K rho^dagger)^dagger: QuTiP 5's sparse-times-dense
    product is fast, its dense-times-sparse one is not."""
    return K * (K * rho.dag()).dag()


class _Register:
    """Atoms A, B, optionally one ancilla, and the light: full-space operators."""

    def __init__(self, n_rounds: int, cutoff: int):
        self.qubits = ["A", "B"] + (["anc"] if n_rounds else [])
        self.cutoff = cutoff
        self.light_dim = cutoff + 1
        self.n = np.arange(cutoff + 1)

    def op(self, light=None, **qubit_ops) -> qutip.Qobj:
        factors = [qubit_ops.get(q, qutip.qeye(2)) for q in self.qubits]
        factors.append(light if light is not None else qutip.qeye(self.light_dim))
        return qutip.tensor(*factors).to("csr")

    def cr(self, qubit: str, theta: float) -> qutip.Qobj:
        """CR(theta) = |up><up| (x) 1 + |down><down| (x) exp(i theta n) (docs/model.md 1)."""
        rot = qutip.Qobj(np.diag(np.exp(1j * theta * self.n)))
        return self.op(**{qubit: UP.proj()}) + self.op(rot, **{qubit: DOWN.proj()})

    def loss(self, rho: qutip.Qobj, eta: float) -> qutip.Qobj:
        """The pure loss on the light: the superoperator 1 (x) sum_k A_k . A_k^dagger."""
        if eta == 1.0:
            return rho
        S = _loss_superoperator(float(eta), self.cutoff, len(self.qubits))
        return qutip.vector_to_operator(S * qutip.operator_to_vector(rho))

    def dephase_a(self, rho: qutip.Qobj, factor: float) -> qutip.Qobj:
        if factor == 1.0:
            return rho
        Z = self.op(A=qutip.sigmaz())
        return 0.5 * (1 + factor) * rho + 0.5 * (1 - factor) * _sandwich(Z, rho)


@dataclass
class BaselineResult:
    """What :func:`baseline_run` returns.

    ``records`` maps (r, s, "even" | "odd") to (probability, corrected unnormalised 4x4
    state); ``raw`` holds the same records before the Pauli frame; ``inconclusive``
    maps (r, s) to the probability of the inconclusive outcome. ``eta_detector`` is the
    product of every transmission up to the detectors (dimensionless), ``beta_detector``
    = alpha sqrt(eta_detector) (meaningful for cat codes), ``code`` the code family.
    """

    P: float
    F: float
    rho: np.ndarray
    records: dict = field(repr=False)
    raw: dict = field(repr=False)
    inconclusive: dict = field(repr=False)
    cutoff: int
    truncation_error: float
    beta_detector: float
    eta_detector: float
    code: str


def _channel(params: ProtocolParams) -> float:
    """eta * eta_c * 10^(-a_dB L / 10), eta_c = eta_dc * eta_uc when given as the pair."""
    if params.eta_c is not None:
        conv = float(params.eta_c)
    else:
        conv = (1.0 if params.eta_dc is None else float(params.eta_dc)) * \
               (1.0 if params.eta_uc is None else float(params.eta_uc))
    fibre = 10.0 ** (-float(params.db_per_km) * float(params.length_km) / 10.0)
    return float(params.eta) * conv * fibre


def _memory_factor(params: ProtocolParams) -> float:
    """exp(-t_w / t_c), t_w = (1, 2 or 0) x L / c_f by the wait rule (docs/model.md 3.7)."""
    t_c = float(params.t_c_s)
    if math.isinf(t_c):
        return 1.0
    t_w = {"one-way": 1.0, "round-trip": 2.0, "none": 0.0}[params.wait_rule] * \
        float(params.length_km) * 1e3 / C_FIBRE
    return math.exp(-t_w / t_c)


def _readout(reg: _Register, branches, n_rounds: int, lossy) -> list:
    """Ancilla rounds with feed-forward on every branch (docs/model.md 3.1, 3.3).

    ``lossy(rho, cr)`` applies one reflection with its eta_int loss. Returns
    [(bits, rho)] with every outcome kept.
    """
    for j in range(1, n_rounds + 1):
        nxt = []
        cr = reg.cr("anc", 2 * np.pi / 2 ** j)
        for bits, rho in branches:
            rho = lossy(rho, cr)
            ph = reg.op(anc=qutip.Qobj(np.diag([1.0, np.exp(-2j * np.pi * bits / 2 ** j)])))
            rho = _sandwich(ph, rho)
            for t, bra in ((0, PLUS), (1, MINUS)):
                K = reg.op(anc=PLUS * bra.dag())  # X measurement, then reset to |+>
                nxt.append((bits + (t << (j - 1)), _sandwich(K, rho)))
        branches = nxt
    return branches


def _frame(raw: np.ndarray, n_comp: int, r: int, s: int, outcome: str, decoder: str):
    """Bob's correction on B of one unnormalised 4x4 record state (docs/model.md 3.6)."""
    rho = qutip.Qobj(raw, dims=[[2, 2], [2, 2]])
    if decoder == "smallest-loss":
        j0 = (r - s) % n_comp
        flip = outcome == "odd"
        phi = np.pi * j0 / n_comp + (2 * np.pi * s / n_comp if outcome == "even" else 0.0)
    else:  # "ml": the X-or-not and phase maximising <phi+|rho|phi+>
        keep = 0.5 * (raw[0, 0] + raw[3, 3]).real + abs(raw[0, 3])
        swap = 0.5 * (raw[1, 1] + raw[2, 2]).real + abs(raw[1, 2])
        flip = bool(swap > keep)  # a tie keeps B as it is
        phi = -np.angle(raw[1, 2] if flip else raw[0, 3])
    if flip:
        XB = qutip.tensor(qutip.qeye(2), qutip.sigmax())
        rho = XB * rho * XB
    RB = qutip.tensor(qutip.qeye(2), qutip.Qobj(np.diag([1.0, np.exp(-1j * phi)])))
    return (RB * rho * RB.dag()).full()


def baseline_run(params: ProtocolParams, cutoff: int, *, tol: float = 1e-10) -> BaselineResult:
    """Run one protocol point with full-space QuTiP operators (see the module docstring).

    Parameters
    ----------
    params : ProtocolParams
        A single point; any loss order (the linear-optics USD costs 2^(2N) mode patterns,
        so keep it to l <= 1 in practice), either encoder, USD, eta_int placement, decoder,
        and any code of docs/model.md section 7 (``code``, ``squeezing``, ``binomial_m``,
        ``code_vector``; non-cat codes with ``usd="tub"`` only).
    cutoff : int
        Fock cutoff (largest photon number kept).
    tol : float
        Largest allowed dropped mass, relative to min(1, P); raises ValueError beyond.
    """
    if params.batch_shape != ():
        raise ValueError("baseline_run takes a single parameter point")
    # QuTiP's default auto_tidyup zeroes entries below 1e-14 after sparse operations; at
    # small P that alone moves F by ~1e-11, so it is switched off here.
    # (set directly: the CoreOptions context manager costs ~20 ms per use)
    core = qutip.settings.core
    saved = core["auto_tidyup"]
    core["auto_tidyup"] = False
    try:
        return _run(params, int(cutoff), tol)
    finally:
        core["auto_tidyup"] = saved


def _run(params: ProtocolParams, cutoff: int, tol: float) -> BaselineResult:
    placement, decoder = params.eta_int_placement, params.decoder
    if placement not in PLACEMENTS or decoder not in DECODERS:
        raise ValueError(f"unknown placement {placement!r} or decoder {decoder!r}")
    family = _field(params, "code", "cat") or "cat"
    if family != "cat" and (params.usd != "tub" or float(params.p_dark) > 0):
        raise ValueError(f"code {family!r} needs usd='tub' and p_dark = 0: the linear-optics "
                         "USD and its dark counts are a cat-code scheme (docs/model.md 7)")
    N = params.loss_order + 1
    m = N.bit_length() - 1
    explicit = params.encoder == "explicit"
    # alpha: the displacement of cat and squeezed-cat codes (None or unused for the others)
    alpha = 0.0 if params.alpha is None else float(params.alpha)
    eta_int = float(params.eta_int)
    n_reflections = (2 * m + 2) if explicit else (m + 2)
    eta_ch = _channel(params)
    if placement == "lumped":
        eta_ch *= eta_int ** n_reflections
    at_reflection = eta_int if placement != "lumped" else 1.0
    eta_d = float(params.eta_d)
    reg = _Register(m, cutoff)

    def lossy(rho, cr):
        """One reflection with its eta_int loss, placed per ``eta_int_placement``."""
        if placement == "before":
            rho = reg.loss(rho, at_reflection)
        rho = _sandwich(cr, rho)
        if placement == "after":
            rho = reg.loss(rho, at_reflection)
        return rho

    code = code_state(params, cutoff)
    if code.family == "cat":
        light, dropped = _initial_light(alpha, N, explicit, cutoff)
    else:
        light, dropped = code.light(explicit, cutoff)
    qubits = {"A": PLUS, "B": PLUS, "anc": PLUS}
    psi = qutip.tensor(*[qubits[q] for q in reg.qubits], light)
    rho0 = (psi * psi.dag()).to("dense")

    # 1. Alice encodes
    encoded = _readout(reg, [(0, rho0)], m, lossy) if explicit else [(0, rho0)]
    # 2. Alice's entangling reflection, memory, channel
    cr_a, cr_b = reg.cr("A", np.pi / N), reg.cr("B", np.pi / N)
    mem = _memory_factor(params)
    after_alice = []
    for r, rho in encoded:
        rho = lossy(rho, cr_a)
        rho = reg.dephase_a(rho, mem)
        after_alice.append((r, reg.loss(rho, eta_ch)))
    # the amplitude reaching the detectors: every loss of one branch, in order
    stages = [at_reflection] * (m if explicit else 0) + [at_reflection, eta_ch] \
        + [at_reflection] * m + [at_reflection, eta_d]
    eta_det = math.prod(stages)
    beta = alpha * math.sqrt(eta_det)

    if params.usd == "tub":
        def effects(r, s):
            """The generalised TUB for the record (r, s) (docs/model.md section 7)."""
            return code_tub_effects(code.sector_state(r), N, (r - s) % N, eta_det, cutoff)
    else:
        def effects(r, s):
            return linear_effects(N, beta, cutoff, float(params.p_dark))

    raw, records, inconclusive = {}, {}, {}
    for r, rho_r in after_alice:
        # 3. syndrome
        for s, rho in _readout(reg, [(0, rho_r)], m, lossy):
            # 4. Bob entangles; detector loss
            rho = reg.loss(lossy(rho, cr_b), eta_d)
            total = float(np.real(rho.tr()))
            conclusive = 0.0
            # 5. USD on the light; 6. Pauli frame
            for outcome, E in zip(("even", "odd"), effects(r, s), strict=True):
                rab = (reg.op(qutip.Qobj(E)) * rho).ptrace([0, 1]).full()
                raw[(r, s, outcome)] = rab
                corr = _frame(rab, N, r, s, outcome, decoder)
                p = float(np.real(np.trace(corr)))
                records[(r, s, outcome)] = (p, corr)
                conclusive += p
            inconclusive[(r, s)] = total - conclusive
    rho_h = sum(c for _, c in records.values())
    P = float(np.real(np.trace(rho_h)))
    if not P > 0:
        raise ValueError(f"no attempt succeeds (P = {P:g})")
    if dropped > tol * min(1.0, P):
        raise ValueError(f"cutoff {cutoff} drops mass {dropped:.3g} > {tol:g} min(1, P = {P:.3g})")
    rho_n = rho_h / P
    F = float(np.real(PHI_PLUS.full().conj().T @ rho_n @ PHI_PLUS.full())[0, 0])
    return BaselineResult(P=P, F=F, rho=rho_n, records=records, raw=raw,
                          inconclusive=inconclusive, cutoff=int(cutoff),
                          truncation_error=dropped, beta_detector=beta,
                          eta_detector=eta_det, code=code.family)


def baseline_point(params: ProtocolParams, cutoff: int) -> tuple[float, float]:
    """(P, F) of :func:`baseline_run` (what ``catbell bench speed`` times)."""
    res = baseline_run(params, cutoff)
    return res.P, res.F


# -- the code fields of ProtocolParams, and the points of the engine comparison ------------
CODE_FIELDS = ("code", "squeezing", "binomial_m", "code_vector")


class _WithCode:
    """A ProtocolParams with the raw code fields set beside it, unvalidated."""

    def __init__(self, base: ProtocolParams, code="cat", squeezing=0.0, binomial_m=None,
                 code_vector=None):
        self._base = base
        self.code, self.squeezing = code, squeezing
        self.binomial_m, self.code_vector = binomial_m, code_vector

    def __getattr__(self, name):
        return getattr(self._base, name)

    def __repr__(self):
        return (f"{self._base!r} + code={self.code!r}, squeezing={self.squeezing!r}, "
                f"binomial_m={self.binomial_m!r}, code_vector={self.code_vector!r}")


def code_params(*, raw: bool = False, **kw):
    """``ProtocolParams(**kw)``; with ``raw=True`` a stand-in that carries the code fields
    (``code``, ``squeezing``, ``binomial_m``, ``code_vector``) as given, unvalidated, next
    to a ProtocolParams of the other fields: what the tests use to reach this module's
    own checks, and what runs where ProtocolParams has no code fields.

    Examples
    --------
    >>> p = code_params(loss_order=1, code="binomial", binomial_m=1, eta=0.5)
    >>> p.code, p.binomial_m, p.eta
    ('binomial', 1, 0.5)
    >>> code_params(raw=True, loss_order=1, code="gkp").code
    'gkp'
    """
    names = {f.name for f in dataclasses.fields(ProtocolParams)}
    if not raw and "code" in names:
        return ProtocolParams(**kw)
    code_kw = {k: kw.pop(k) for k in CODE_FIELDS if k in kw}
    return _WithCode(ProtocolParams(**kw), **code_kw)


def code_cutoff(params, mass: float = 1e-14) -> int:
    """The smallest cutoff at which the initial light of ``params`` drops less than
    ``mass`` (docs/model.md section 7 codes; the baseline's own choice, for standalone runs).

    Examples
    --------
    >>> code_cutoff(code_params(loss_order=1, code="binomial", binomial_m=1))  # kitten: n <= 4
    4
    """
    explicit = params.encoder == "explicit"
    amps = code_state(params, 0)
    amps = amps.primitive if explicit else amps.codeword
    tail = np.cumsum((np.abs(amps) ** 2)[::-1])[::-1]  # tail[c] = mass on n >= c
    tail = np.append(tail, 0.0)
    return int(np.argmax(tail[1:] < mass))


#: common imperfections of :func:`baseline_codes_points`: every one on
_IMPERFECT = dict(eta_int=0.9, eta_c=0.8, length_km=1.5, t_c_s=2e-4, eta_d=0.92)
_KITE = (0.6, 0.0, 0.48j, 0.0, 0.64)  # a user vector, N = 2, complex, normalised


def baseline_codes_points() -> dict[str, dict]:
    """Protocol points (name -> ProtocolParams keyword arguments) across the codes of
    docs/model.md section 7, for the engine-vs-baseline comparison.

    Squeezed cat, binomial and user vectors at l = 0, 1, 3; both encoders, all three
    eta_int placements, both decoders; eta_int, eta_c (or eta_dc/eta_uc), fibre, memory
    and eta_d on at every point; two heavy-loss points where the decoders differ. Each
    runs in well under 2 s in :func:`baseline_run` at :func:`code_cutoff` (the module's
    test file times them).

    Examples
    --------
    >>> pts = baseline_codes_points()
    >>> len(pts) >= 20, sorted({kw["code"] for kw in pts.values()})
    (True, ['binomial', 'squeezed-cat', 'vector'])
    """
    sq, bi, ve = "squeezed-cat", "binomial", "vector"
    c = _IMPERFECT
    pts = {
        # l = 0 (N = 1)
        "sq l=0 ideal after sl": dict(loss_order=0, code=sq, alpha=1.2, squeezing=0.3, **c),
        "sq l=0 explicit before ml": dict(loss_order=0, code=sq, alpha=1.0, squeezing=-0.25,
                                          encoder="explicit", eta_int_placement="before",
                                          decoder="ml", **c),
        "sq l=0 ideal lumped round-trip dc/uc": dict(
            loss_order=0, code=sq, alpha=0.9, squeezing=0.4, eta_int=0.85, eta_dc=0.8,
            eta_uc=0.7, length_km=3.0, t_c_s=1e-4, wait_rule="round-trip", eta_d=0.95,
            eta_int_placement="lumped"),
        "bin l=0 M=0 ideal lumped ml": dict(loss_order=0, code=bi, binomial_m=0,
                                            eta_int_placement="lumped", decoder="ml", **c),
        "bin l=0 M=2 explicit after sl": dict(loss_order=0, code=bi, binomial_m=2,
                                              encoder="explicit", **c),
        "vec l=0 ideal before sl": dict(loss_order=0, code=ve,
                                        code_vector=(0.8, 0.36j, 0.48), eta_int_placement=
                                        "before", **c),
        # l = 1 (N = 2)
        "sq l=1 ideal after sl": dict(loss_order=1, code=sq, alpha=1.5, squeezing=0.3, **c),
        "sq l=1 explicit before ml": dict(loss_order=1, code=sq, alpha=1.3, squeezing=-0.2,
                                          encoder="explicit", eta_int_placement="before",
                                          decoder="ml", **c),
        "sq l=1 explicit lumped sl dc/uc": dict(
            loss_order=1, code=sq, alpha=1.4, squeezing=0.35, encoder="explicit",
            eta_int_placement="lumped", eta_int=0.9, eta_dc=0.85, eta_uc=0.9,
            length_km=1.0, t_c_s=3e-4, eta_d=0.9),
        "bin l=1 kitten ideal after sl": dict(loss_order=1, code=bi, binomial_m=1, **c),
        "bin l=1 kitten explicit before ml": dict(loss_order=1, code=bi, binomial_m=1,
                                                  encoder="explicit", decoder="ml",
                                                  eta_int_placement="before", **c),
        "bin l=1 M=2 explicit after sl": dict(loss_order=1, code=bi, binomial_m=2,
                                              encoder="explicit", **c),
        "bin l=1 M=0 ideal lumped ml": dict(loss_order=1, code=bi, binomial_m=0,
                                            eta_int_placement="lumped", decoder="ml", **c),
        "bin l=1 default M explicit lumped sl": dict(loss_order=1, code=bi,
                                                     encoder="explicit",
                                                     eta_int_placement="lumped", **c),
        "vec l=1 ideal before ml": dict(loss_order=1, code=ve, code_vector=_KITE,
                                        eta_int_placement="before", decoder="ml", **c),
        "vec l=1 explicit after sl": dict(loss_order=1, code=ve, code_vector=_KITE,
                                          encoder="explicit", **c),
        # l = 3 (N = 4)
        "sq l=3 ideal after sl": dict(loss_order=3, code=sq, alpha=1.8, squeezing=0.2, **c),
        "sq l=3 explicit lumped ml": dict(loss_order=3, code=sq, alpha=1.6, squeezing=-0.2,
                                          encoder="explicit", eta_int_placement="lumped",
                                          decoder="ml", **c),
        "bin l=3 M=3 ideal after sl": dict(loss_order=3, code=bi, binomial_m=3, **c),
        "bin l=3 M=1 explicit before ml": dict(loss_order=3, code=bi, binomial_m=1,
                                               encoder="explicit", decoder="ml",
                                               eta_int_placement="before", **c),
        "vec l=3 ideal lumped ml": dict(loss_order=3, code=ve,
                                        code_vector=(0.6, 0, 0, 0, 0.48j, 0, 0, 0, 0.64),
                                        eta_int_placement="lumped", decoder="ml", **c),
    }
    # heavy loss, where the decoders differ
    for dec, short in (("smallest-loss", "sl"), ("ml", "ml")):
        pts[f"bin l=1 kitten heavy {short}"] = dict(loss_order=1, code=bi, binomial_m=1,
                                                    eta=0.25, eta_int=0.97, decoder=dec)
        pts[f"sq l=1 heavy {short}"] = dict(loss_order=1, code=sq, alpha=1.7,
                                            squeezing=0.2, eta=0.2, eta_int=0.97,
                                            decoder=dec)
    return pts
