"""The protocol as a plain QuTiP user would write it: full-space Qobj operators, one by one.

This is the independent route that checks the simulator's shared protocol code
(``catbell_qutip/protocol.py``, which both engines run, so their agreement cannot see a
bug there) and the speed baseline of ``catbell bench speed``. Every step of
docs/model.md section 3 is a full-space operator on one register

    atom A (x) atom B [(x) ancilla] (x) light,   dims [2, 2, (2,) cutoff + 1],

built with :func:`qutip.tensor`, applied to one Qobj density matrix per classical record:

1. Alice encodes (docs/model.md 3.1). ``encoder="ideal"``: the light starts in
   |0_N> ~ sum_k |alpha e^{2 pi i k/N}>, written as that sum of coherent kets.
   ``encoder="explicit"``: the light starts in |alpha>; in round j = 1..m the ancilla
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

USD effects, both built here. "tub": the Ivanovic-Dieks-Peres POVM of the two normalised
sector states u = P_s|beta>, v = P_s|beta e^{i pi/N}> by Gram-Schmidt, E_u =
|v_perp><v_perp| / (1 + |<u|v>|), beta the amplitude that reaches the detectors.
"linear": the 2N-mode scheme written as a multi-mode computation. The input mode is split
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

Truncation: every operation keeps or lowers photon numbers, so the only truncation is
the mass the cutoff drops from the initial light state, computed here from the tail of
its Fock amplitudes (exact normalisation from the coherent-state Gram matrix) and
returned as ``truncation_error``; :func:`baseline_run` refuses a cutoff that drops more
than ``tol`` times min(1, P). The mass sets the scale of the truncation error; cross
terms between kept and dropped amplitudes can make the change of P a few times the mass
(``tests/test_baseline.py`` checks a larger cutoff against it).

Numerics: QuTiP's ``auto_tidyup`` (zeroing entries below 1e-14 after sparse products) is
switched off during a run: at P ~ 1e-3 it alone moved F by ~2e-11. The TUB's
Gram-Schmidt runs in extended precision, since it cancels for weak light.
"""

from __future__ import annotations

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
    "baseline_run",
    "baseline_point",
    "coherent_amplitudes",
    "loss_kraus_ops",
    "tub_effects",
    "linear_effects",
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


def tub_effects(n_comp: int, sector: int, beta: float, cutoff: int):
    """(E_even, E_odd) IDP effects for u = P_s|beta>, v = P_s|beta e^{i pi/N}> (numpy).

    Gram-Schmidt: E_u = |v_perp><v_perp| / (1 + |c|), v_perp = (u - v <v|u>) normalised,
    c = <u|v>; likewise E_v. Zero when either state is empty (docs/model.md 3.5).
    Gram-Schmidt cancels when 1 - |c| is small (weak light), so it runs in extended
    precision (~1e-19) and is rounded to complex128 at the end.
    """
    ld = np.longdouble
    pi = 4 * np.arctan(ld(1))
    n = np.arange(cutoff + 1)
    mask = n % n_comp == sector
    u = np.where(mask, _coherent_ld(beta, ld(0), cutoff), 0)
    v = np.where(mask, _coherent_ld(beta, pi / n_comp, cutoff), 0)
    nu, nv = np.sqrt(np.sum(np.abs(u) ** 2)), np.sqrt(np.sum(np.abs(v) ** 2))
    zero = np.zeros((cutoff + 1, cutoff + 1), dtype=complex)
    if nu == 0 or nv == 0:
        return zero, zero
    u, v = u / nu, v / nv
    c = np.vdot(u, v)
    out = []
    for target, other in ((u, v), (v, u)):
        perp = target - other * np.vdot(other, target)
        nrm = np.sqrt(np.sum(np.abs(perp) ** 2))
        if nrm == 0:
            out.append(zero)
            continue
        perp = perp / nrm
        out.append((np.outer(perp, perp.conj()) / (1 + abs(c))).astype(complex))
    return out[0], out[1]


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
    maps (r, s) to the probability of the inconclusive outcome.
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
        so keep it to l <= 1 in practice), either encoder, USD, eta_int placement, decoder.
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
    N = params.loss_order + 1
    m = N.bit_length() - 1
    explicit = params.encoder == "explicit"
    alpha = float(params.alpha)
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

    light, dropped = _initial_light(alpha, N, explicit, cutoff)
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
    beta = alpha * math.sqrt(math.prod(stages))

    if params.usd == "tub":
        def effects(s):
            return tub_effects(N, s, beta, cutoff)
    else:
        def effects(s):
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
            for outcome, E in zip(("even", "odd"), effects(s), strict=True):
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
                          truncation_error=dropped, beta_detector=beta)


def baseline_point(params: ProtocolParams, cutoff: int) -> tuple[float, float]:
    """(P, F) of :func:`baseline_run` (what ``catbell bench speed`` times)."""
    res = baseline_run(params, cutoff)
    return res.P, res.F
