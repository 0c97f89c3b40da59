"""Truncation-free engine on sums of coherent states (docs/model.md section 5).

Every light state of the protocol is a finite sum of dyads |beta w^k><beta w^k'| of the
M = 2N coherent states on a ring, w = e^{i pi / N}: rotations by multiples of pi/N permute
the ring, the pure-loss channel maps a dyad to a number times the dyad of the shrunken
ring, |a><b| -> <sqrt(1-eta) b|sqrt(1-eta) a> |sqrt(eta) a><sqrt(eta) b|, and the syndrome
projection is a finite sum of rotations.

The engine keeps the light on the span of that ring, written in the basis of its
mod-M Fock-sector components (generalised cat states)

    f_q(beta) = P^{(M)}_q |beta> = (1/M) sum_k w^{-kq} |beta w^k>,   q = 0..M-1,

which is orthogonal, <f_q|f_q> = exp(-x) S_q^{(M)}(x) = w_q(x) with x = |beta|^2. In it
|beta> has all-ones coefficients, R(pi k / N) is the diagonal phase w^{kq}, the sector
projector P^{(N)}_r keeps q = r (mod N), and the dyad rule above becomes

    |f_q><f_q'| -> sum_d w_d((1 - eta) x) |f_{q-d}><f_{q'-d}|      (beta -> sqrt(eta) beta),

a positive map on the coefficients: no Gram-matrix cancellation, so the engine is exact
to rounding for any amplitude and transmission. The tests check this map against the
coherent-dyad rule itself.

All parameters may be arrays; the engine carries a leading batch axis through every step,
so a whole (alpha, eta, ...) grid runs through the protocol in one pass.
"""

from __future__ import annotations

import functools

import numpy as np

from ..operations import linear_optics_outcomes
from ..sectors import poisson_residue_masses
from .base import LightAtomState

__all__ = ["CoherentState", "RingLight"]


@functools.lru_cache(maxsize=64)
def _circulant_index(M: int) -> np.ndarray:
    """idx[q, r] = (r - q) mod M."""
    k = np.arange(M)
    return (k[None, :] - k[:, None]) % M


@functools.lru_cache(maxsize=64)
def _skew_indices(d: int, M: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat gather indices between K[a, b, q, p] and the skewed G[r, a, b, delta].

    ``skew``: G[r, a, b, delta] = K[a, b, r, (r + delta) mod M];
    ``unskew``: K[a, b, q, p] = G[q, a, b, (p - q) mod M].
    """
    r, a, b, dl = np.meshgrid(np.arange(M), np.arange(d), np.arange(d), np.arange(M),
                              indexing="ij")
    skew = ((a * d + b) * M + r) * M + (r + dl) % M
    a, b, q, p = np.meshgrid(np.arange(d), np.arange(d), np.arange(M), np.arange(M),
                             indexing="ij")
    unskew = ((q * d + a) * d + b) * M + (p - q) % M
    return skew.ravel(), unskew.ravel()


def _all_click_builder(x: np.ndarray, M: int, p_dark):
    """P(every detector of a set clicks), in the f-basis, from coherent-state dyads.

    Ring point k splits into M modes of amplitude g_k = beta w^k / sqrt(M); mode j is
    displaced by -g_j. For a dyad |beta w^k><beta w^k'| the modes factorise, so

        <beta w^k'| E_C |beta w^k> = <beta w^k'|beta w^k> prod_{j in C} c_j(k, k'),
        c_j = 1 - (1 - p) exp(-u),  u = (g_k' - g_j)^* (g_k - g_j),

    with c_j evaluated as -expm1(-u) + p exp(-u): no cancellation, however weak the
    light. The f-basis matrix follows from f_q = (1/M) sum_k w^{-kq} |beta w^k>.

    Strong light: for k != k' the real part of u can be large and negative, so
    exp(-u) overflows while the overlap underflows (inf * 0). Where -Re u > 1 each
    factor is therefore kept as exp(s_j) c~_j with s_j = -Re u,
    c~_j = exp(-s_j) - (1 - p) exp(-u - s_j) (1 - 1/e <= |c~_j| <= 2: no cancellation,
    as |exp(-u - s_j)| = 1 > exp(-s_j)), and the exponents are added to the overlap's
    before one exp: the product, a matrix element of an effect between normalised
    states, has modulus <= 1. Elsewhere s_j = 0 and the direct form is kept, |c_j| <= 1 + e.

    Weak light: the split must not be taken for a tiny negative Re u (~ -x / M), where
    exp(-s_j) - exp(-u - s_j) cancels to an absolute error of ~1e-16 against a
    c_j ~ x / M. That error (relative eps M / x) reached the heralded state: at
    x ~ 1e-16 the syndrome records of l = 3 had negative probabilities of the size of P
    and the "ml" frame turned them into eigenvalues of -0.3.
    """
    x = x[..., None, None]
    dkdk, one_minus_w, dft, dft_conj = _all_click_constants(M)
    # u_j(k', k) = (x / M) (w^-k' - w^-j)(w^k - w^j), shape (..., j, k', k)
    u = (x[..., None] / M) * dkdk
    p = np.asarray(p_dark, dtype=float)[..., None, None, None]
    big = -u.real > 1.0
    s = np.where(big, -u.real, 0.0)
    with np.errstate(over="ignore", invalid="ignore"):
        small_form = -np.expm1(-u) + p * np.exp(-u)
    scaled = np.where(big, np.exp(-s) - (1.0 - p) * np.exp(-u - s), small_form)
    log_overlap = -x * one_minus_w  # [k', k]

    def all_click(modes):
        expo = log_overlap + np.sum(s[..., modes, :, :], axis=-3)
        E_ring = np.exp(expo) * np.prod(scaled[..., modes, :, :], axis=-3)
        return np.einsum("kq,...kl,lr->...qr", dft_conj, E_ring, dft)

    return all_click


@functools.lru_cache(maxsize=64)
def _all_click_constants(M: int) -> tuple[np.ndarray, ...]:
    """What :func:`_all_click_builder` needs of the ring size alone (read-only, cached):
    (w^-k' - w^-j)(w^k - w^j) as [j, k', k], 1 - w^(k - k') as [k', k], the DFT
    w^(-k q) / M as [k, q] and its conjugate; w = e^{2 pi i / M}."""
    k = np.arange(M)
    w = np.exp(2j * np.pi / M)
    dk = w ** k[None, :] - w ** k[:, None]  # [j, k] -> w^k - w^j
    dkdk = dk.conj()[:, :, None] * dk[:, None, :]
    one_minus_w = 1.0 - w ** (k[None, :] - k[:, None])
    dft = w ** (-np.outer(k, k)) / M
    out = (dkdk, one_minus_w, dft, dft.conj())
    for a in out:
        a.flags.writeable = False
    return out


def _ring_angle_check(theta: float, M: int) -> None:
    """:meth:`CoherentState._check_angle` for a ring of M points."""
    k = theta * M / (2 * np.pi)
    if abs(k - round(k)) > 1e-9:
        raise ValueError(
            f"the coherent-state engine supports rotations by multiples of "
            f"2 pi / {M}; got theta = {theta:g} (use engine='fock')"
        )


@functools.lru_cache(maxsize=64)
def _ring_labels(M: int) -> np.ndarray:
    """The f-basis labels 0..M-1 (:attr:`LightAtomState.labels`; read-only, cached)."""
    lab = np.arange(M)
    lab.flags.writeable = False
    return lab


@functools.lru_cache(maxsize=256)
def _traced_phases(theta: float, M: int) -> np.ndarray:
    """e^{i theta (q - p)}: :meth:`LightAtomState.reflect_traced`'s factor (cached per
    angle and ring size; nothing about the parameter point)."""
    _ring_angle_check(theta, M)
    lab = _ring_labels(M)
    ph = np.exp(1j * theta * (lab[:, None] - lab[None, :]))
    ph.flags.writeable = False
    return ph


@functools.lru_cache(maxsize=256)
def _round_factors(theta: float, phi: float, M: int) -> tuple[np.ndarray, np.ndarray]:
    """M_t[q] M_t[p]^* for t = 0, 1: :meth:`LightAtomState.ancilla_round`'s factors
    (cached per angle, feed-forward phase and ring size)."""
    _ring_angle_check(theta, M)
    ph = np.exp(1j * (phi + theta * _ring_labels(M)))
    out = []
    for sign in (1.0, -1.0):
        m = 0.5 * (1.0 + sign * ph)
        f = m[:, None] * m.conj()[None, :]
        f.flags.writeable = False
        out.append(f)
    return out[0], out[1]


@functools.lru_cache(maxsize=64)
def _tub_templates(M: int, n_comp: int, sector: int) -> tuple[np.ndarray, np.ndarray]:
    """The tub effects of :meth:`CoherentState.usd_effects` divided by their entry
    min(w_s, w_{s+N}) / 2: ones at (s, s), (s, s+N), (s+N, s), (s+N, s+N) ("even"), the
    off-diagonal two -1 ("odd"), zeros elsewhere (read-only, cached).

    Multiplying one by the entry h gives the effect exactly as usd_effects writes it: h
    is a Gram entry, finite and >= +0 (a sum of exps, renormalised), so h * 1 = h,
    h * -1 = -h and h * 0 = +0, the zeros of its ``np.zeros``.
    """
    idx = [sector, sector + n_comp]
    even = np.zeros((M, M))
    odd = np.zeros((M, M))
    for i, p in enumerate(idx):
        for j, q in enumerate(idx):
            even[p, q] = 1.0
            odd[p, q] = 1.0 if i == j else -1.0
    even.flags.writeable = False
    odd.flags.writeable = False
    return even, odd


@functools.lru_cache(maxsize=64)
def _codeword_support(n_comp: int) -> np.ndarray:
    """1 where q and p are both 0 (mod N) on the ring of M = 2N, else 0 (read-only, cached):
    the coefficients of |0_N><0_N| times w_0^{(N)}(x)."""
    keep = (np.arange(2 * n_comp) % n_comp == 0).astype(float)
    out = np.outer(keep, keep)
    out.flags.writeable = False
    return out


class CoherentState(LightAtomState):
    """State of qubits (x) light on the ring of 2N coherent states (batched).

    Parameters
    ----------
    K : ndarray, shape (*batch, d, d, M, M), complex
        Coefficients of :class:`~catbell_qutip.engines.base.LightAtomState` in the basis
        f_q, q = 0..M-1, M = 2N (docs/model.md section 5).
    qubits : tuple of str
        Labels of the register's qubits.
    x : float or ndarray
        |beta|^2 of the ring, broadcasting with the batch.
    grams : dict, optional
        Cache of Gram diagonals to share with related states (default: a new one).

    Raises
    ------
    ValueError
        From ``reflect`` and the other rotations when theta is not a multiple of
        2 pi / M (the ring would leave the engine's basis; use the Fock engine).

    Examples
    --------
    Loss keeps a coherent state on its ring with x -> eta x and unit trace:

    >>> import numpy as np
    >>> s = CoherentState.coherent(1.0, 2).loss(0.5)
    >>> s.n_ring, float(s.x), bool(np.isclose(s.trace(), 1.0))
    (4, 0.5, True)
    """

    name = "coherent"

    def __init__(self, K, qubits, x, *, grams: dict | None = None):
        super().__init__(K, qubits, x)
        #: Gram diagonals by ring (keyed by the x array), shared by every state derived
        #: from the same initial one (sibling branches after a measurement share a ring)
        self._grams = {} if grams is None else grams

    @property
    def n_ring(self) -> int:
        """M = 2N, the number of coherent states on the ring (and of basis states f_q)."""
        return self.K.shape[-1]

    def _derived(self, K, qubits, x) -> CoherentState:
        return CoherentState(K, qubits, x, grams=self._grams)

    @classmethod
    def coherent(cls, alpha, n_comp: int) -> CoherentState:
        """|alpha><alpha| for each alpha of the batch: all-ones coefficients."""
        alpha = np.asarray(alpha, dtype=float)
        M = 2 * n_comp
        K = np.ones(alpha.shape + (1, 1, M, M), dtype=complex)
        return cls(K, (), alpha ** 2)

    @classmethod
    def codeword(cls, alpha, n_comp: int) -> CoherentState:
        """|0_N><0_N| = P_0|alpha><alpha|P_0 / w_0^{(N)}(x)."""
        alpha = np.asarray(alpha, dtype=float)
        x = alpha ** 2
        mass = poisson_residue_masses(x, n_comp)[..., 0]
        K = _codeword_support(n_comp) / mass[..., None, None]
        K = K[..., None, None, :, :].astype(complex)
        return cls(K, (), x)

    def for_probability(self):
        """The light alone, as :func:`catbell_qutip.protocol.run_probability` runs it.

        With no qubit in the register: a :class:`RingLight` holding this state's
        coefficients and ring, which does P's steps with the same NumPy operations on the
        same arrays (the same numbers, bit for bit) at a fraction of the Python overhead.
        Otherwise the state itself (see :meth:`LightAtomState.for_probability`).
        """
        if self.qubits:
            return self
        return RingLight(self.K, self.x, {})

    def _check_angle(self, theta):
        k = theta * self.n_ring / (2 * np.pi)
        if abs(k - round(k)) > 1e-9:
            raise ValueError(
                f"the coherent-state engine supports rotations by multiples of "
                f"2 pi / {self.n_ring}; got theta = {theta:g} (use engine='fock')"
            )

    def gram_diagonal(self):
        grams = self._grams
        g = grams.get(id(self.x))
        if g is None or g[0] is not self.x:  # keyed by the x array itself (kept alive in g)
            if len(grams) > 32:
                grams.clear()
            g = grams[id(self.x)] = (self.x, poisson_residue_masses(self.x, self.n_ring))
        return g[1]

    def loss(self, eta) -> CoherentState:
        eta = np.asarray(eta, dtype=float)
        x = np.broadcast_to(self.x, np.broadcast_shapes(self.x.shape, eta.shape))
        if np.all(eta == 1.0):  # the identity channel (w_d(0) = [1, 0, ...] exactly)
            same = x.shape == self.x.shape  # keep x itself, so the Gram cache stays valid
            return self._new(self._broadcast_batch(eta.shape), x=None if same else eta * x)
        M = self.n_ring
        V = poisson_residue_masses((1.0 - eta) * x, M)  # (..., M)
        # out[.., q, p] = sum_d V_d K[.., q + d, p + d] (indices mod M). In skewed
        # coordinates Ks[r, delta] = K[r, r + delta] this is a circulant matrix
        # C[q, r] = V_{r - q} acting on r alone: one real matrix product per point.
        d = self.K.shape[-3]
        skew, unskew = _skew_indices(d, M)
        Kf = self.K.reshape(self.batch_shape + (d * d * M * M,))
        G = np.take(Kf, skew, axis=-1).reshape(self.batch_shape + (M, d * d * M))
        C = V[..., _circulant_index(M)]  # (..., M, M), real
        R = np.matmul(C, G.view(np.float64)).view(np.complex128)  # (..., M, d*d*M)
        out = np.take(R.reshape(R.shape[:-2] + (M * d * d * M,)), unskew, axis=-1)
        out = out.reshape(R.shape[:-2] + (d, d, M, M))
        return self._new(out, x=eta * x)

    def usd_effects(self, variant: str, n_comp: int, sector: int, p_dark=0.0,
                    encoder_sector: int = 0) -> dict:
        M = self.n_ring
        if variant == "tub":
            w = self.gram_diagonal()
            a2, b2 = w[..., sector], w[..., sector + n_comp]
            half_min = 0.5 * np.minimum(a2, b2)
            idx = [sector, sector + n_comp]
            even = np.zeros(w.shape[:-1] + (M, M))
            odd = np.zeros_like(even)
            for i, p in enumerate(idx):
                for j, q in enumerate(idx):
                    even[..., p, q] = half_min
                    odd[..., p, q] = half_min * (1 if i == j else -1)
            return {"even": even, "odd": odd}
        return dict(zip(("even", "odd"),
                        linear_optics_outcomes(n_comp, self._all_click_builder(p_dark)),
                        strict=True))

    def _all_click_builder(self, p_dark):
        """P(every detector of a set clicks) on this state's ring (:func:`_all_click_builder`)."""
        return _all_click_builder(self.x, self.n_ring, p_dark)


def _eta_key(eta: np.ndarray):
    """A dictionary key for a transmission's value (0-d: the float; else shape and bytes)."""
    return float(eta) if eta.ndim == 0 else (eta.shape, eta.tobytes())


class RingLight:
    """The light alone on the coherent engine's ring: what P needs (no atom register).

    :func:`catbell_qutip.protocol.run_probability` traces each atom out as soon as it has
    reflected the light, so the register stays empty (d = 1) and only these operations
    occur: :meth:`loss`, :meth:`reflect_traced`, :meth:`ancilla_round` and
    :meth:`conclusive_probability`. Each performs exactly the NumPy operations of the
    :class:`CoherentState` / :class:`~catbell_qutip.engines.base.LightAtomState` method of
    the same name on the same arrays, so every result is the same to the last bit
    (tests/test_engines_coherent_probability.py checks it), without their per-call
    bookkeeping: no new state object with its labels and checks per step, the angle
    factors built once per angle and ring size, and, within one run, what sibling branches
    share computed once: the residue masses of a loss of the same transmission on the same
    ring and the Gram diagonal of that ring (their ``memo``; nothing outlives the run).

    Parameters
    ----------
    K : ndarray, shape (*batch, 1, 1, M, M), complex
        Coefficients of the light in the f-basis (see :class:`CoherentState`).
    x : ndarray
        |beta|^2 of the ring (dimensionless), broadcasting with the batch.
    memo : dict
        Values shared by the branches of one run (start with an empty dict).

    Examples
    --------
    P of one l = 1 point equals the generic route's on the full :class:`CoherentState`:

    >>> import numpy as np
    >>> st = CoherentState.codeword(1.5, 2)
    >>> light = st.for_probability()
    >>> p = light.loss(0.5).conclusive_probability(np.pi / 2, 1.0, "tub", 2, 0)
    >>> q = st.loss(0.5).conclusive_probability(np.pi / 2, 1.0, "tub", 2, 0)
    >>> bool(p == q)
    True
    """

    __slots__ = ("K", "x", "memo")

    def __init__(self, K: np.ndarray, x, memo: dict):
        self.K = K
        self.x = np.asarray(x, dtype=float)
        self.memo = memo

    @property
    def n_ring(self) -> int:
        """M = 2N, the ring's size."""
        return self.K.shape[-1]

    @property
    def batch_shape(self) -> tuple:
        """The batch axes of the coefficients."""
        return self.K.shape[:-4]

    def _gram(self) -> np.ndarray:
        """<f_q|f_q> = w_q(x) (:meth:`CoherentState.gram_diagonal`), once per ring per run."""
        key = ("gram", id(self.x))
        hit = self.memo.get(key)
        if hit is None:
            hit = self.memo[key] = (self.x, poisson_residue_masses(self.x, self.n_ring))
        return hit[1]

    def loss(self, eta) -> RingLight:
        """Pure loss of transmission ``eta`` (:meth:`CoherentState.loss`)."""
        eta = np.asarray(eta, dtype=float)
        if eta.ndim == 0:
            x = self.x  # np.broadcast_to(x, its own shape): a view of the same values
            ones = float(eta) == 1.0
        else:
            x = np.broadcast_to(self.x, np.broadcast_shapes(self.x.shape, eta.shape))
            ones = bool(np.all(eta == 1.0))
        if ones:  # the identity channel, as in CoherentState.loss
            full = np.broadcast_shapes(self.batch_shape, eta.shape)
            K = (self.K if full == self.batch_shape
                 else np.broadcast_to(self.K, full + self.K.shape[-4:]))
            return RingLight(K, self.x if x.shape == self.x.shape else eta * x, self.memo)
        M = self.n_ring
        key = ("loss", id(self.x), _eta_key(eta))
        hit = self.memo.get(key)
        if hit is None:  # a sibling branch on the same ring already lost the same light
            V = poisson_residue_masses((1.0 - eta) * x, M)  # (..., M)
            hit = self.memo[key] = (self.x, V, np.asarray(eta * x, dtype=float))
        V, x_out = hit[1], hit[2]
        batch = self.batch_shape
        skew, unskew = _skew_indices(1, M)
        Kf = self.K.reshape(batch + (M * M,))
        G = np.take(Kf, skew, axis=-1).reshape(batch + (M, M))
        C = V[..., _circulant_index(M)]  # (..., M, M), real
        R = np.matmul(C, G.view(np.float64)).view(np.complex128)  # (..., M, M)
        out = np.take(R.reshape(R.shape[:-2] + (M * M,)), unskew, axis=-1)
        return RingLight(out.reshape(R.shape[:-2] + (1, 1, M, M)), x_out, self.memo)

    def reflect_traced(self, theta: float) -> RingLight:
        """(rho + R rho R^dag) / 2 (:meth:`LightAtomState.reflect_traced`)."""
        K = self.K
        return RingLight(0.5 * (K + K * _traced_phases(float(theta), self.n_ring)), self.x,
                         self.memo)

    def ancilla_round(self, theta: float, phi: float) -> list[tuple[int, RingLight]]:
        """The two outcomes of an ancilla round (:meth:`LightAtomState.ancilla_round`)."""
        f0, f1 = _round_factors(float(theta), float(phi), self.n_ring)
        K = self.K
        return [(0, RingLight(K * f0, self.x, self.memo)),
                (1, RingLight(K * f1, self.x, self.memo))]

    def _effects(self, usd: str, n_comp: int, sector: int, p_dark) -> dict:
        """:meth:`CoherentState.usd_effects` (the same entries in the same arrays)."""
        M = self.n_ring
        if usd == "tub":
            w = self._gram()
            a2, b2 = w[..., sector], w[..., sector + n_comp]
            half_min = (0.5 * np.minimum(a2, b2))[..., None, None]
            even, odd = _tub_templates(M, n_comp, sector)
            return {"even": half_min * even, "odd": half_min * odd}
        p = np.asarray(p_dark, dtype=float)
        key = ("linear", id(self.x), _eta_key(p))
        hit = self.memo.get(key)
        if hit is None:  # the linear-optics effects do not depend on the record
            effects = dict(zip(("even", "odd"), linear_optics_outcomes(
                n_comp, _all_click_builder(self.x, M, p_dark)), strict=True))
            hit = self.memo[key] = (self.x, effects)
        return hit[1]

    def conclusive_probability(self, theta: float, eta_final, usd: str, n_comp: int,
                               sector: int, p_dark=0.0, encoder_sector: int = 0):
        """:meth:`LightAtomState.conclusive_probability` on the light alone, shape (*batch)."""
        st = self.reflect_traced(theta)
        eta = np.asarray(eta_final)
        if not (float(eta) == 1.0 if eta.ndim == 0 else np.all(eta == 1.0)):
            st = st.loss(eta_final)
        effects = st._effects(usd, n_comp, sector, p_dark)
        K = st.K
        M = st.n_ring
        if K.ndim == 4:  # LightAtomState.measure_light, one point
            out = [np.einsum("...abqp,...pq->...ab", K, E)[..., 0, 0]
                   for E in effects.values()]
        else:  # LightAtomState.measure_light, a batch
            Kf = K.reshape(st.batch_shape + (1, M * M))
            out = []
            for E in effects.values():
                E = np.asarray(E)
                Et = np.swapaxes(E, -1, -2).reshape(E.shape[:-2] + (M * M, 1))
                out.append(np.matmul(Kf, Et.astype(complex))[..., 0, 0])
        # the generic route sums np.trace of each 1 x 1 result, t = 0 + v, as 0 + t_e + t_o;
        # 0 + v_e + v_o has the same real part: 0 + (0 + a) = 0 + a, and x + (0 + b)
        # = x + b unless x = -0, which 0 + a never is
        even, odd = out
        return np.real(0 + even + odd)
