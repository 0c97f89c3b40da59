"""Public entry points: :func:`simulate` (one point, either engine) and :func:`evaluate`
(whole parameter grids, vectorised on the coherent-state engine)."""

from __future__ import annotations

import warnings

import numpy as np

from ._checks import check_choice
from .codes import DEFAULT_TRUNCATION_TOL, auto_cutoff, check_cutoff, cutoff_and_tail
from .engines import ENGINES, CoherentState, FockState
from .params import ProtocolParams
from .protocol import run_protocol
from .result import ProtocolResult, herald, summarise

__all__ = ["simulate", "evaluate", "run", "OUTPUTS", "FOCK_LINEAR_P_FLOOR"]

#: quantities :func:`evaluate` returns
OUTPUTS = ("P", "F", "S", "Q")

#: Smallest heralding probability at which the Fock engine's F, S and Q are trusted with
#: the linear-optics USD. Its effects are alternating sums of 2^(2N) no-click matrices
#: (inclusion-exclusion), which leave up to ~3e-17 absolute noise even in long double
#: (measured against the coherent engine, l = 3); F, S and Q are conditioned on success,
#: so the noise there is ~3e-17 / P. Below this floor the Fock engine refuses. (The TUB
#: effects are built without cancellation and need no floor.)
FOCK_LINEAR_P_FLOOR = 1e-7


def _check_fock_resolution(P: float, usd: str) -> None:
    if usd == "linear" and P < FOCK_LINEAR_P_FLOOR:
        raise ValueError(
            f"P = {P:.3g} is below the Fock engine's resolution floor {FOCK_LINEAR_P_FLOOR:g} "
            "for the linear-optics USD: the cancellation in its click effects (~3e-17) would "
            "dominate F, S and Q, which are conditioned on success; use engine='coherent', "
            "which stays exact at any P"
        )


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


def _fock_initial(params: ProtocolParams, cutoff: int, truncation_error=None):
    make = FockState.coherent if params.encoder == "explicit" else FockState.codeword
    return make(params.alpha, params.n_components, cutoff=int(cutoff),
                truncation_error=truncation_error)


def run(params: ProtocolParams, *, engine: str = "coherent", cutoff=None,
        tol: float = DEFAULT_TRUNCATION_TOL):
    """Run the protocol; return (outcomes, cutoff, truncation_error). Low-level.

    Fock truncation (engine="fock"): the cutoff must drop at most ``tol`` of the initial
    light state's probability AND at most ``tol * P``, because F, S and Q are conditioned
    on success and the dropped mass can shift them by up to ~mass / P. The automatic rule
    starts from the first condition and, if the run shows P below 1, raises the cutoff and
    runs again; a user cutoff that fails either condition raises ValueError naming the
    cutoff that would suffice.

    Examples
    --------
    The outcomes carry every record; their conclusive part sums to P (l = 0, alpha = 1,
    no loss: P = 1 - exp(-2) = 0.864665):

    >>> from catbell_qutip.result import herald
    >>> outcomes, cutoff, dropped = run(ProtocolParams(loss_order=0, alpha=1.0))
    >>> round(float(herald(outcomes)[0]), 6), cutoff, dropped
    (0.864665, None, 0.0)
    """
    check_choice(engine, "engine", ENGINES)
    explicit = params.encoder == "explicit"
    if engine == "coherent":
        make = CoherentState.coherent if explicit else CoherentState.codeword
        initial = make(params.alpha, params.n_components)
        return run_protocol(params, initial, explicit=explicit), None, 0.0
    if params.batch_shape != ():
        raise ValueError("the Fock engine runs one point at a time; use evaluate() for grids")
    if not tol > 0:
        raise ValueError(f"tol = {tol:g} must be > 0")
    sector = None if explicit else 0
    user = cutoff is not None
    if user:
        mass = check_cutoff(params.loss_order, params.alpha, cutoff, tol=tol, sector=sector)
    else:
        cutoff, mass = cutoff_and_tail(params.loss_order, params.alpha, tol=tol, sector=sector)
    for _ in range(4):
        initial = _fock_initial(params, cutoff, mass)
        outcomes = run_protocol(params, initial, explicit=explicit)
        P = float(herald(outcomes)[0])
        mass = initial.truncation_error
        if not P > 0 or mass <= tol * P:
            break
        need = auto_cutoff(params.loss_order, params.alpha, tol=0.5 * tol * P, sector=sector)
        if user:
            raise ValueError(
                f"cutoff = {cutoff} drops probability mass {mass:.3g}, more than tol = {tol:g} "
                f"times the heralding probability P = {P:.3g} (F, S and Q are conditioned on "
                f"success); use cutoff >= {need} (or cutoff=None for the automatic rule)"
            )
        cutoff = max(need, cutoff + 1)
        mass = None
    return outcomes, int(cutoff), float(initial.truncation_error)


def simulate(loss_order=None, alpha=None, eta=None, *, engine: str = "fock", cutoff=None,
             tol: float = DEFAULT_TRUNCATION_TOL, params: ProtocolParams | None = None,
             **kwargs) -> ProtocolResult:
    """Simulate one protocol point (docs/model.md section 3) and return its figures of merit.

    Parameters
    ----------
    loss_order : int
        l = 2^m - 1 (0, 1, 3, ...).
    alpha : float
        Coherent amplitude |alpha| > 0.
    eta : float, optional
        Extra pure-loss transmission between Alice's and Bob's entangling reflections
        (default 1). With nothing else set, this is the ideal protocol of docs/model.md section 5.
    engine : {"fock", "coherent"}
        Truncated Fock-space density matrices (default) or the truncation-free engine on
        sums of coherent states. Both run the same protocol code.
    cutoff : int, optional
        Fock cutoff (largest photon number). Default: the smallest cutoff dropping at most
        ``tol`` of the probability (:func:`catbell_qutip.codes.auto_cutoff`).
    tol : float
        Largest probability mass the Fock cutoff may drop (default 1e-12), both absolutely
        and relative to P (F, S and Q are conditioned on success); see :func:`run`.
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
        For invalid parameters, a cutoff that drops more than ``tol``, a point where no
        attempt can succeed (P = 0), or, with the Fock engine and the linear-optics USD, P
        below :data:`FOCK_LINEAR_P_FLOOR` (1e-7), where rounding noise would dominate F, S, Q.

    Examples
    --------
    For l = 0 the ideal protocol has P = 1 - exp(-2 eta alpha^2) = 0.834701 and
    F = (1 + exp(-2 (1 - eta) alpha^2)) / 2 = 0.909365 at alpha = 1, eta = 0.9
    (:mod:`catbell_qutip.closed_forms`), and S = 2 sqrt(1 + (2F - 1)^2). The automatic
    cutoff is 14: the Poisson(1) mass above 14 photons is ~e^-1 / 15! = 2.8e-13 <= 1e-12,
    above 13 it is ~4e-12:

    >>> r = simulate(0, 1.0, 0.9)
    >>> round(r.P, 6), round(r.F, 6), round(r.S, 6), r.cutoff
    (0.834701, 0.909365, 2.584817, 14)
    >>> r = simulate(0, 1.0, 0.9, engine="coherent")
    >>> round(r.P, 12), r.cutoff, r.truncation_error
    (0.834701111778, None, 0.0)
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
    if engine == "fock":
        _check_fock_resolution(P, params.usd)
    rho, F, S, Q = summarise(rho_un, P)
    return ProtocolResult(params=params, engine=engine, P=P, F=float(F), S=float(S),
                          Q=float(Q), rho_array=rho, cutoff=cutoff,
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

    Examples
    --------
    Two amplitudes at once (l = 0: P = 1 - exp(-2 eta alpha^2),
    F = (1 + exp(-2 (1 - eta) alpha^2)) / 2; docs/model.md section 5):

    >>> r = evaluate(0, alpha=[0.5, 1.0], eta=0.9)
    >>> r["P"].round(6), r["F"].round(6)
    (array([0.362372, 0.834701]), array([0.975615, 0.909365]))

    A grid of amplitudes and transmissions as an xarray.Dataset:

    >>> ds = evaluate(0, alpha=[0.5, 1.0], eta=[0.8, 0.9, 1.0], grid=True)
    >>> ds.P.dims, ds.P.shape, float(ds.F.sel(alpha=1.0, eta=1.0))
    (('alpha', 'eta'), (2, 3), 1.0)
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
            # P itself is accurate; only quantities conditioned on success need the floor
            if P[idx] > 0 and set(outputs) - {"P"}:
                _check_fock_resolution(float(P[idx]), params.usd)
    n_zero = int(np.sum(~(P > 0)))
    if n_zero:
        warnings.warn(f"{n_zero} point(s) have P = 0: F, S and Q are NaN there",
                      RuntimeWarning, stacklevel=2)
    _, F, S, Q = summarise(rho_un, P)
    values = {"P": np.asarray(P, dtype=float), "F": F, "S": S, "Q": Q}
    values = {k: values[k] for k in outputs}
    if not grid:
        return values
    # xarray is slow to import and only grid=True needs it: importing it here keeps
    # `import catbell_qutip` (which imports this module) light
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
