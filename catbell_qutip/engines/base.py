"""What both engines share: an atom register (x) one light mode, and the operations on it.

A state is stored as coefficients ``K[..., a, b, q, p]`` of

    rho = sum_{a,b,q,p} K[a,b,q,p] |a><b| (x) |e_q><e_p|

where ``a, b`` index the atom register (qubits in the order they were added; |up> = 0,
|down> = 1) and ``e_q`` is the light basis of the engine: Fock states |n> for the Fock
engine, the generalised cat states f_q of the coherent-state engine. Leading axes ``...``
are a batch of parameter points (the coherent engine evaluates whole grids at once).

Every light basis vector carries an integer *label* ``lab_q`` such that the phase-space
rotation acts as ``R(theta) e_q = exp(i theta lab_q) e_q`` (for the angles the engine
supports) and the photon-number sector is ``n = lab_q (mod N)``. Rotations, conditional
rotations, sector projections and every atom-register operation are therefore written
once, here. An engine supplies the rest: the pure-loss channel, the USD effects in its
basis, and the light Gram diagonal ``<e_q|e_q>`` used for traces.
"""

from __future__ import annotations

import abc

import numpy as np

__all__ = ["LightAtomState", "PLUS", "MINUS"]

PLUS = np.array([1.0, 1.0]) / np.sqrt(2.0)
MINUS = np.array([1.0, -1.0]) / np.sqrt(2.0)


class LightAtomState(abc.ABC):
    """An unnormalised state of qubits (x) one light mode (see module docstring).

    Subclasses implement :meth:`loss`, :meth:`gram_diagonal`, :meth:`usd_effects` and
    :meth:`_copy_meta`. All operations return new states; nothing is modified in place.
    """

    #: name used by :func:`catbell_qutip.simulate`'s ``engine`` argument
    name: str = ""

    def __init__(self, K: np.ndarray, qubits: tuple[str, ...], labels: np.ndarray, x):
        self.K = K
        self.qubits = tuple(qubits)
        self.labels = np.asarray(labels)
        #: |beta|^2 of the ring the light lives on (deterministic amplitude after losses)
        self.x = np.asarray(x, dtype=float)

    # -- bookkeeping ----------------------------------------------------------------------
    @property
    def batch_shape(self) -> tuple:
        return self.K.shape[:-4]

    @property
    def n_qubits(self) -> int:
        return len(self.qubits)

    def _new(self, K, qubits=None, x=None) -> LightAtomState:
        out = object.__new__(type(self))
        out.K = K
        out.qubits = self.qubits if qubits is None else tuple(qubits)
        out.labels = self.labels
        out.x = self.x if x is None else x
        self._copy_meta(out)
        return out

    def _copy_meta(self, other: LightAtomState) -> None:  # pragma: no cover - default
        """Copy engine-specific attributes to ``other`` (none by default)."""
        return None

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
        ket = np.asarray(ket, dtype=complex)
        K = np.einsum("...abqp,i,j->...aibjqp", self.K, ket, ket.conj())
        d = 2 ** (self.n_qubits + 1)
        K = K.reshape(self.batch_shape + (d, d) + self.K.shape[-2:])
        return self._new(K, self.qubits + (label,))

    def apply_qubit_unitary(self, label: str, U) -> LightAtomState:
        """rho -> U rho U^dagger with a 2x2 unitary ``U`` on qubit ``label``."""
        i = self._index(label)
        nq = self.n_qubits
        U = np.asarray(U, dtype=complex)
        shp = self.batch_shape + (2 ** i, 2, 2 ** (nq - i - 1)) * 2 + self.K.shape[-2:]
        K = self.K.reshape(shp)
        K = np.einsum("xi,...aibcjdqp,yj->...axbcydqp", U, K, U.conj())
        return self._new(K.reshape(self.K.shape))

    def qubit_phase(self, label: str, phi: float) -> LightAtomState:
        """diag(1, e^{i phi}) on qubit ``label`` (a Z rotation; used for feed-forward)."""
        ph = np.exp(1j * phi * self._bit(label))
        K = self.K * ph[:, None, None, None] * ph.conj()[None, :, None, None]
        return self._new(K)

    def pauli_x(self, label: str) -> LightAtomState:
        return self.apply_qubit_unitary(label, [[0, 1], [1, 0]])

    def dephase(self, label: str, factor) -> LightAtomState:
        """Multiply the coherences of qubit ``label`` by ``factor`` (MODEL.md 3.7)."""
        bit = self._bit(label)
        differ = bit[:, None] != bit[None, :]
        f = np.asarray(factor, dtype=float)[..., None, None]
        mult = np.where(differ, f, 1.0)
        return self._new(self.K * mult[..., None, None])

    def measure_qubit(self, label: str, bra) -> LightAtomState:
        """Project qubit ``label`` on the state ``bra`` and remove it (unnormalised)."""
        i = self._index(label)
        nq = self.n_qubits
        v = np.asarray(bra, dtype=complex).conj()
        shp = self.batch_shape + (2 ** i, 2, 2 ** (nq - i - 1)) * 2 + self.K.shape[-2:]
        K = np.einsum("i,...aibcjdqp,j->...abcdqp", v, self.K.reshape(shp), v.conj())
        d = 2 ** (nq - 1)
        K = K.reshape(self.batch_shape + (d, d) + self.K.shape[-2:])
        return self._new(K, self.qubits[:i] + self.qubits[i + 1:])

    def measure_qubit_x(self, label: str) -> list[tuple[int, LightAtomState]]:
        """X-basis measurement of qubit ``label``: [(0, "+" branch), (1, "-" branch)]."""
        return [(0, self.measure_qubit(label, PLUS)), (1, self.measure_qubit(label, MINUS))]

    # -- light operations written once via the labels --------------------------------
    def _check_angle(self, theta: float) -> None:
        """Engines that only support some angles override this."""
        return None

    def reflect(self, label: str, theta: float) -> LightAtomState:
        """Cavity reflection CR(theta) = |up><up| (x) 1 + |down><down| (x) R(theta).

        MODEL.md section 1; R(theta) = exp(i theta a^dagger a).
        """
        self._check_angle(theta)
        bit = self._bit(label)
        ph = np.exp(1j * theta * np.outer(bit, self.labels))  # (d, L)
        K = self.K * ph[:, None, :, None] * ph.conj()[None, :, None, :]
        return self._new(K)

    def rotate(self, theta: float) -> LightAtomState:
        """Unconditional rotation R(theta) of the light."""
        self._check_angle(theta)
        ph = np.exp(1j * theta * self.labels)
        return self._new(self.K * ph[:, None] * ph.conj()[None, :])

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
    def usd_effects(self, variant: str, n_comp: int, sector: int, p_dark=0.0) -> dict:
        """POVM effects {"even": E, "odd": E} as matrices E[p, q] = <e_p|E|e_q>."""

    # -- read-out ----------------------------------------------------------------------
    def atom_matrix(self) -> np.ndarray:
        """Partial trace over the light: the (unnormalised) register state, (*batch, d, d)."""
        g = self.gram_diagonal()
        diag = np.diagonal(self.K, axis1=-2, axis2=-1)  # (..., d, d, L)
        return np.einsum("...abq,...q->...ab", diag, g)

    def trace(self) -> np.ndarray:
        return np.real(np.trace(self.atom_matrix(), axis1=-2, axis2=-1))

    def measure_light(self, effects: dict) -> dict:
        """Apply a light POVM: for each effect E, Tr_light[(1 (x) E) rho] (*batch, d, d)."""
        return {
            name: np.einsum("...abqp,...pq->...ab", self.K, E) for name, E in effects.items()
        }
