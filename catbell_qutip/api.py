"""Public entry points: :func:`simulate` (one point, either engine) and :func:`evaluate`
(whole parameter grids, vectorised on the coherent-state engine)."""

from __future__ import annotations

import warnings

import numpy as np
import qutip

from ._checks import check_choice
from .codes import DEFAULT_TRUNCATION_TOL, auto_cutoff, check_cutoff
from .engines import ENGINES, CoherentState, FockState
from .params import ProtocolParams
from .protocol import run_protocol
from .result import ProtocolResult, herald, summarise

__all__ = ["simulate", "evaluate", "run", "OUTPUTS"]

#: quantities :func:`evaluate` returns
OUTPUTS = ("P", "F", "S", "Q")


def _make_params(loss_order, alpha, eta, params, kwargs) -> ProtocolParams:
    if params is not None:
        if kwargs or loss_order is not None or alpha is not None or eta is not None:
            raise ValueError("give either params=ProtocolParams(...) or individual parameters")
        return params
    fields = dict(kwargs)
    if loss_order is not None:
        fields["loss_order"] = loss_order
    if alpha is not None:
        fields["alpha"] = alpha
    if eta is not None:
        fields["eta"] = eta
    return ProtocolParams(**fields)


def _initial_state(params: ProtocolParams, engine: str, cutoff, tol):
    n_comp = params.n_components
    explicit = params.encoder == "explicit"
    if engine == "coherent":
        make = CoherentState.coherent if explicit else CoherentState.codeword
        return make(params.alpha, n_comp), None
    sector = None if explicit else 0
    if cutoff is None:
        cutoff = auto_cutoff(params.loss_order, params.alpha, tol=tol, sector=sector)
    else:
        check_cutoff(params.loss_order, params.alpha, cutoff, tol=tol, sector=sector)
    make = FockState.coherent if explicit else FockState.codeword
    return make(params.alpha, n_comp, cutoff=int(cutoff)), int(cutoff)


def run(params: ProtocolParams, *, engine: str = "coherent", cutoff=None,
        tol: float = DEFAULT_TRUNCATION_TOL):
    """Run the protocol; return (outcomes, cutoff, truncation_error). Low-level."""
    check_choice(engine, "engine", ENGINES)
    if engine == "fock" and params.batch_shape != ():
        raise ValueError("the Fock engine runs one point at a time; use evaluate() for grids")
    initial, cutoff = _initial_state(params, engine, cutoff, tol)
    outcomes = run_protocol(params, initial, explicit=params.encoder == "explicit")
    trunc = getattr(initial, "truncation_error", 0.0)
    return outcomes, cutoff, trunc


def simulate(loss_order=None, alpha=None, eta=None, *, engine: str = "fock", cutoff=None,
             tol: float = DEFAULT_TRUNCATION_TOL, params: ProtocolParams | None = None,
             **kwargs) -> ProtocolResult:
    """Simulate one protocol point (MODEL.md section 3) and return its figures of merit.

    Parameters
    ----------
    loss_order : int
        l = 2^m - 1 (0, 1, 3, ...).
    alpha : float
        Coherent amplitude |alpha| > 0.
    eta : float, optional
        Extra pure-loss transmission between Alice's and Bob's entangling reflections
        (default 1). With nothing else set, this is the ideal protocol of MODEL.md section 5.
    engine : {"fock", "coherent"}
        Truncated Fock-space density matrices (default) or the truncation-free engine on
        sums of coherent states. Both run the same protocol code.
    cutoff : int, optional
        Fock cutoff (largest photon number). Default: the smallest cutoff dropping at most
        ``tol`` of the probability (:func:`catbell_qutip.codes.auto_cutoff`).
    tol : float
        Largest probability mass the Fock cutoff may drop (default 1e-12).
    params : ProtocolParams, optional
        A complete parameter object instead of the individual arguments.
    **kwargs
        Any other :class:`~catbell_qutip.params.ProtocolParams` field (``length_km``,
        ``eta_int``, ``usd``, ``encoder``, ...).

    Returns
    -------
    ProtocolResult

    Raises
    ------
    ValueError
        For invalid parameters, a cutoff that drops more than ``tol``, or a point where no
        attempt can succeed (P = 0).

    Examples
    --------
    >>> r = simulate(1, 1.2, 0.7)
    >>> round(r.S, 4) <= 2 * 2 ** 0.5
    True
    """
    params = _make_params(loss_order, alpha, eta, params, kwargs)
    if params.batch_shape != ():
        raise ValueError("simulate() takes one parameter point; use evaluate() for arrays")
    outcomes, cutoff, trunc = run(params, engine=engine, cutoff=cutoff, tol=tol)
    P, rho_un = herald(outcomes)
    P = float(P)
    if not P > 0.0:
        raise ValueError(
            f"no attempt succeeds at this point (P = {P:g}): the light reaching Bob is "
            "(numerically) vacuum; raise alpha or the transmissions"
        )
    rho, F, S, Q = summarise(rho_un, P)
    rho_q = qutip.Qobj(rho, dims=[[2, 2], [2, 2]])
    return ProtocolResult(params=params, engine=engine, P=P, F=float(F), S=float(S),
                          Q=float(Q), rho_ab=rho_q, cutoff=cutoff,
                          truncation_error=float(trunc), outcomes=outcomes)


def evaluate(loss_order, *, engine: str = "coherent", grid: bool = False,
             outputs=OUTPUTS, cutoff=None, tol: float = DEFAULT_TRUNCATION_TOL,
             **kwargs):
    """Evaluate P, F, S, Q on many parameter points at once.

    Parameters
    ----------
    loss_order : int
        l = 2^m - 1 (one value per call).
    engine : {"coherent", "fock"}
        "coherent" (default) pushes the whole batch through the protocol in one pass;
        "fock" loops over points (each with its own automatic cutoff) and is much slower.
    grid : bool
        False (default): array parameters broadcast with NumPy rules and the result is a
        dict of arrays of the broadcast shape. True: every array parameter is a 1-D axis,
        the result is an :class:`xarray.Dataset` on their outer product with one named
        dimension per axis.
    outputs : sequence of str
        Subset of ("P", "F", "S", "Q").
    **kwargs
        ``alpha``, ``eta`` and any other :class:`~catbell_qutip.params.ProtocolParams` field.

    Returns
    -------
    dict of ndarray, or xarray.Dataset when ``grid=True``.

    Notes
    -----
    F, S and Q are conditional on success; where P underflows to 0 they are undefined and
    returned as NaN, with a RuntimeWarning naming how many points that concerns.
    """
    bad = [o for o in outputs if o not in OUTPUTS]
    if bad:
        raise ValueError(f"unknown output {bad[0]!r}; choose from {OUTPUTS}")
    check_choice(engine, "engine", ENGINES)
    axes = {}
    if grid:
        axes = {k: np.asarray(v, dtype=float) for k, v in kwargs.items()
                if np.ndim(v) > 0}
        for name, v in axes.items():
            if v.ndim != 1 or v.size == 0:
                raise ValueError(f"grid axis {name!r} must be a non-empty 1-D array")
        n = len(axes)
        for i, name in enumerate(axes):
            shape = [1] * n
            shape[i] = axes[name].size
            kwargs[name] = axes[name].reshape(shape)
    params = ProtocolParams(loss_order=loss_order, **kwargs)
    shape = params.batch_shape
    if engine == "coherent":
        outcomes, _, _ = run(params, engine="coherent")
        P, rho_un = herald(outcomes)
        P = np.broadcast_to(P, shape)
        rho_un = np.broadcast_to(rho_un, shape + (4, 4))
    else:
        P = np.empty(shape)
        rho_un = np.empty(shape + (4, 4), dtype=complex)
        for idx in np.ndindex(*shape):
            outcomes, _, _ = run(params.at(idx), engine="fock", cutoff=cutoff, tol=tol)
            P[idx], rho_un[idx] = herald(outcomes)
    n_zero = int(np.sum(~(P > 0)))
    if n_zero:
        warnings.warn(f"{n_zero} point(s) have P = 0: F, S and Q are NaN there",
                      RuntimeWarning, stacklevel=2)
    _, F, S, Q = summarise(rho_un, P)
    values = {"P": np.asarray(P, dtype=float), "F": F, "S": S, "Q": Q}
    values = {k: values[k] for k in outputs}
    if not grid:
        return values
    import xarray as xr

    dims = list(axes)
    units = {"length_km": "km", "db_per_km": "dB/km", "t_c_s": "s", "t0_s": "s"}
    coords = {d: (d, axes[d], {"units": units.get(d, "1")}) for d in dims}
    long = {"P": "heralding probability", "F": "heralded fidelity to phi+",
            "S": "CHSH value", "Q": "bit-error rate of key rounds"}
    data = {k: (dims, np.asarray(v), {"long_name": long[k], "units": "1"})
            for k, v in values.items()}
    fixed = {k: (str(v) if not isinstance(v, (int, float)) else v)
             for k, v in params.as_dict().items() if k not in axes}
    return xr.Dataset(data, coords=coords, attrs={"engine": engine, **{
        k: v for k, v in fixed.items() if v is not None}})
