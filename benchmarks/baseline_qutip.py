"""The protocol as a plain QuTiP user would write it: full-space Qobj operators, one by one.

This is the speed baseline of ``catbell bench speed`` (issue 6) and a correctness
cross-check of the Fock engine (``tests/test_baseline.py``). It uses no block structure:
the state is one Qobj density matrix on atoms A, B (x) light, dims [2, 2, cutoff + 1], and
every step is a full-space operator built with :func:`qutip.tensor` from
:mod:`catbell_qutip.operations`:

1. |+>_A |+>_B |0_N> (B is idle until its reflection, so it can sit in the register);
2. CR(pi/N) on A, the eta_int loss (full-space Kraus operators 1 (x) 1 (x) A_k), Alice's
   memory dephasing (phase-flip Kraus operators on A), the channel loss;
3. syndrome s: sector projector 1 (x) 1 (x) P_s then the eta_int loss. For l = 1 (one
   ancilla round) this *is* the ancilla readout of MODEL.md 3.3: the ancilla's X
   measurement after CR(pi) projects the light on the parity sector, and the eta_int loss
   on the light commutes with the ancilla measurement (l = 0 has no round and no loss
   there). Only l = 0 and l = 1 are supported;
4. CR(pi/N) on B, the eta_int loss, the detector loss eta_d;
5. the optimal USD of sector s (:func:`catbell_qutip.operations.tub_povm`) on the light,
   partial trace over the light;
6. Bob's Pauli frame written with qutip operators (X on B for "odd", then the phase
   diag(1, exp(-i phi)) on B, phi = pi j0 / N (+ 2 pi s / N for "even"), j0 = -s mod N).

It supports the ideal encoder and the "tub" USD (the point of the target: the same l = 1
point the engine computes), every loss and the memory factor.
"""

from __future__ import annotations

import numpy as np
import qutip

from catbell_qutip.codes import codewords
from catbell_qutip.operations import (
    bell_state,
    conditional_rotation,
    loss_kraus,
    sector_projector,
    tub_povm,
)
from catbell_qutip.params import ProtocolParams

__all__ = ["baseline_point"]


def _full(light_op: qutip.Qobj) -> qutip.Qobj:
    """1_A (x) 1_B (x) light_op."""
    return qutip.tensor(qutip.qeye(2), qutip.qeye(2), light_op)


def _loss(rho: qutip.Qobj, eta: float, cutoff: int) -> qutip.Qobj:
    """Pure loss on the light: sum_k (1 (x) 1 (x) A_k) rho (...)^dagger, Kraus by Kraus."""
    if eta == 1.0:  # the identity channel (the engine skips it too)
        return rho
    out = 0 * rho
    for A in loss_kraus(eta, cutoff):
        K = _full(A)
        out = out + K * rho * K.dag()
    return out


def _dephase_A(rho: qutip.Qobj, factor: float, cutoff: int) -> qutip.Qobj:
    """Phase-flip channel on A that multiplies its coherences by ``factor``."""
    if factor == 1.0:
        return rho
    Z = qutip.tensor(qutip.sigmaz(), qutip.qeye(2), qutip.qeye(cutoff + 1))
    return 0.5 * (1 + factor) * rho + 0.5 * (1 - factor) * Z * rho * Z


def baseline_point(params: ProtocolParams, cutoff: int) -> tuple[float, float]:
    """(P, F) of one protocol point with full-space QuTiP operators.

    Parameters
    ----------
    params : ProtocolParams
        A single point with ``loss_order`` 0 or 1, ``encoder="ideal"``, ``usd="tub"``.
    cutoff : int
        Fock cutoff (largest photon number kept); use the engine's to compare.

    Returns
    -------
    (float, float)
        Heralding probability P and heralded fidelity F to phi+.
    """
    if params.batch_shape != ():
        raise ValueError("baseline_point takes a single parameter point")
    if params.loss_order not in (0, 1):
        raise ValueError(f"loss_order = {params.loss_order}: the baseline supports 0 and 1")
    if params.encoder != "ideal" or params.usd != "tub":
        raise ValueError("the baseline supports encoder='ideal' and usd='tub' only")
    N = params.n_components
    eta_int = float(params.eta_int)
    eta_ch = float(params.eta_channel)
    eta_d = float(params.eta_d)
    mem = float(params.memory_factor)
    alpha = float(params.alpha)

    plus = (qutip.basis(2, 0) + qutip.basis(2, 1)).unit()
    zero_n, _ = codewords(params.loss_order, alpha, cutoff)
    psi = qutip.tensor(plus, plus, zero_n)
    rho = psi * psi.dag()

    cr_a = conditional_rotation(np.pi / N, cutoff, n_qubits=2, control=0)
    cr_b = conditional_rotation(np.pi / N, cutoff, n_qubits=2, control=1)

    # Alice: reflection, eta_int; memory; channel
    rho = cr_a * rho * cr_a.dag()
    rho = _loss(rho, eta_int, cutoff)
    rho = _dephase_A(rho, mem, cutoff)
    rho = _loss(rho, eta_ch, cutoff)

    # light amplitude at the detectors: eta_int after Alice's, each syndrome and Bob's round
    beta = alpha * np.sqrt(eta_int ** (2 + params.n_rounds) * eta_ch * eta_d)
    phi_plus = bell_state("phi+")
    rho_herald = 0
    for s in range(N):
        # syndrome round(s) (see module docstring), Bob's reflection and losses
        Ps = _full(sector_projector(N, s, cutoff))
        sub = Ps * rho * Ps
        if params.n_rounds:
            sub = _loss(sub, eta_int, cutoff)
        sub = cr_b * sub * cr_b.dag()
        sub = _loss(sub, eta_int, cutoff)
        sub = _loss(sub, eta_d, cutoff)
        e_even, e_odd, _ = tub_povm(N, s, beta, cutoff)
        j0 = (-s) % N
        for name, E in (("even", e_even), ("odd", e_odd)):
            rho_ab = (_full(E) * sub).ptrace([0, 1])
            if name == "odd":
                XB = qutip.tensor(qutip.qeye(2), qutip.sigmax())
                rho_ab = XB * rho_ab * XB
            phi = np.pi * j0 / N + (2 * np.pi * s / N if name == "even" else 0.0)
            RB = qutip.tensor(qutip.qeye(2), qutip.Qobj(np.diag([1.0, np.exp(-1j * phi)])))
            rho_herald = rho_herald + RB * rho_ab * RB.dag()
    P = float(np.real(rho_herald.tr()))
    F = float(np.real(qutip.expect(rho_herald, phi_plus))) / P
    return P, F
