"""The protocol of docs/model.md section 3, written once for both state representations.

:func:`run_protocol` strings the operations of :mod:`catbell_qutip.engines` together in
the order docs/model.md gives, branching over every measurement outcome:

1. Alice encodes: the ideal encoder writes |0_N>; the explicit one runs m ancilla rounds
   (CR(2 pi / 2^j) with its eta_int loss, feed-forward phase, X measurement) and keeps
   every outcome r. Then atom A in |+> reflects the light with CR(pi/N), loss eta_int.
2. Alice's memory dephases while the light travels (factor exp(-t_w / t_c)); the light
   crosses one pure loss eta * eta_c * eta_fibre(L).
3. Bob reads the syndrome s = n mod N with the same ancilla rounds as the encoder.
4. Atom B in |+> reflects the light with CR(pi/N), loss eta_int.
5. Loss eta_d, then USD in sector s: "even" (A = B), "odd" (A != B) or inconclusive.
6. Pauli frame: X on B for "odd", then the phase the syndrome implies, so every heralded
   outcome ideally leaves |phi+> (or, with ``decoder="ml"``, the per-record correction
   of highest fidelity). The heralded state is the sum over conclusive outcomes.

Every eta_int loss sits where ``eta_int_placement`` puts it (:func:`lossy_reflection`):
right after each reflection, right before it, or, "lumped", folded into the channel loss
of step 2 as eta_int^k (k reflections per attempt).

Two exact rewritings keep the work small without changing the physics (the tests check
both against the operations done literally):

- An ancilla round is the light's two-outcome Kraus operator
  M_t = (1 + (-1)^t e^{i phi} R(theta)) / 2 (:meth:`~.engines.base.LightAtomState.ancilla_round`):
  the ancilla is prepared, reflected, phased and measured at once, so it never enters the
  register, and a loss right after its reflection is applied after its measurement (they
  act on different systems, so they commute).
- Consecutive pure losses with nothing between them but operations on the atoms (memory
  dephasing, a new qubit) are one pure loss of the product transmission: the protocol
  keeps a pending transmission and applies it right before the next operation on the
  light (a reflection, an ancilla round, the USD).

Feed-forward (a choice docs/model.md leaves implicit for the encoder): in round j the ancilla
gets the phase exp(-2 pi i b / 2^j) on |down> before the X measurement, b = n mod 2^(j-1)
from the earlier rounds, so that the round reads bit j of n and the m rounds together
project on one sector n = r (mod N).

Pauli frame: with r the encoder sector and s the syndrome, the loss Bob infers is the
smallest j0 = (r - s) mod N; a loss of j photons gives A's |down> branch the phase
e^{i pi j / N} and the "even" outcome the extra phase e^{2 pi i s / N}. Bob undoes
phi = pi j0 / N (+ 2 pi s / N for "even") on B. A true loss j = j0 + N (mod 2N) leaves a
sign: the logical phase flip the code cannot see (docs/model.md section 2).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from .engines.base import LightAtomState

__all__ = ["Outcome", "run_protocol", "run_probability", "sector_readout",
           "lossy_reflection", "pauli_frame"]


@dataclass(frozen=True)
class Outcome:
    """One classical record of an attempt and its (unnormalised) two-atom state.

    Parameters
    ----------
    encoder_sector : int
        Sector r the explicit encoder wrote (0 with the ideal encoder).
    syndrome : int
        Bob's syndrome s = n mod N read by his ancilla rounds.
    usd : str
        Bob's USD result: "even", "odd" or "inconclusive".
    probability : ndarray
        Probability of this record (dimensionless), shape of the batch (0-d for one point).
    rho_ab : ndarray or None
        Pauli-corrected, unnormalised two-atom matrix, shape (*batch, 4, 4), atom order A, B;
        trace = ``probability``. None for inconclusive records.

    Examples
    --------
    >>> import numpy as np
    >>> o = Outcome(0, 0, "even", np.array(0.5), np.eye(4) / 8)
    >>> bool(np.isclose(np.trace(o.rho_ab), o.probability))
    True
    """

    encoder_sector: int
    syndrome: int
    usd: str  # "even" | "odd" | "inconclusive"
    probability: np.ndarray
    rho_ab: np.ndarray | None  # corrected, unnormalised; None for inconclusive


def lossy_reflection(state: LightAtomState, label: str, theta: float, eta_int,
                     placement: str) -> LightAtomState:
    """CR(theta) off qubit ``label``'s cavity with the eta_int loss where ``placement`` puts it.

    "after" the reflection, "before" it, or nowhere ("lumped": the caller folds eta_int into
    the channel). docs/model.md section 3, "Imperfections".

    Parameters
    ----------
    state : LightAtomState
        The qubits (x) light state (either engine).
    label : str
        Label of the qubit whose cavity reflects the light.
    theta : float
        Conditional rotation angle [rad].
    eta_int : float or ndarray
        Light-matter interaction efficiency in [0, 1] (dimensionless), broadcasting with the
        batch.
    placement : {"after", "before", "lumped"}
        Where the eta_int loss acts.

    Returns
    -------
    LightAtomState
        The new state (same engine); the light's ring x is multiplied by eta_int unless
        ``placement`` is "lumped".

    Examples
    --------
    >>> import numpy as np
    >>> from catbell_qutip.engines import CoherentState
    >>> s = CoherentState.codeword(1.0, 2).add_qubit("A")
    >>> out = lossy_reflection(s, "A", np.pi / 2, 0.5, "after")
    >>> float(out.x), bool(np.isclose(out.trace(), 1.0))
    (0.5, True)
    """
    if placement == "before":
        state = state.loss(eta_int)
    state = state.reflect(label, theta)
    if placement == "after":
        state = state.loss(eta_int)
    return state


def _is_one(eta) -> bool:
    if isinstance(eta, float):
        return eta == 1.0
    return bool(np.all(np.asarray(eta) == 1.0))


def _flush(state: LightAtomState, pending) -> LightAtomState:
    """Apply a pending pure loss (a no-op at transmission 1)."""
    return state if _is_one(pending) else state.loss(pending)


def _readout(state: LightAtomState, pending, n_rounds: int, before, after):
    """The ancilla rounds with feed-forward on every branch, losses kept pending.

    Returns [(bits, state, pending transmission)]. Round j: the pending loss and the loss
    before the reflection (``before``) are applied, then the round's two outcomes
    (:meth:`~.engines.base.LightAtomState.ancilla_round`, phase exp(-2 pi i b / 2^j), b the
    bits read so far), each left with the loss after its reflection (``after``) pending.
    """
    branches = [(0, state, pending)]
    for j in range(1, n_rounds + 1):
        nxt = []
        for bits, st, pend in branches:
            st = _flush(st, pend * before)
            for t, sub in st.ancilla_round(2 * np.pi / 2 ** j, -2 * np.pi * bits / 2 ** j):
                nxt.append((bits + (t << (j - 1)), sub, after))
        branches = nxt
    return branches


def _placed(eta_int, placement: str):
    """(loss before, loss after) each reflection for an eta_int placement."""
    one = 1.0
    return (eta_int if placement == "before" else one,
            eta_int if placement == "after" else one)


def sector_readout(state: LightAtomState, n_rounds: int, eta_int, label: str = "anc",
                   placement: str = "after"):
    """Measure n mod 2^n_rounds with ancilla reflections and feed-forward (docs/model.md 3.1, 3.3).

    Each round j = 1..m: ancilla in |+>, CR(2 pi / 2^j) with its eta_int loss placed by
    ``placement``, phase exp(-2 pi i b / 2^j) on the ancilla's |down> (b = bits read so far),
    X measurement ("+" = bit 0). ``label`` is kept for compatibility: the ancilla is
    eliminated exactly (:meth:`~catbell_qutip.engines.base.LightAtomState.ancilla_round`).

    Parameters
    ----------
    state : LightAtomState
        The light (and any qubits) to read.
    n_rounds : int
        Number of rounds m (dimensionless); reads n mod 2^m.
    eta_int : float or ndarray
        Light-matter interaction efficiency at each ancilla reflection, in [0, 1].
    label : str, optional
        Unused label of the ancilla (kept for compatibility).
    placement : {"after", "before", "lumped"}, optional
        Where the eta_int loss acts (default "after").

    Returns
    -------
    list of (int, LightAtomState)
        (sector, unnormalised state) for each of the 2^m outcomes; traces are their
        probabilities.

    Examples
    --------
    One round on |alpha> finds n even with probability e^{-x} cosh x, x = |alpha|^2:

    >>> import numpy as np
    >>> from catbell_qutip.engines import CoherentState
    >>> (s0, even), (s1, odd) = sector_readout(CoherentState.coherent(1.0, 2), 1, 1.0)
    >>> s0, bool(np.isclose(even.trace(), np.exp(-1.0) * np.cosh(1.0)))
    (0, True)
    """
    before, after = _placed(eta_int, placement)
    return [(bits, _flush(st, pend))
            for bits, st, pend in _readout(state, 1.0, n_rounds, before, after)]


_X_ON_B = [1, 0, 3, 2]  # X on B: |a b> -> |a, 1-b> (basis |up up>, |up down>, ...)


def _correct(rho_ab: np.ndarray, flip, phi) -> np.ndarray:
    """X on B where ``flip``, then diag(1, e^{-i phi}) on B; ``flip``/``phi`` broadcast."""
    flip = np.asarray(flip)
    if flip.ndim == 0:
        if flip:
            rho_ab = rho_ab[..., _X_ON_B, :][..., :, _X_ON_B]
    else:
        swapped = rho_ab[..., _X_ON_B, :][..., :, _X_ON_B]
        rho_ab = np.where(flip[..., None, None], swapped, rho_ab)
    phi = np.asarray(phi, dtype=float)[..., None]
    ph = np.exp(-1j * phi * np.array([0, 1, 0, 1]))  # diag(1, e^{-i phi}) on B
    return rho_ab * ph[..., :, None] * ph.conj()[..., None, :]


def pauli_frame(rho_ab: np.ndarray, n_comp: int, encoder_sector: int, syndrome: int,
                usd: str, decoder: str = "smallest-loss") -> np.ndarray:
    """Apply Bob's correction to a (..., 4, 4) two-atom matrix (atom order A, B).

    docs/model.md section 3, step 6. ``decoder="smallest-loss"``: Bob assumes the smallest
    loss consistent with the records, j0 = (r - s) mod N, and applies X on B for "odd",
    then diag(1, e^{-i phi}) on B with phi = pi j0 / N (+ 2 pi s / N for "even").

    ``decoder="ml"``: per record (and per parameter point of a batch) the correction that
    maximises the record's fidelity with phi+. On the uncorrected record state r that is
    X on B or not, whichever gives the larger 1/2 (r_00 + r_33) + |r_03| (no X) or
    1/2 (r_11 + r_22) + |r_12| (X), then the phase that makes the |up up><down down|
    coherence real and positive. Bob knows every parameter, so this table record ->
    correction is a local operation fixed in advance. For l = 0 with pure losses only
    (no dark counts) the two decoders coincide: every "even" record is
    F phi+ + (1 - F) phi- with F >= 1/2 and a real, positive coherence, and every "odd"
    record is its X-flipped image, so the smallest-loss frame already is the best one.
    Dark counts can herald records whose bit is more likely wrong than right; there
    "ml" flips where "smallest-loss" does not.

    Parameters
    ----------
    rho_ab : ndarray
        Two-atom matrix, shape (..., 4, 4) (unnormalised allowed).
    n_comp : int
        N = l + 1 (dimensionless).
    encoder_sector : int
        r, the sector the encoder wrote.
    syndrome : int
        s, Bob's syndrome.
    usd : str
        "even" or "odd".
    decoder : {"smallest-loss", "ml"}, optional
        Bob's decoding rule (default "smallest-loss").

    Returns
    -------
    ndarray
        The corrected matrix, same shape as ``rho_ab``.

    Examples
    --------
    An "odd" record with no loss is psi+; X on B makes it phi+:

    >>> import numpy as np
    >>> psi = np.array([0, 1, 1, 0]) / np.sqrt(2)
    >>> out = pauli_frame(np.outer(psi, psi), 2, 0, 0, "odd")
    >>> phi = np.array([1, 0, 0, 1]) / np.sqrt(2)
    >>> bool(np.isclose(phi @ out @ phi, 1.0))
    True
    """
    if decoder == "ml":
        diag = np.real(np.diagonal(rho_ab, axis1=-2, axis2=-1))
        keep = 0.5 * (diag[..., 0] + diag[..., 3]) + np.abs(rho_ab[..., 0, 3])
        swap = 0.5 * (diag[..., 1] + diag[..., 2]) + np.abs(rho_ab[..., 1, 2])
        flip = swap > keep
        coherence = np.where(flip, rho_ab[..., 1, 2], rho_ab[..., 0, 3])
        return _correct(rho_ab, flip, -np.angle(coherence))
    flip, col, row = _frame(n_comp, encoder_sector, syndrome, usd)
    if flip:
        rho_ab = rho_ab[..., _X_ON_B, :][..., :, _X_ON_B]
    return rho_ab * col * row


@functools.lru_cache(maxsize=256)
def _frame(n_comp: int, encoder_sector: int, syndrome: int, usd: str):
    """The smallest-loss frame of a record: (X on B?, the phase diag(1, e^{-i phi}) on B as
    a column and a conjugate row), the factors :func:`_correct` multiplies by (cached)."""
    j0 = (encoder_sector - syndrome) % n_comp
    phi = np.pi * j0 / n_comp + (2 * np.pi * syndrome / n_comp if usd == "even" else 0.0)
    ph = np.exp(-1j * np.asarray(phi, dtype=float)[..., None] * np.array([0, 1, 0, 1]))
    col, row = ph[..., :, None], ph.conj()[..., None, :]
    col.flags.writeable = row.flags.writeable = False
    return usd == "odd", col, row


#: Target size in bytes of the largest state array of one batch chunk. A large grid runs
#: through :func:`run_protocol` in chunks this size, so the arrays stay in the CPU cache
#: and fresh allocations do not page-fault on every operation (docs/model.md is unaffected:
#: every point is computed independently either way).
CHUNK_BYTES = 2 ** 20


def run_protocol(params, initial: LightAtomState, *, explicit: bool) -> list[Outcome]:
    """Run steps 1-6 from an initial light state; return every outcome.

    A batch larger than :data:`CHUNK_BYTES` allows is split into chunks of points that
    each run the same steps (:func:`_run_steps`); the outcomes are joined back.

    Parameters
    ----------
    params : ProtocolParams
        The protocol point(s); array fields broadcast over the state's batch axes.
    initial : LightAtomState
        The light before encoding: |0_N> for the ideal encoder, |alpha> for the explicit one.
    explicit : bool
        Whether to run the explicit encoding rounds on ``initial``.

    Returns
    -------
    list of Outcome
        One per record (r, s, USD result), for every r, s and result; conclusive records
        carry the corrected two-atom matrix.

    Examples
    --------
    Ideal encoder, l = 1: 1 sector x 2 syndromes x 3 USD results; the probabilities sum
    to one (trace preservation):

    >>> import numpy as np
    >>> from catbell_qutip.engines import CoherentState
    >>> from catbell_qutip.params import ProtocolParams
    >>> p = ProtocolParams(loss_order=1, alpha=1.0, eta=0.8)
    >>> outs = run_protocol(p, CoherentState.codeword(1.0, 2), explicit=False)
    >>> len(outs), bool(np.isclose(sum(o.probability for o in outs), 1.0))
    (6, True)
    """
    shape = np.broadcast_shapes(params.batch_shape, initial.batch_shape)
    size = math.prod(shape)
    L = initial.K.shape[-1]
    # largest array: two qubits (d = 4) of a light basis of L states, complex128; float64
    # where the state stays real (a real initial state at l = 0: no ancilla rounds, and
    # R(pi) = (-1)^n, see LightAtomState.reflect)
    itemsize = 8 if params.n_rounds == 0 and not np.iscomplexobj(initial.K) else 16
    chunk = max(16, CHUNK_BYTES // (16 * itemsize * L * L))
    if size <= chunk:
        return _run_steps(params, initial, explicit)
    flat_initial = initial.flat_batch(shape)
    parts = []
    for start in range(0, size, chunk):
        sl = slice(start, min(start + chunk, size))
        sub_params = params.flat_slice(sl, shape)
        parts.append(_run_steps(sub_params, flat_initial.batch_slice(sl), explicit))
    joined = []
    for pieces in zip(*parts, strict=True):
        first = pieces[0]
        n = [o.probability for o in pieces]
        prob = np.concatenate([np.broadcast_to(p, (p_sl,)) for p, p_sl in
                               zip(n, _lengths(size, chunk), strict=True)]).reshape(shape)
        rho = None
        if first.rho_ab is not None:
            rho = np.concatenate([np.broadcast_to(o.rho_ab, (c, 4, 4)) for o, c in
                                  zip(pieces, _lengths(size, chunk), strict=True)])
            rho = rho.reshape(shape + (4, 4))
        joined.append(Outcome(first.encoder_sector, first.syndrome, first.usd, prob, rho))
    return joined


def _lengths(size: int, chunk: int) -> list[int]:
    return [min(chunk, size - s) for s in range(0, size, chunk)]


def _run_steps(params, initial: LightAtomState, explicit: bool) -> list[Outcome]:
    """Steps 1-6 on one batch (see :func:`run_protocol`)."""
    n_comp, m = params.n_components, params.n_rounds
    before, after = _placed(params.eta_int_at_reflections, params.eta_int_placement)

    # 1. Alice encodes
    encoded = (_readout(initial, 1.0, m, before, after) if explicit
               else [(0, initial, 1.0)])
    outcomes: list[Outcome] = []
    for r, st, pend in encoded:
        st = _flush(st, pend * before).add_qubit("A").reflect("A", np.pi / n_comp)
        # 2. memory while the light travels; the loss after A's reflection and the
        # channel (with eta_int^k if "lumped") are one pure loss, applied when needed
        st = st.dephase("A", params.memory_factor)
        # 3. syndrome
        for s, sub, pend_s in _readout(st, after * params.eta_channel, m, before, after):
            # 4. Bob entangles; 5. detector loss and USD
            sub = _flush(sub, pend_s * before)
            total, measured = sub.entangle_and_measure(
                "B", np.pi / n_comp, after * params.eta_d, params.usd, n_comp, s,
                params.p_dark, encoder_sector=r)
            conclusive = 0.0
            for name in ("even", "odd"):
                rho = pauli_frame(measured[name], n_comp, r, s, name, params.decoder)
                p = np.real(np.trace(rho, axis1=-2, axis2=-1))
                conclusive = conclusive + p
                outcomes.append(Outcome(r, s, name, p, rho))
            outcomes.append(Outcome(r, s, "inconclusive", total - conclusive, None))
    return outcomes


def run_probability(params, initial: LightAtomState, *, explicit: bool) -> np.ndarray:
    """P alone (docs/model.md 3.6): the heralding probability of :func:`run_protocol`'s outcomes.

    P is a trace, so the atoms can be traced out right after their reflections: each
    leaves the light in (rho + R rho R^dag) / 2
    (:meth:`~catbell_qutip.engines.base.LightAtomState.reflect_traced`); Alice's memory and
    Bob's Pauli frame act on the atoms only and drop out. The light runs through the same
    steps as in :func:`run_protocol`, with no register: the rate solvers, which need P at
    many amplitudes, use this. Not clipped (see :func:`catbell_qutip.result.herald`).

    Parameters
    ----------
    params : ProtocolParams
        The protocol point(s).
    initial : LightAtomState
        The light before encoding: |0_N> (ideal encoder) or the primitive (explicit).
    explicit : bool
        Whether to run the explicit encoding rounds on ``initial``.

    Returns
    -------
    ndarray or float
        Heralding probability P (dimensionless), shape of the batch.

    Examples
    --------
    It equals the summed probability of the conclusive outcomes of :func:`run_protocol`:

    >>> import numpy as np
    >>> from catbell_qutip.engines import CoherentState
    >>> from catbell_qutip.params import ProtocolParams
    >>> p, init = ProtocolParams(loss_order=1, alpha=1.0, eta=0.8), CoherentState.codeword(1.0, 2)
    >>> outs = run_protocol(p, init, explicit=False)
    >>> P = sum(o.probability for o in outs if o.usd != "inconclusive")
    >>> bool(np.isclose(run_probability(p, init, explicit=False), P))
    True
    """
    return _probability_steps(params, initial.for_probability(), explicit)


def _probability_steps(params, light, explicit: bool):
    """:func:`run_probability`'s steps on ``light`` (a state, or an engine's light-only
    equivalent from :meth:`~catbell_qutip.engines.base.LightAtomState.for_probability`)."""
    n_comp, m = params.n_components, params.n_rounds
    before, after = _placed(params.eta_int_at_reflections, params.eta_int_placement)
    # fields read once (properties that compute; every branch gets the same values)
    theta = np.pi / n_comp
    eta_channel, eta_final = after * params.eta_channel, after * params.eta_d
    usd, p_dark = params.usd, params.p_dark
    encoded = (_readout(light, 1.0, m, before, after) if explicit
               else [(0, light, 1.0)])
    P = 0.0
    for r, st, pend in encoded:
        st = _flush(st, pend * before).reflect_traced(theta)
        for s, sub, pend_s in _readout(st, eta_channel, m, before, after):
            sub = _flush(sub, pend_s * before)
            P = P + sub.conclusive_probability(theta, eta_final, usd, n_comp, s, p_dark,
                                               encoder_sector=r)
    return P
