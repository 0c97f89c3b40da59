"""Public entry points: :func:`simulate` (one point, either engine) and :func:`evaluate`
(whole parameter grids, vectorised on the coherent-state engine)."""

from __future__ import annotations

import math
import warnings

import numpy as np

from ._checks import (
    ParameterError,
    PrecisionError,
    check_choice,
    check_memory,
    check_real,
    memory_limit_bytes,
)
from .codes import DEFAULT_TRUNCATION_TOL, auto_cutoff, check_cutoff, cutoff_and_tail
from .engines import ENGINES, CoherentState, FockState
from .params import PARAM_INFO, ProtocolParams
from .protocol import run_protocol
from .result import P_FLOOR, ProtocolResult, herald, summarise

__all__ = ["simulate", "evaluate", "run", "OUTPUTS", "FOCK_LINEAR_P_FLOOR",
           "predict_fock_resolution", "fock_memory_bytes", "seconds_per_point",
           "check_point_memory",
           "coherent_memory_bytes", "EVALUATE_CHUNK_BYTES"]

#: quantities :func:`evaluate` returns
OUTPUTS = ("P", "F", "S", "Q")

#: Smallest heralding probability at which the Fock engine's F, S and Q are trusted with
#: the linear-optics USD. Its effects are alternating sums of 2^(2N) no-click matrices
#: (inclusion-exclusion), which leave up to ~3e-17 absolute noise even in long double
#: (measured against the coherent engine, l = 3); F, S and Q are conditioned on success,
#: so the noise there is ~3e-17 / P. Below this floor the Fock engine refuses. (The TUB
#: effects are built without cancellation and need no floor.)
FOCK_LINEAR_P_FLOOR = 1e-7


#: Largest memory (bytes) :func:`evaluate` lets one chunk of a large grid hold besides its
#: outputs: the grid runs through the protocol in chunks of points, each reduced to
#: P, F, S, Q at once, so memory grows with the grid only by the outputs themselves
#: (8 bytes per point and output, plus the broadcast inputs). 256 MiB of the (conservative)
#: estimate: smaller chunks cost up to 1.3x in speed on 100 x 100 grids (benchmarks/speed.py).
EVALUATE_CHUNK_BYTES = 2 ** 28


def _check_fock_resolution(P: float, usd: str) -> None:
    """The one rule for a Fock point with the linear-optics USD: P below the floor
    (including a P that rounding made 0 or negative) is refused with this message, never
    reported as "no light"; the coherent engine then tells whether P is really 0."""
    if usd == "linear" and P < FOCK_LINEAR_P_FLOOR:
        raise PrecisionError(
            f"P = {max(P, 0.0):.3g} is below the Fock engine's resolution floor "
            f"{FOCK_LINEAR_P_FLOOR:g} for the linear-optics USD: the cancellation in its "
            "click effects (~3e-17) would dominate F, S and Q, which are conditioned on "
            "success; use engine='coherent', whose click effects keep their relative "
            f"precision down to P ~ {P_FLOOR:.0e}"
        )


def predict_fock_resolution(params: ProtocolParams) -> None:
    """Refuse, before any Fock-engine work, a linear-optics point whose P is below
    :data:`FOCK_LINEAR_P_FLOOR` (Fock l = 7 with the linear USD used to run 180-200 s
    building its 2^16 no-click matrices before refusing on the floor afterwards).

    P is predicted by the coherent engine on the same point (milliseconds; equal to the
    Fock engine's P to within its truncation, <= tol * P). Nothing is predicted, and the
    Fock run's own check afterwards (:func:`_check_fock_resolution`) decides, for the TUB
    (no floor), for a point the coherent engine cannot represent, or one too large for it
    (the Fock run's memory guard speaks first).
    """
    if params.usd != "linear" or coherent_memory_bytes(params, 1) > memory_limit_bytes():
        return
    try:
        initial = _coherent_initial(params)
        outcomes = run_protocol(params, initial, explicit=params.encoder == "explicit")
    except ValueError:
        return
    _check_fock_resolution(float(herald(outcomes)[0]), params.usd)


def _require(name: str, value, call: str) -> None:
    if value is None:
        raise ParameterError(
            f"{call}() needs {name} ({PARAM_INFO[name].long_name}); e.g. "
            f"{call}(loss_order=1, alpha=1.2, ...)", name)


def _check_fields(kwargs: dict, call: str) -> None:
    """Keyword arguments that are not ProtocolParams fields: a ParameterError, not the
    dataclass's TypeError."""
    unknown = sorted(set(kwargs) - set(PARAM_INFO))
    if unknown:
        raise ParameterError(f"{call}() got an unknown parameter {unknown[0]!r}; known "
                             f"parameters are {', '.join(PARAM_INFO)}", unknown[0])


def _make_params(loss_order, alpha, eta, params, kwargs) -> ProtocolParams:
    if params is not None:
        if not isinstance(params, ProtocolParams):
            raise ParameterError(f"params must be a ProtocolParams, got {params!r}; e.g. "
                                 "params=ProtocolParams(loss_order=1, alpha=1.2)", "params")
        if kwargs or loss_order is not None or alpha is not None or eta is not None:
            raise ValueError("give either params=ProtocolParams(...) or individual parameters")
        return params
    _check_fields(kwargs, "simulate")
    fields = dict(kwargs)
    if loss_order is not None:
        fields["loss_order"] = loss_order
    if alpha is not None:
        fields["alpha"] = alpha
    if eta is not None:
        fields["eta"] = eta
    _require("loss_order", fields.get("loss_order"), "simulate")
    _require("alpha", fields.get("alpha"), "simulate")
    return ProtocolParams(**fields)


def _check_tol(tol) -> float:
    """tol is a probability mass in (0, 1) (sensible: 1e-15 .. 1e-6)."""
    return check_real(tol, "tol", low=0.0, high=1.0, low_open=True, high_open=True)


def fock_memory_bytes(loss_order: int, cutoff: int, usd: str = "tub") -> float:
    """Estimated peak memory of one Fock-engine point, in bytes.

    Light dimension L = cutoff + 1. The pure-loss superoperator on L x L matrices (its
    sparsity pattern is built with L^3 index arrays) dominates: ~40 L^3 bytes (measured
    36 L^3 with tracemalloc). The states: register dimension 4 (two qubits at most), so
    4^2 L^2 complex entries (16 bytes) per copy, with up to 2N + 4 copies alive (the
    branches of the syndrome readout). The linear-optics USD caches 2^(2N) no-click
    matrices of L^2 long-double complex entries (32 bytes).
    """
    n_comp = loss_order + 1
    L = float(cutoff) + 1.0
    est = 40.0 * L ** 3 + 16.0 * L * L * 16.0 * (2 * n_comp + 4)
    if usd == "linear":
        est += 2.0 ** min(2 * n_comp, 1000) * 32.0 * L * L
    return est


def coherent_memory_bytes(params: ProtocolParams, n_points: int | None = None) -> float:
    """Estimated peak memory of one coherent-engine run of ``n_points`` points, in bytes.

    Per point: the states, 4^2 (2N)^2 complex entries per copy with up to 2N + 4 copies
    alive; the linear-optics click tensor, 3 (2N)^3 complex entries; the photon-number
    window of the sector sums (docs/model.md 5), |alpha|^2 + 12 |alpha| + 40 doubles,
    4 arrays; the classical records, 3 N of them (3 N^2 with the explicit encoder), each
    17 numbers. ``n_points`` defaults to the whole batch.
    """
    n_comp = params.n_components
    M = 2.0 * n_comp
    x = float(np.max(np.asarray(params.alpha, dtype=float))) ** 2
    window = x + 12.0 * math.sqrt(x) + 40.0
    n_out = 3 * n_comp * (n_comp if params.encoder == "explicit" else 1)
    per_point = (16.0 * M * M * 16.0 * (2 * n_comp + 4) + 4.0 * window * 8.0
                 + n_out * 17 * 16.0)
    if params.usd == "linear":
        per_point += 3.0 * M ** 3 * 16.0
    size = math.prod(params.batch_shape) if n_points is None else n_points
    return per_point * max(int(size), 1)


#: CPU seconds per point, by engine, USD and N = l + 1 (ideal encoder), measured with one
#: thread on a loaded 2-core machine: the coherent engine vectorised over 512 points
#: (every imperfection on), the Fock engine one point at |alpha| = 2.5 (the linear USD's
#: N = 8 point, alpha = 2, took 1342 s of wall time at load 9).
_POINT_SECONDS = {
    ("coherent", "tub"): {1: 1.3e-5, 2: 3.9e-5, 4: 1.8e-4, 8: 1.3e-3},
    ("coherent", "linear"): {1: 1.6e-5, 2: 8.3e-5, 4: 9.2e-4, 8: 1.5e-2},
    ("fock", "tub"): {1: 3.6e-3, 2: 4.6e-3, 4: 1.3e-2, 8: 0.1},
    ("fock", "linear"): {1: 8.1e-3, 2: 2.2e-2, 4: 0.55, 8: 700.0},
}


def seconds_per_point(loss_order: int, *, engine: str = "coherent", usd: str = "tub",
                      encoder: str = "ideal") -> float:
    """Rough CPU seconds one parameter point costs, for refusing hopeless runs up front.

    From measured values (:data:`_POINT_SECONDS`) doubled, so that the estimate errs
    high; the explicit encoder runs N encoder branches (x N); codes beyond N = 8 are
    extrapolated as N^4 (the cost per doubling of N grows 3-16 fold up to N = 8). An order
    of magnitude, not a promise.

    Examples
    --------
    >>> seconds_per_point(1) < seconds_per_point(1, usd="linear") < seconds_per_point(3)
    True
    """
    n = int(loss_order) + 1
    table = _POINT_SECONDS[(engine, usd)]
    known = max(k for k in table if k <= n) if n <= 8 else 8
    sec = table[known] * (n / known) ** 4
    return 2.0 * sec * (n if encoder == "explicit" else 1)


def _fock_way_out(params: ProtocolParams) -> str:
    """Advice for a Fock run refused for its memory: the coherent engine only where it
    can run the point itself (at l = 1023 it needs ~2e3 GiB too)."""
    if coherent_memory_bytes(params, 1) <= memory_limit_bytes():
        return "use engine='coherent', which needs no cutoff, or a smaller alpha"
    return ("give a lower loss_order: the coherent engine cannot run this point either "
            f"(~{coherent_memory_bytes(params, 1) / 2 ** 30:.3g} GiB for one point)")


def _fock_initial(params: ProtocolParams, cutoff: int, truncation_error=None):
    check_memory(fock_memory_bytes(params.loss_order, cutoff, params.usd),
                 f"the Fock engine at cutoff {cutoff} (l = {params.loss_order}, "
                 f"alpha = {float(params.alpha):g})",
                 _fock_way_out(params))
    make = FockState.coherent if params.encoder == "explicit" else FockState.codeword
    return make(params.alpha, params.n_components, cutoff=int(cutoff),
                truncation_error=truncation_error)


def _coherent_initial(params: ProtocolParams):
    make = CoherentState.coherent if params.encoder == "explicit" else CoherentState.codeword
    return make(params.alpha, params.n_components)


def run(params: ProtocolParams, *, engine: str = "coherent", cutoff=None,
        tol: float = DEFAULT_TRUNCATION_TOL):
    """Run the protocol; return (outcomes, cutoff, truncation_error). Low-level.

    Fock truncation (engine="fock"): the cutoff must drop at most ``tol`` of the initial
    light state's probability AND at most ``tol * P``, because F, S and Q are conditioned
    on success and the dropped mass can shift them by up to ~mass / P. The automatic rule
    starts from the first condition and, if the run shows P below 1, raises the cutoff and
    runs again; a user cutoff that fails either condition raises ValueError naming the
    cutoff that would suffice. ``tol`` must be in (0, 1); sensible values are 1e-15 to
    1e-6 (default 1e-12). ``cutoff`` is refused with the coherent engine, which has none.

    Every run first estimates its memory (:func:`fock_memory_bytes`,
    :func:`coherent_memory_bytes`) and raises
    :class:`~catbell_qutip._checks.MemoryLimitError` before any work if it exceeds the
    limit (:func:`catbell_qutip._checks.memory_limit_bytes`).

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
    tol = _check_tol(tol)
    explicit = params.encoder == "explicit"
    if engine == "coherent":
        if cutoff is not None:
            raise ParameterError(
                f"cutoff = {cutoff!r} applies to engine='fock' only: engine='coherent' has "
                "no truncation", "cutoff")
        _check_coherent_memory(params)
        return run_protocol(params, _coherent_initial(params), explicit=explicit), None, 0.0
    if params.batch_shape != ():
        raise ValueError("the Fock engine runs one point at a time; use evaluate() for grids")
    sector = None if explicit else 0
    user = cutoff is not None
    if user:
        mass = check_cutoff(params.loss_order, params.alpha, cutoff, tol=tol, sector=sector)
    else:
        _check_fock_amplitude(params)
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


def check_point_memory(params: ProtocolParams, *, engine: str = "coherent",
                       tol: float = DEFAULT_TRUNCATION_TOL) -> None:
    """Raise :class:`~catbell_qutip._checks.MemoryLimitError`, without computing anything,
    where :func:`run` would refuse the single point ``params`` for its memory (the Fock
    engine at its automatic cutoff, or the coherent engine on one point). For callers
    that must know before any work whether a point can run at all (a sweep whose every
    point would fail is refused before its store is created)."""
    check_choice(engine, "engine", ENGINES)
    if engine == "coherent":
        _check_coherent_memory(params, 1)
        return
    _check_fock_amplitude(params)
    sector = None if params.encoder == "explicit" else 0
    cutoff, _ = cutoff_and_tail(params.loss_order, params.alpha, tol=tol, sector=sector)
    check_memory(fock_memory_bytes(params.loss_order, cutoff, params.usd),
                 f"the Fock engine at cutoff {cutoff} (l = {params.loss_order}, "
                 f"alpha = {float(params.alpha):g})",
                 _fock_way_out(params))


def _check_fock_amplitude(params: ProtocolParams) -> None:
    """Refuse before computing a cutoff whose own window would not fit: the automatic cutoff
    is at least |alpha|^2 + |alpha| (the Poisson mean plus one standard deviation)."""
    x = float(params.alpha) ** 2
    check_memory(fock_memory_bytes(params.loss_order, x + math.sqrt(x), params.usd),
                 f"the Fock engine at alpha = {float(params.alpha):g} (cutoff above "
                 f"{int(x + math.sqrt(x))})",
                 _fock_way_out(params))


def _check_coherent_memory(params: ProtocolParams, n_points: int | None = None) -> None:
    size = math.prod(params.batch_shape)
    n = size if n_points is None else n_points
    check_memory(coherent_memory_bytes(params, n),
                 f"the coherent engine on {n} point(s) at once (l = {params.loss_order}, "
                 f"alpha up to {float(np.max(np.asarray(params.alpha))):g})",
                 "evaluate fewer points per call, a lower loss_order or a smaller alpha")


def simulate(loss_order=None, alpha=None, eta=None, *, engine: str = "fock", cutoff=None,
             tol: float = DEFAULT_TRUNCATION_TOL, params: ProtocolParams | None = None,
             **kwargs) -> ProtocolResult:
    """Simulate one protocol point (docs/model.md section 3) and return its figures of merit.

    Parameters
    ----------
    loss_order : int
        l = 2^m - 1 (0, 1, 3, ...). Required (or ``params``).
    alpha : float
        Coherent amplitude |alpha| >= 0 (dimensionless). Required (or ``params``).
    eta : float, optional
        Extra pure-loss transmission between Alice's and Bob's entangling reflections
        (default 1). With nothing else set, this is the ideal protocol of docs/model.md section 5.
    engine : {"fock", "coherent"}
        Truncated Fock-space density matrices (default) or the truncation-free engine on
        sums of coherent states. Both run the same protocol code.
    cutoff : int, optional
        Fock cutoff (largest photon number). Default: the smallest cutoff dropping at most
        ``tol`` of the probability (:func:`catbell_qutip.codes.auto_cutoff`). Refused with
        ``engine="coherent"``.
    tol : float
        Largest probability mass the Fock cutoff may drop (default 1e-12), both absolutely
        and relative to P (F, S and Q are conditioned on success); in (0, 1), sensibly
        1e-15 to 1e-6. See :func:`run`.
    params : ProtocolParams, optional
        A complete parameter object instead of the individual arguments.
    **kwargs
        Any other :class:`~catbell_qutip.params.ProtocolParams` field (``length_km``,
        ``eta_int``, ``usd``, ``encoder``, ...).

    Returns
    -------
    ProtocolResult
        At a point where no attempt can herald (P = 0, e.g. alpha = 0 or eta = 0; also P
        below :data:`catbell_qutip.result.P_FLOOR`, ~1e-292, where rounding leaves no
        digits) P is 0 and F, S, Q, ``rho_ab`` and the key rate are None (undefined).

    Raises
    ------
    ValueError
        For invalid or missing parameters, a cutoff that drops more than ``tol``, a run
        whose estimated memory exceeds the limit
        (:class:`~catbell_qutip._checks.MemoryLimitError`), or, with the Fock engine and
        the linear-optics USD, P below :data:`FOCK_LINEAR_P_FLOOR` (1e-7), where rounding
        noise would dominate F, S, Q.

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
    if engine == "fock":
        predict_fock_resolution(params)
    outcomes, cutoff, trunc = run(params, engine=engine, cutoff=cutoff, tol=tol)
    P, rho_un = herald(outcomes)
    P = float(P)
    if engine == "fock":
        _check_fock_resolution(P, params.usd)
    if not P > 0.0:
        return ProtocolResult(params=params, engine=engine, P=0.0, F=None, S=None, Q=None,
                              rho_array=None, cutoff=cutoff, truncation_error=float(trunc),
                              outcomes=outcomes)
    rho, F, S, Q = summarise(rho_un, P)
    return ProtocolResult(params=params, engine=engine, P=P, F=float(F), S=float(S),
                          Q=float(Q), rho_array=rho, cutoff=cutoff,
                          truncation_error=float(trunc), outcomes=outcomes)


def _grid_axes(kwargs: dict) -> dict:
    """The 1-D axes of ``evaluate(grid=True)``: each validated as its field, distinct
    values (a repeated value would be a duplicate coordinate); a choice field given as a
    list is refused."""
    axes = {}
    for name, v in kwargs.items():
        if isinstance(v, str) or np.ndim(v) == 0:
            continue
        info = PARAM_INFO[name]
        if not info.array:
            raise ParameterError(
                f"{name} takes one value per call (got {np.ravel(v).tolist()!r}); call "
                f"evaluate() once per {name}", name)
        arr = np.asarray(info.check(v), dtype=float)
        if arr.ndim != 1:
            raise ParameterError(f"grid axis {name} must be a 1-D array, got shape "
                                 f"{arr.shape}", name)
        values, counts = np.unique(arr, return_counts=True)
        if np.any(counts > 1):
            raise ParameterError(f"grid axis {name} repeats the value "
                                 f"{values[counts > 1][0]:g}; axis values must be distinct",
                                 name)
        axes[name] = arr
    return axes


def _check_outputs(outputs) -> tuple:
    """``outputs`` of :func:`evaluate`: a non-empty sequence of distinct names from
    :data:`OUTPUTS` (a bare string such as 'PF' is refused, not split into letters)."""
    if isinstance(outputs, str) or not isinstance(outputs, (list, tuple)):
        raise ParameterError(f"outputs must be a list or tuple of names from {OUTPUTS}, got "
                             f"{outputs!r}; e.g. outputs=('P', 'F')", "outputs")
    if not outputs:
        raise ParameterError(f"outputs is empty: give at least one of {OUTPUTS}", "outputs")
    for o in outputs:
        if o not in OUTPUTS:
            raise ParameterError(f"unknown output {o!r}; choose from {OUTPUTS}", "outputs")
    if len(set(outputs)) != len(outputs):
        raise ParameterError(f"outputs lists an output twice ({list(outputs)!r}); give each "
                             "once", "outputs")
    return tuple(outputs)


def _evaluate_coherent(params: ProtocolParams, outputs) -> dict:
    """P, F, S, Q on the whole batch, in chunks of at most :data:`EVALUATE_CHUNK_BYTES`.

    Each chunk runs through the protocol and is reduced to P, F, S, Q at once, so the
    per-record arrays of one chunk are all that is alive besides the outputs.
    """
    shape = params.batch_shape
    size = math.prod(shape)
    chunk = max(1, min(size, int(EVALUATE_CHUNK_BYTES // coherent_memory_bytes(params, 1))))
    _check_coherent_memory(params, chunk)
    check_memory(8.0 * size * (len(outputs) + 1 + len(params.numeric_fields())),
                 f"the outputs of {size} points", "evaluate fewer points per call")
    explicit = params.encoder == "explicit"
    out = {k: np.empty(size) for k in OUTPUTS if k in outputs or k == "P"}
    if chunk >= size:
        outcomes = run_protocol(params, _coherent_initial(params), explicit=explicit)
        P, rho_un = herald(outcomes)
        _, F, S, Q = summarise(rho_un, P)
        vals = {"P": P, "F": F, "S": S, "Q": Q}
        return {k: np.broadcast_to(np.asarray(vals[k], dtype=float), shape).reshape(-1)
                for k in out}
    for start in range(0, size, chunk):
        sl = slice(start, min(start + chunk, size))
        sub = params.flat_slice(sl)
        outcomes = run_protocol(sub, _coherent_initial(sub), explicit=explicit)
        P, rho_un = herald(outcomes)
        _, F, S, Q = summarise(rho_un, P)
        vals = {"P": P, "F": F, "S": S, "Q": Q}
        n = sl.stop - sl.start
        for k in out:
            out[k][sl] = np.broadcast_to(vals[k], (n,))
    return out


def evaluate(loss_order, *, engine: str = "coherent", grid: bool = False,
             outputs=OUTPUTS, cutoff=None, tol: float = DEFAULT_TRUNCATION_TOL,
             **kwargs):
    """Evaluate P, F, S, Q on many parameter points at once.

    Parameters
    ----------
    loss_order : int
        l = 2^m - 1 (one value per call).
    engine : {"coherent", "fock"}
        "coherent" (default) pushes the batch through the protocol in chunks of points
        (:data:`EVALUATE_CHUNK_BYTES`), each reduced to its outputs at once, so memory
        grows with the grid only by the outputs (8 bytes per point and output) and the
        broadcast inputs; "fock" loops over points (each with its own automatic cutoff)
        and is much slower.
    grid : bool
        False (default): array parameters broadcast with NumPy rules and the result is a
        dict of arrays of the broadcast shape. True: every array parameter is a 1-D axis,
        the result is an :class:`xarray.Dataset` on their outer product with one named
        dimension per axis. Choice fields (``usd``, ``encoder``, ...) take one value per
        call either way.
    outputs : sequence of str
        Subset of ("P", "F", "S", "Q").
    cutoff, tol
        Fock engine only, as in :func:`simulate`; ``cutoff`` is refused with
        ``engine="coherent"``.
    **kwargs
        ``alpha`` (required) and any other :class:`~catbell_qutip.params.ProtocolParams`
        field (``eta``, ``length_km``, ...).

    Returns
    -------
    dict of ndarray, or xarray.Dataset when ``grid=True``.

    Notes
    -----
    P is clipped to [0, 1] and F, Q to [0, 1] (rounding only). F, S and Q are conditional
    on success; where no attempt heralds (P = 0, including P below
    :data:`catbell_qutip.result.P_FLOOR`) they are undefined and returned as NaN, with a
    RuntimeWarning naming how many points that concerns; the other points are unaffected.

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
    outputs = _check_outputs(outputs)
    if not isinstance(grid, (bool, np.bool_)):
        raise ParameterError(f"grid must be True or False, got {grid!r}", "grid")
    _check_fields(kwargs, "evaluate")
    check_choice(engine, "engine", ENGINES)
    _check_tol(tol)
    if kwargs.get("alpha") is None:
        _require("alpha", None, "evaluate")
    if engine == "coherent" and cutoff is not None:
        raise ParameterError(
            f"cutoff = {cutoff!r} applies to engine='fock' only: engine='coherent' has "
            "no truncation", "cutoff")
    axes = {}
    if grid:
        axes = _grid_axes(kwargs)
        n = len(axes)
        for i, name in enumerate(axes):
            shape = [1] * n
            shape[i] = axes[name].size
            kwargs[name] = axes[name].reshape(shape)
    params = ProtocolParams(loss_order=loss_order, **kwargs)
    shape = params.batch_shape
    if engine == "coherent":
        flat = _evaluate_coherent(params, outputs)
        values = {k: v.reshape(shape) for k, v in flat.items()}
        P = values["P"]
    else:
        P = np.empty(shape)
        rho_un = np.empty(shape + (4, 4), dtype=complex)
        for idx in np.ndindex(*shape):
            if set(outputs) - {"P"}:
                predict_fock_resolution(params.at(idx))
            outcomes, _, _ = run(params.at(idx), engine="fock", cutoff=cutoff, tol=tol)
            P[idx], rho_un[idx] = herald(outcomes)
            # P itself is accurate; only quantities conditioned on success need the floor
            if set(outputs) - {"P"}:
                _check_fock_resolution(float(P[idx]), params.usd)
        _, F, S, Q = summarise(rho_un, P)
        values = {"P": np.asarray(P, dtype=float), "F": F, "S": S, "Q": Q}
    n_zero = int(np.sum(~(P > 0)))
    if n_zero:
        warnings.warn(f"{n_zero} point(s) have P = 0: F, S and Q are NaN there",
                      RuntimeWarning, stacklevel=2)
    values = {k: np.asarray(values[k], dtype=float) for k in outputs}
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
