"""What both engines share: an atom register (x) one light mode, and the operations on it.

A state is stored as coefficients ``K[..., a, b, q, p]`` of

    rho = sum_{a,b,q,p} K[a,b,q,p] |a><b| (x) |e_q><e_p|

where ``a, b`` index the atom register (qubits in the order they were added; |up> = 0,
|down> = 1) and ``e_q`` is the light basis of the engine: Fock states |n> for the Fock
engine, the generalised cat states f_q of the coherent-state engine. Leading axes ``...``
are a batch of parameter points (the coherent engine evaluates whole grids at once).

Every light basis vector carries an integer *label* ``lab_q`` such that the phase-space
rotation acts as ``R(theta) e_q = exp(i theta lab_q) e_q`` (for the angles the engine
supports) and the photon-number sector is ``n = lab_q (mod N)``. Conditional rotations
(cavity reflections), sector projections and every atom-register operation are therefore
written once, here. An engine supplies the rest: the pure-loss channel, the USD effects in its
basis, and the light Gram diagonal ``<e_q|e_q>`` used for traces.
"""

from __future__ import annotations

import abc
import functools

import numpy as np

__all__ = ["LightAtomState", "PLUS", "MINUS", "sign_phases"]

PLUS = np.array([1.0, 1.0]) / np.sqrt(2.0)
MINUS = np.array([1.0, -1.0]) / np.sqrt(2.0)


def sign_phases(theta: float, labels: np.ndarray) -> np.ndarray | None:
    """e^{i theta lab} for every label when each is exactly +1 or -1 (theta lab a
    multiple of pi, as R(pi) = (-1)^n at loss order 0), as a real array; else None.

    ``np.exp(1j * theta * lab)`` gives the same signs up to rounding (an imaginary part
    of ~1e-16 lab); a real state stays real with these.

    Examples
    --------
    >>> sign_phases(np.pi, np.arange(4))
    array([ 1., -1.,  1., -1.])
    >>> sign_phases(np.pi / 2, np.arange(4)) is None
    True
    """
    turns = (float(theta) / np.pi) * np.asarray(labels)
    if not np.all(turns == np.round(turns)):
        return None
    return 1.0 - 2.0 * (np.round(turns).astype(np.int64) % 2)


@functools.lru_cache(maxsize=128)
def _reflection_factor(theta: float, n_qubits: int, index: int, labels: bytes,
                       dtype: str, real: bool = False) -> np.ndarray:
    """CR(theta)'s phases on K[a, b, q, p]: e^{i theta (bit_a lab_q - bit_b lab_p)} (cached).

    bit_a = 1 where qubit ``index`` of register state a is |down>. ``real``: the phases
    as exact real signs (the caller has checked :func:`sign_phases` gives them).
    """
    lab = np.frombuffer(labels, dtype=np.dtype(dtype))
    bit = (np.arange(2 ** n_qubits) >> (n_qubits - 1 - index)) & 1
    if real:
        ph = np.where(bit[:, None] == 1, sign_phases(theta, lab)[None, :], 1.0)  # (d, L)
    else:
        ph = np.exp(1j * theta * np.outer(bit, lab))  # (d, L)
    factor = ph[:, None, :, None] * ph.conj()[None, :, None, :]  # (d, d, L, L)
    factor.flags.writeable = False
    return factor


class LightAtomState(abc.ABC):
    """An unnormalised state of qubits (x) one light mode (see module docstring).

    Parameters
    ----------
    K : ndarray, shape (*batch, d, d, L, L), complex or real
        Coefficients (see the module docstring), d = 2^(number of qubits); a real K stays
        real while every operation keeps it real (see :meth:`reflect`).
    qubits : tuple of str
        Labels of the register's qubits, in order.
    x : float or ndarray
        |beta|^2 of the ring the light lives on (the deterministic amplitude after losses),
        broadcasting with the batch.

    Notes
    -----
    Both engines' light bases are labelled 0..L-1 (photon number n, or the ring component
    q), so ``labels`` is ``arange(L)``. Subclasses implement :meth:`loss`,
    :meth:`gram_diagonal`, :meth:`usd_effects` and :meth:`_derived` (a new state of the same
    engine, with the engine's own attributes carried over through its constructor). All
    operations return new states; nothing is modified in place.

    Raises
    ------
    ValueError
        From the operations: a qubit label that is not (or already) in the register, or a
        rotation angle the engine cannot represent
        (see :class:`~catbell_qutip.engines.coherent.CoherentState`).

    Examples
    --------
    An X measurement after CR(pi/2) on |+>|alpha> gives "+" with probability
    (1 + exp(-x) cos x) / 2, x = |alpha|^2, in both engines:

    >>> import numpy as np
    >>> from catbell_qutip.engines import CoherentState, FockState
    >>> p_plus = (1 + np.exp(-1.0) * np.cos(1.0)) / 2
    >>> for s in (CoherentState.coherent(1.0, 2), FockState.coherent(1.0, 2, cutoff=20)):
    ...     (b0, s0), _ = s.add_qubit("A").reflect("A", np.pi / 2).measure_qubit_x("A")
    ...     print(b0, bool(np.isclose(s0.trace(), p_plus)))
    0 True
    0 True
    """

    #: name used by :func:`catbell_qutip.simulate`'s ``engine`` argument
    name: str = ""

    def __init__(self, K: np.ndarray, qubits: tuple[str, ...], x):
        self.K = K
        self.qubits = tuple(qubits)
        self.labels = np.arange(K.shape[-1])
        self.x = np.asarray(x, dtype=float)

    # -- bookkeeping ----------------------------------------------------------------------
    @property
    def batch_shape(self) -> tuple:
        return self.K.shape[:-4]

    @property
    def n_qubits(self) -> int:
        return len(self.qubits)

    def _new(self, K, qubits=None, x=None) -> LightAtomState:
        return self._derived(K, self.qubits if qubits is None else qubits,
                             self.x if x is None else x)

    @abc.abstractmethod
    def _derived(self, K, qubits, x) -> LightAtomState:
        """A state of the same engine on coefficients ``K`` (engine attributes kept)."""

    def _broadcast_batch(self, shape: tuple) -> np.ndarray:
        """K with its batch axes broadcast against ``shape`` (a view; no copy if equal)."""
        full = np.broadcast_shapes(self.batch_shape, tuple(shape))
        if full == self.batch_shape:
            return self.K
        return np.broadcast_to(self.K, full + self.K.shape[-4:])

    def flat_batch(self, shape: tuple) -> LightAtomState:
        """The state broadcast to batch ``shape`` and flattened to one batch axis."""
        tail = self.K.shape[-4:]
        K = np.broadcast_to(self.K, tuple(shape) + tail).reshape((-1,) + tail)
        x = np.broadcast_to(self.x, tuple(shape)).reshape(-1)
        return self._new(K, x=x)

    def batch_slice(self, sl: slice) -> LightAtomState:
        """Points ``sl`` of a state with one batch axis (see :meth:`flat_batch`)."""
        return self._new(self.K[sl], x=self.x[sl])

    def _index(self, label: str) -> int:
        try:
            return self.qubits.index(label)
        except ValueError:
            raise ValueError(f"no qubit {label!r} in the register {self.qubits}") from None

    def _bit(self, label: str) -> np.ndarray:
        """For each register basis index, 1 if qubit ``label`` is |down> there."""
        i = self._index(label)
        a = np.arange(2 ** self.n_qubits)
        return (a >> (self.n_qubits - 1 - i)) & 1

    # -- atom-register operations ------------------------------------------------------
    def add_qubit(self, label: str, ket=PLUS) -> LightAtomState:
        """Append a qubit in the pure state ``ket`` (default |+>) to the register."""
        if label in self.qubits:
            raise ValueError(f"qubit {label!r} is already in the register")
        ket = np.asarray(ket)
        kk = np.outer(ket, ket.conj())  # [i, j] = ket_i ket_j^*
        # K'[a, i, b, j, q, p] = K[a, b, q, p] kk[i, j], written block by block; a real
        # state and a real ket (|+>) stay real (see :meth:`reflect`)
        d0 = 2 ** self.n_qubits
        L = self.K.shape[-1]
        dtype = np.result_type(self.K.dtype, kk.dtype, np.float64)
        K = np.empty(self.batch_shape + (d0, 2, d0, 2, L, L), dtype=dtype)
        for i in range(2):
            for j in range(2):
                np.multiply(self.K, kk[i, j], out=K[..., :, i, :, j, :, :])
        d = 2 * d0
        K = K.reshape(self.batch_shape + (d, d) + self.K.shape[-2:])
        return self._new(K, self.qubits + (label,))

    def qubit_phase(self, label: str, phi: float) -> LightAtomState:
        """diag(1, e^{i phi}) on qubit ``label`` (a Z rotation; used for feed-forward)."""
        ph = np.exp(1j * phi * self._bit(label))
        factor = ph[:, None] * ph.conj()[None, :]
        return self._new(self.K * factor[:, :, None, None])

    def dephase(self, label: str, factor) -> LightAtomState:
        """Multiply the coherences of qubit ``label`` by ``factor`` (docs/model.md 3.7)."""
        bit = self._bit(label)
        differ = bit[:, None] != bit[None, :]
        f = np.asarray(factor, dtype=float)
        if np.all(f == 1.0):  # an ideal memory: nothing to do
            return self._new(self._broadcast_batch(f.shape))
        f = f[..., None, None]
        mult = np.where(differ, f, 1.0)
        return self._new(self.K * mult[..., None, None])

    def _qubit_blocks(self, label: str):
        """K split on qubit ``label``: blocks[s][t] = <s| . |t> on that qubit (views)."""
        i = self._index(label)
        nq = self.n_qubits
        shp = self.batch_shape + (2 ** i, 2, 2 ** (nq - i - 1)) * 2 + self.K.shape[-2:]
        Kr = self.K.reshape(shp)
        return i, [[Kr[..., :, s, :, :, t, :, :, :] for t in range(2)] for s in range(2)]

    def _removed(self, K, i: int) -> LightAtomState:
        d = 2 ** (self.n_qubits - 1)
        K = K.reshape(self.batch_shape + (d, d) + self.K.shape[-2:])
        return self._new(K, self.qubits[:i] + self.qubits[i + 1:])

    def measure_qubit_x(self, label: str) -> list[tuple[int, LightAtomState]]:
        """X-basis measurement of qubit ``label``: [(0, "+" branch), (1, "-" branch)].

        Both branches share the sums K_00 + K_11 and K_01 + K_10 (<+-|K|+-> = (S +- D)/2).
        """
        i, b = self._qubit_blocks(label)
        S = b[0][0] + b[1][1]
        D = b[0][1] + b[1][0]
        half = 0.5
        plus = np.add(S, D)
        plus *= half
        minus = np.subtract(S, D, out=S)
        minus *= half
        return [(0, self._removed(plus, i)), (1, self._removed(minus, i))]

    # -- light operations written once via the labels --------------------------------
    def _check_angle(self, theta: float) -> None:
        """Engines that only support some angles override this."""
        return None

    def reflect(self, label: str, theta: float) -> LightAtomState:
        """Cavity reflection CR(theta) = |up><up| (x) 1 + |down><down| (x) R(theta).

        docs/model.md section 1; R(theta) = exp(i theta a^dagger a). A real state (the
        Fock engine's cat codes at loss order 0, where R(pi) = (-1)^n) stays real when
        every phase is a sign (:func:`sign_phases`).
        """
        self._check_angle(theta)
        i = self._index(label)
        real = (not np.iscomplexobj(self.K)
                and sign_phases(float(theta), self.labels) is not None)
        factor = _reflection_factor(float(theta), self.n_qubits, i, self.labels.tobytes(),
                                    self.labels.dtype.str, real)
        return self._new(self.K * factor)

    def ancilla_round(self, theta: float, phi: float) -> list[tuple[int, LightAtomState]]:
        """One ancilla round of the encoder or syndrome, with its two X outcomes.

        An ancilla in |+> reflects the light with CR(theta), gets diag(1, e^{i phi}), and
        is measured in X (docs/model.md 3.1, 3.3). Its outcome t leaves the light with the
        Kraus operator

            M_t = (1 + (-1)^t e^{i phi} R(theta)) / 2,    t = 0 ("+"), 1 ("-"),

        because <+-|(|up><up| (x) 1 + |down><down| (x) e^{i phi} R(theta))|+> is exactly
        that. A pure loss on the light right after the reflection commutes with the
        measurement of the ancilla (they act on different systems), so the protocol
        applies it after M_t; the ancilla never needs to enter the register. The tests
        check this against the ancilla as a real qubit (QuTiP operators on qubit (x)
        light). Returns [(0, "+" branch), (1, "-" branch)].
        """
        self._check_angle(theta)
        ph = np.exp(1j * (phi + theta * self.labels))
        out = []
        for t, sign in ((0, 1.0), (1, -1.0)):
            m = 0.5 * (1.0 + sign * ph)
            out.append((t, self._new(self.K * (m[:, None] * m.conj()[None, :]))))
        return out

    def reflect_traced(self, theta: float) -> LightAtomState:
        """A qubit in |+> reflects the light with CR(theta) and is traced out:
        rho -> (rho + R(theta) rho R(theta)^dag) / 2 on the light (what the light alone
        sees; :func:`catbell_qutip.protocol.run_probability` needs nothing more)."""
        self._check_angle(theta)
        ph = np.exp(1j * theta * (self.labels[:, None] - self.labels[None, :]))
        return self._new(0.5 * (self.K + self.K * ph))

    def project_sector(self, n_comp: int, sector: int) -> LightAtomState:
        """Projection of the light onto photon numbers n = sector (mod n_comp)."""
        keep = (self.labels % n_comp) == sector
        mask = np.outer(keep, keep)
        return self._new(self.K * mask)

    # -- engine-specific ---------------------------------------------------------------
    @abc.abstractmethod
    def loss(self, eta) -> LightAtomState:
        """Pure-loss channel of transmission ``eta`` on the light."""

    @abc.abstractmethod
    def gram_diagonal(self) -> np.ndarray:
        """<e_q|e_q> for the current light basis, shape (*batch, L)."""

    @abc.abstractmethod
    def usd_effects(self, variant: str, n_comp: int, sector: int, p_dark=0.0,
                    encoder_sector: int = 0) -> dict:
        """POVM effects {"even": E, "odd": E} as matrices E[p, q] = <e_p|E|e_q> for the
        record (encoder sector ``encoder_sector``, syndrome ``sector``)."""

    # -- read-out ----------------------------------------------------------------------
    def trace(self) -> np.ndarray:
        # sum_{a, q} K[..., a, a, q, q] <e_q|e_q>: only the diagonals are read
        return np.real(np.einsum("...aaqq,...q->...", self.K, self.gram_diagonal()))

    def measure_light(self, effects: dict) -> dict:
        """Apply a light POVM: for each effect E, Tr_light[(1 (x) E) rho] (*batch, d, d).

        A batch runs as stacked small matrix-vector products (matmul); a single point as
        einsum: one large matrix-vector product goes to a multithreaded BLAS, which runs
        it orders of magnitude slower on a busy machine.
        """
        d, L = self.K.shape[-3], self.K.shape[-1]
        if self.K.ndim == 4:
            return {name: np.einsum("...abqp,...pq->...ab", self.K, E)
                    for name, E in effects.items()}
        Kf = self.K.reshape(self.batch_shape + (d * d, L * L))
        out = {}
        for name, E in effects.items():
            E = np.asarray(E)
            Et = np.swapaxes(E, -1, -2).reshape(E.shape[:-2] + (L * L, 1))
            res = np.matmul(Kf, Et.astype(complex))[..., 0]
            out[name] = res.reshape(res.shape[:-1] + (d, d))
        return out

    def for_probability(self):
        """The state :func:`catbell_qutip.protocol.run_probability` runs its steps on.

        Here the state itself: P's steps (:meth:`loss`, :meth:`reflect_traced`,
        :meth:`ancilla_round`, :meth:`conclusive_probability`) run as written above. An
        engine may return a light-only object with those four methods that gives the same
        numbers with less overhead (the coherent engine does:
        :class:`~catbell_qutip.engines.coherent.RingLight`).

        Examples
        --------
        >>> from catbell_qutip.engines import FockState
        >>> s = FockState.coherent(1.0, 2, cutoff=10)
        >>> s.for_probability() is s
        True
        """
        return self

    def conclusive_probability(self, theta: float, eta_final, usd: str, n_comp: int,
                               sector: int, p_dark=0.0, encoder_sector: int = 0):
        """The probability that Bob's USD is conclusive (the trace of
        :meth:`entangle_and_measure`'s two outcomes, his qubit traced out), shape (*batch)."""
        st = self.reflect_traced(theta)
        if not np.all(np.asarray(eta_final) == 1.0):
            st = st.loss(eta_final)
        effects = st.usd_effects(usd, n_comp, sector, p_dark, encoder_sector=encoder_sector)
        out = st.measure_light(effects)
        return np.real(sum(np.trace(v, axis1=-2, axis2=-1) for v in out.values()))

    def entangle_and_measure(self, label: str, theta: float, eta_final, usd: str,
                             n_comp: int, sector: int, p_dark=0.0,
                             encoder_sector: int = 0):
        """Bob's last steps (docs/model.md 3.4-3.5): qubit ``label`` in |+> reflects the
        light with CR(theta), a pure loss ``eta_final`` (eta_int after the reflection and
        eta_d), then the USD of the record (``encoder_sector``, ``sector``).

        Returns (total, {"even": rho, "odd": rho}): the trace before the USD and the
        unnormalised register states of the two conclusive outcomes. Written here as the
        literal sequence of operations; an engine may compute the same numbers in fewer
        passes (the Fock engine does).
        """
        st = self.add_qubit(label).reflect(label, theta)
        if not np.all(np.asarray(eta_final) == 1.0):
            st = st.loss(eta_final)
        effects = st.usd_effects(usd, n_comp, sector, p_dark, encoder_sector=encoder_sector)
        return st.trace(), st.measure_light(effects)
