"""Public entry points: :func:`simulate` (one point, either engine) and :func:`evaluate`
(whole parameter grids, vectorised on the coherent-state engine)."""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from collections import OrderedDict

import numpy as np

from ._checks import (
    MemoryLimitError,
    NoHeraldWarning,
    ParameterError,
    PrecisionError,
    check_choice,
    check_memory,
    check_real,
    memory_limit_bytes,
)
from ._threads import with_limited_blas
from .closed_forms import tub_sector_success
from .codes import (
    DEFAULT_TRUNCATION_TOL,
    Code,
    cat_cutoffs_and_tails,
    codes_of,
    mean_photon_numbers,
)
from .engines import ENGINES, CoherentState, FockState
from .engines.fock import clear_value_caches
from .outputs import dataset
from .params import ALPHA_CODES, PARAM_INFO, ProtocolParams
from .protocol import Outcome, run_probability, run_protocol
from .result import P_FLOOR, ProtocolResult, herald, summarise

__all__ = ["simulate", "evaluate", "run", "heralded", "OUTPUTS", "FOCK_LINEAR_P_FLOOR",
           "predict_fock_resolution", "fock_memory_bytes", "coherent_memory_bytes",
           "seconds_per_point", "check_point_memory", "EVALUATE_CHUNK_BYTES",
           "forget_points"]

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


#: Smallest P at which a test checks the coherent engine's linear-optics USD against the
#: physics of the weak-light limit (tests/test_numerics.py: P ratios eta^N and the same
#: F, S, Q to 1e-9, and a positive state along L, down to P ~ 1e-245): what the Fock
#: engine's refusal may promise of the coherent engine.
COHERENT_LINEAR_TESTED_P = 1e-245


def _check_fock_resolution(P: float, usd: str, *, predicted: bool = False) -> None:
    """The one rule for a Fock point with the linear-optics USD: P below the floor
    (including a P that rounding made 0 or negative) is refused with this message, never
    reported as "no light"; the coherent engine then tells whether P is really 0.
    ``predicted``: P is the coherent engine's, computed before the Fock run."""
    if usd == "linear" and P < FOCK_LINEAR_P_FLOOR:
        how = " (predicted by the coherent engine, before the Fock run)" if predicted else ""
        raise PrecisionError(
            f"P = {max(P, 0.0):.3g}{how} is below the Fock engine's resolution floor "
            f"{FOCK_LINEAR_P_FLOOR:g} for the linear-optics USD: the cancellation in its "
            "click effects (~3e-17) would dominate F, S and Q, which are conditioned on "
            "success; use engine='coherent', whose click effects keep their precision at "
            f"small P (tested down to P ~ {COHERENT_LINEAR_TESTED_P:g})"
        )


def predict_fock_resolution(params: ProtocolParams) -> None:
    """Refuse, before any Fock-engine work, a linear-optics batch with a point whose P is
    below :data:`FOCK_LINEAR_P_FLOOR`, where the Fock run would refuse it afterwards
    (Fock l = 7 with the linear USD ran 180-200 s building its 2^16 no-click matrices
    before refusing on the floor).

    P is predicted by the coherent engine on the same points (P alone, in the chunks of
    :func:`evaluate`: ~1 ms per point at l = 7, against minutes for the Fock run; equal
    to the Fock engine's P to within its truncation, <= tol * P). The batch is refused as
    the Fock run refuses it: if any point is below the floor. Only cat codes can be
    predicted (the linear-optics USD is a cat-code scheme, and the coherent engine is
    built on the cat's ring of coherent states); nothing is predicted, and the Fock
    run's own check afterwards decides, for the TUB (no floor) or where the coherent
    engine would need more memory than the Fock run (its memory guard speaks first).

    Parameters
    ----------
    params : ProtocolParams
        One point or a batch, as :func:`evaluate` runs it on the Fock engine.

    Returns
    -------
    None
        Returns when no point is predicted below the floor (or nothing is predicted).

    Raises
    ------
    catbell_qutip._checks.PrecisionError
        Some point's predicted P is below :data:`FOCK_LINEAR_P_FLOOR`.

    Examples
    --------
    A batch with one point far below the floor is refused as a whole:

    >>> from catbell_qutip._checks import PrecisionError
    >>> p = ProtocolParams(loss_order=1, alpha=[1.0, 1e-5], usd="linear")
    >>> try:
    ...     predict_fock_resolution(p)
    ... except PrecisionError as exc:
    ...     print(str(exc)[:46])
    P = 2.5e-21 (predicted by the coherent engine,
    >>> predict_fock_resolution(ProtocolParams(loss_order=1, alpha=1.0, usd="linear"))
    """
    if params.usd != "linear" or params.code != "cat":
        return
    if coherent_memory_bytes(params, 1) > memory_limit_bytes():
        return
    try:
        P = _evaluate_coherent(params, ("P",))["P"]
    except ValueError:  # a batch whose outputs alone exceed the memory limit
        return
    _check_fock_resolution(float(np.min(P)), params.usd, predicted=True)


def _require(name: str, value, call: str) -> None:
    if value is None:
        raise ParameterError(
            f"{call}() needs {name} ({PARAM_INFO[name].long_name}); e.g. "
            f"{call}(loss_order=1, alpha=1.2, ...)", name)


def _check_fields(kwargs: dict, call: str) -> None:
    """Keyword arguments that are not ProtocolParams fields: a ParameterError, not the
    dataclass's TypeError."""
    known = (*PARAM_INFO, "code_vector")  # code_vector: a Python-only field (a ket)
    unknown = sorted(set(kwargs) - set(known))
    if unknown:
        raise ParameterError(f"{call}() got an unknown parameter {unknown[0]!r}; known "
                             f"parameters are {', '.join(known)}", unknown[0])


def _code_fields(fields: dict, call: str) -> dict:
    """``code=<ket or amplitudes>`` becomes code="vector" with ``code_vector``; alpha is
    required by the codes that take it and refused by the others."""
    code = fields.get("code", "cat")
    if code is not None and not isinstance(code, str):
        fields["code"], fields["code_vector"] = "vector", code
        code = "vector"
    code = code or "cat"
    if code in ALPHA_CODES:
        _require("alpha", fields.get("alpha"), call)
    elif fields.get("alpha") is not None:
        raise ParameterError(f"alpha does not apply to code={code!r}: its photon numbers "
                             f"are fixed by the code itself; call {call}() without alpha",
                             "alpha")
    return fields


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
    fields = _code_fields(fields, "simulate")
    if fields.get("code", "cat") not in ALPHA_CODES:
        fields["alpha"] = None
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

    Parameters
    ----------
    loss_order : int
        Code l (N = l + 1 components; dimensionless).
    cutoff : int
        Fock cutoff, the largest photon number kept (dimensionless).
    usd : {"tub", "linear"}
        Unambiguous state discrimination scheme.

    Returns
    -------
    float
        Estimated peak memory [bytes].

    Examples
    --------
    l = 0, cutoff 9 (L = 10): 40 L^3 + 16 L^2 16 (2N + 4) = 40000 + 153600 bytes; the
    linear USD adds 2^(2N) 32 L^2 = 12800 bytes:

    >>> fock_memory_bytes(0, 9), fock_memory_bytes(0, 9, "linear") - fock_memory_bytes(0, 9)
    (193600.0, 12800.0)
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

    Parameters
    ----------
    params : ProtocolParams
        The point or batch (its largest alpha sets the photon-number window).
    n_points : int, optional
        Points run at once (default: the whole batch).

    Returns
    -------
    float
        Estimated peak memory [bytes], proportional to the number of points.

    Examples
    --------
    >>> p = ProtocolParams(loss_order=1, alpha=[1.0, 2.0])
    >>> coherent_memory_bytes(p) == 2 * coherent_memory_bytes(p, 1)
    True
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

    Parameters
    ----------
    loss_order : int
        Code l (dimensionless).
    engine : {"coherent", "fock"}
        Engine.
    usd : {"tub", "linear"}
        Unambiguous state discrimination scheme.
    encoder : {"ideal", "explicit"}
        Encoder model; the explicit one costs N times more.

    Returns
    -------
    float
        Estimated CPU time per parameter point [s].

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


@functools.lru_cache(maxsize=4096)
def _auto_cutoff(code: Code, tol: float, sector):
    return code.cutoff_and_tail(tol, sector)


def _check_fock_amplitude(params: ProtocolParams, codes, tol: float) -> None:
    """Refuse before computing a cutoff whose own window would not fit: the automatic
    cutoff is at least the code's estimate (|alpha|^2 + |alpha| for a cat: the Poisson mean
    plus one standard deviation; the squeezed cat's tail falls only like tanh|r|^n)."""
    ests = [c.cutoff_estimate(tol) for c in codes]
    i = int(np.argmax(ests))
    est = ests[i]
    check_memory(fock_memory_bytes(params.loss_order, est, params.usd),
                 lambda: f"the Fock engine at {_describe(codes[i])} (cutoff above {int(est)})",
                 lambda: _fock_way_out(codes[i], params))


def _fock_way_out(code: Code, params: ProtocolParams | None = None, cutoff=None) -> str:
    """What to do when a Fock run is too large, in API terms: a smaller cutoff where the
    user gave one; for a cat, the coherent engine only where it can run the point itself
    (at l = 1023 it needs ~2e3 GiB too)."""
    if cutoff is not None:
        return ("give a smaller cutoff, or cutoff=None for the automatic rule (the smallest "
                "cutoff the truncation tolerance allows)")
    if (code.family == "cat" and params is not None
            and coherent_memory_bytes(params, 1) > memory_limit_bytes()):
        return ("give a lower loss_order: the coherent engine cannot run this point either "
                f"(~{coherent_memory_bytes(params, 1) / 2 ** 30:.3g} GiB for one point)")
    return {"cat": "use engine='coherent', which needs no cutoff, or a smaller alpha",
            "squeezed-cat": "use a smaller alpha or squeezing",
            "binomial": "use a smaller binomial_m"}.get(code.family, "use a shorter vector")


def _describe(code: Code) -> str:
    """"alpha = 2" for a cat point; "code = binomial, binomial_m = 1" for others."""
    d = code.describe()
    d = {("code" if k == "family" else k): v for k, v in d.items()
         if k != "N" and not (k == "family" and v == "cat")}
    return ", ".join(f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}"
                     for k, v in d.items())


def _fock_initial(params: ProtocolParams, cutoff, truncation_error=None):
    """The Fock engine's initial light for ``params`` (every point at ``cutoff``)."""
    codes = codes_of(params)
    cut = np.broadcast_to(np.asarray(cutoff, dtype=int), (len(codes),))
    check_memory(fock_memory_bytes(params.loss_order, int(cut.max()), params.usd),
                 f"the Fock engine at cutoff {int(cut.max())} (l = {params.loss_order})",
                 _fock_way_out(codes[0], params, cutoff))
    errs = None if truncation_error is None else \
        np.broadcast_to(np.asarray(truncation_error, dtype=float), (len(codes),))
    state = FockState.initial(codes, cut, explicit=params.encoder == "explicit",
                              truncation_errors=errs)
    if params.batch_shape == ():
        return state.batch_slice(slice(0, 1))
    return state


#: Target size in bytes of one chunk's state (the largest register: two qubits, 16
#: light blocks of L^2 complex numbers per point): the Fock engine runs a batch in
#: chunks of points of similar cutoff, each in one pass through the protocol.
FOCK_CHUNK_BYTES = 2 ** 22


def _fock_chunks(cutoffs: np.ndarray, todo: np.ndarray) -> list[np.ndarray]:
    """Points ``todo`` cut into chunks of similar cutoff (sorted), each small enough for
    :data:`FOCK_CHUNK_BYTES`: a point's light is padded to its chunk's largest cutoff."""
    order = todo[np.argsort(cutoffs[todo], kind="stable")]
    chunks, cur = [], []
    for i in order:
        L = int(cutoffs[i]) + 1
        if cur:
            lo = int(cutoffs[cur[0]]) + 1
            # padding costs at most ~(1.5)^3 in work on a point; below ~20 levels the work
            # is per-call overhead, so small points always share a chunk
            if L > 1.5 * lo + 8 or 256 * L * L * (len(cur) + 1) > FOCK_CHUNK_BYTES:
                chunks.append(np.array(cur))
                cur = []
        cur.append(i)
    if cur:
        chunks.append(np.array(cur))
    return chunks


#: P of the last single Fock points, by their fields other than alpha (bounded): a solver
#: or a user calling points one by one meets the same fields at nearby amplitudes
_P_MEMO: OrderedDict = OrderedDict()
_P_MEMO_SIZE = 256


@functools.lru_cache(maxsize=1)
def _memo_fields() -> tuple:
    return tuple(f.name for f in dataclasses.fields(ProtocolParams) if f.name != "alpha")


def _memo_key(params: ProtocolParams):
    """The fields of a single point other than ``alpha`` (None if one is unhashable)."""
    key = tuple(map(params.__getattribute__, _memo_fields()))
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _p_floor(params: ProtocolParams) -> float:
    """A quick floor on P for a single cat point: min_s of the TUB's success
    2 min(W_s, W_{s+N}) / (W_s + W_{s+N}) at the light the detectors would see if every
    transmission of the attempt acted before the USD (|alpha|^2 times eta, eta_c, the
    fibre, eta_d and eta_int at each reflection). For the ideal encoder with every loss
    lumped and no dark counts, P is the syndrome-weighted mean of these successes
    (:func:`catbell_qutip.closed_forms.ideal_protocol`), so it is a lower bound there;
    elsewhere only an estimate (the run checks its cutoff at its own P either way)."""
    eta = params.eta_channel * np.asarray(params.eta_d)
    if params.eta_int_placement != "lumped":
        eta = eta * np.asarray(params.eta_int) ** params.n_reflections
    x_det = float(eta) * params.alpha ** 2
    return float(np.min(tub_sector_success(x_det, params.loss_order,
                                           np.arange(params.n_components))))


def _p_guess(params: ProtocolParams, n: int, cats: bool, first_ratio: float = np.inf):
    """An estimate of P for choosing the cutoffs before the Fock run (or None): for a
    single point the P of the last single point with the same other fields; otherwise,
    for cat points, the coherent engine's P (vectorised over a batch, ~0.03 ms per point;
    0.6-1 ms for a single point, against 1-2 ms for the Fock run that a wrong first
    cutoff would waste). A single cat point whose first cutoff's dropped mass over tol
    (``first_ratio``) is below the quick floor :func:`_p_floor` (~0.05 ms) needs no
    estimate: it runs once at that cutoff. Only an estimate: the run checks its cutoffs
    against the rule evaluated at its own P."""
    if n == 1:
        key = _memo_key(params)
        if key is not None and key in _P_MEMO:
            _P_MEMO.move_to_end(key)
            return np.array([_P_MEMO[key]])
    if not cats:
        return None
    if n == 1 and params.usd == "tub" and first_ratio <= _p_floor(params):
        return None
    try:
        if n == 1:  # the protocol on one point, without evaluate()'s batch machinery
            _check_coherent_memory(params, 1)
            p = run_probability(params, _coherent_initial(params),
                                explicit=params.encoder == "explicit")
        else:
            p = _evaluate_coherent(params, ("P",))["P"]
    except MemoryLimitError:
        return None
    return np.clip(np.nan_to_num(np.real(np.asarray(p)).astype(float).reshape(-1)), 0.0, 1.0)


def forget_points() -> None:
    """Forget every point met so far: empty the memo of P of single Fock points, the
    cutoff rule's cache per code and the Fock engine's caches keyed by a point's values
    (:func:`catbell_qutip.engines.fock.clear_value_caches`). Results never depend on
    these; the next point pays its full cost, as a point met for the first time (what
    ``catbell bench speed`` times for a single point).

    Examples
    --------
    >>> r = simulate(1, 2.0, 0.5)
    >>> forget_points()
    >>> len(_P_MEMO), _auto_cutoff.cache_info().currsize
    (0, 0)
    """
    _P_MEMO.clear()
    _auto_cutoff.cache_clear()
    clear_value_caches()


def _remember_p(params: ProtocolParams, p: float) -> None:
    key = _memo_key(params)
    if key is not None:
        _P_MEMO[key] = float(p)
        _P_MEMO.move_to_end(key)
        while len(_P_MEMO) > _P_MEMO_SIZE:
            _P_MEMO.popitem(last=False)


def _run_fock(params: ProtocolParams, *, cutoff=None, tol: float, keep_outcomes=False,
              p_only: bool = False, estimate: bool = True):
    """Every point of ``params`` on the Fock engine, batched.

    Returns (P, rho_un, cutoffs, truncation_errors, outcomes): arrays over the flattened
    batch; ``outcomes`` (the records of the single point) only with ``keep_outcomes``.
    ``p_only``: P alone (:func:`catbell_qutip.protocol.run_probability`; ``rho_un`` is
    then zero). ``estimate=False``: the cutoff rule without an estimate of P (the
    reference the tests compare the estimated route with; same cutoffs, slower). Truncation
    rule and refusals as in :func:`run`.
    """
    explicit = params.encoder == "explicit"
    sector = None if explicit else 0
    flat = params if params.batch_shape == () else params.take(
        np.arange(math.prod(params.batch_shape)))
    codes = codes_of(params)
    n = len(codes)
    cats = params.code == "cat"
    alphas = np.array([c.alpha for c in codes]) if cats else None
    user = cutoff is not None
    if user:
        if isinstance(cutoff, bool) or not isinstance(cutoff, (int, np.integer)) or cutoff < 1:
            raise ParameterError(f"cutoff must be a positive integer, got {cutoff!r}",
                                 "cutoff")
        cuts = np.full(n, int(cutoff))
        masses = np.array([c.truncation_error(int(cutoff), sector) for c in codes])
        bad = np.nonzero(masses > tol)[0]
        if bad.size:
            i = int(bad[0])
            need = _auto_cutoff(codes[i], tol, sector)[0]
            raise ParameterError(
                f"cutoff = {cutoff} drops probability mass {masses[i]:.3g} > tolerance "
                f"{tol:g} at {_describe(codes[i])}; use cutoff >= {need} (or cutoff=None "
                "for the automatic rule)", "cutoff")
    else:
        _check_fock_amplitude(params, codes, tol)
        if cats and n == 1:  # one point: the scalar rule, cached
            c, m = _auto_cutoff(codes[0], tol, sector)
            cuts, masses = np.array([c]), np.array([m])
        elif cats:
            cuts, masses = cat_cutoffs_and_tails(params.loss_order, alphas, tol=tol,
                                                 sector=sector)
        else:
            auto = [_auto_cutoff(c, tol, sector) for c in codes]
            cuts = np.array([a[0] for a in auto])
            masses = np.array([a[1] for a in auto])
    P = np.zeros(n)
    rho = np.zeros((n, 4, 4), dtype=complex)
    outcomes = None

    def chunks(todo):
        top = int(cuts[todo].max())
        check_memory(fock_memory_bytes(params.loss_order, top, params.usd),
                     lambda: f"the Fock engine at cutoff {top} (l = {params.loss_order})",
                     lambda: _fock_way_out(codes[0], params, cutoff))
        for idx in _fock_chunks(cuts, todo):
            sub = flat.take(idx) if params.batch_shape != () else flat
            if cats:
                state = FockState.initial_cats(alphas[idx], params.n_components, cuts[idx],
                                               explicit=explicit, truncation_errors=masses[idx])
            else:
                state = FockState.initial([codes[i] for i in idx], cuts[idx],
                                          explicit=explicit, truncation_errors=masses[idx])
            yield idx, sub, state

    # The cutoff rule needs P (mass <= tol P): the initial cutoff drops at most tol; where
    # that exceeds tol P the cutoff is raised to drop at most tol P / 2. With an estimate
    # of P (_p_guess) the points run once at the rule's cutoffs for it, and again only where
    # the rule, evaluated at the run's own P, asks for another cutoff. Without one (a code
    # other than a cat met for the first time), a batch finds P with P alone (the atoms
    # traced out, ~4x cheaper at large cutoffs) and runs the full protocol once at the final
    # cutoffs; a single point runs the full protocol and again only if its cutoff was too
    # small.
    c0, m0 = cuts.copy(), masses.copy()

    def raised(i: int, p: float, base: int):
        """The cutoff dropping at most tol p / 2, above ``base``, and its dropped mass."""
        c, m = _auto_cutoff(codes[i], 0.5 * tol * p, sector)
        if c <= base:
            c = int(base) + 1
            m = codes[i].truncation_error(c, sector)
        return c, m

    def rule(i: int, p: float):
        if not p > 0 or m0[i] <= tol * p:
            return int(c0[i]), float(m0[i])
        return raised(i, p, c0[i])

    guess = None if user or not estimate else _p_guess(params, n, cats,
                                                       float(m0[0]) / tol)
    if guess is not None:
        for i in range(n):
            cuts[i], masses[i] = rule(i, guess[i])
    pre = guess is None and (p_only or n > 1)
    todo = np.arange(n)
    for _ in range(5):
        for idx, sub, state in chunks(todo):
            if pre or p_only:
                p = np.real(run_probability(sub, state, explicit=explicit))
                P[idx] = np.where(p < P_FLOOR, 0.0, np.minimum(p, 1.0))
                continue
            out = run_protocol(sub, state, explicit=explicit)
            p, r = herald(out)
            P[idx], rho[idx] = p, r
            if keep_outcomes:
                outcomes = out
        if guess is not None:  # the rule at the run's own P; rerun where it differs
            guess = None
            redo = []
            for i in todo:
                c, m = rule(int(i), float(P[i]))
                if c != cuts[i]:
                    cuts[i], masses[i] = c, m
                    redo.append(int(i))
            if not redo:
                break
            todo = np.array(redo)
            continue
        need = (P[todo] > 0) & (masses[todo] > tol * P[todo])
        if not np.any(need):
            break
        todo = todo[need]
        if user:
            i = int(todo[0])
            new = _auto_cutoff(codes[i], 0.5 * tol * P[i], sector)[0]
            raise ValueError(
                f"cutoff = {cutoff} drops probability mass {masses[i]:.3g}, more than "
                f"tol = {tol:g} times the heralding probability P = {P[i]:.3g} (F, S and Q "
                f"are conditioned on success); use cutoff >= {new} (or cutoff=None for the "
                "automatic rule)")
        for i in todo:
            cuts[i], masses[i] = raised(int(i), float(P[i]), int(cuts[i]))
    if n == 1 and not user:
        _remember_p(params, P[0])
    if pre and not p_only:
        for idx, sub, state in chunks(np.arange(n)):
            out = run_protocol(sub, state, explicit=explicit)
            P[idx], rho[idx] = herald(out)
            if keep_outcomes:
                outcomes = out
    return P, rho, cuts, masses, outcomes


def _coherent_initial(params: ProtocolParams):
    make = CoherentState.coherent if params.encoder == "explicit" else CoherentState.codeword
    return make(params.alpha, params.n_components)


@with_limited_blas
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

    Parameters
    ----------
    params : ProtocolParams
        The point (Fock engine) or batch (coherent engine).
    engine : {"coherent", "fock"}
        Engine (default "coherent").
    cutoff : int, optional
        Fock cutoff, the largest photon number kept (Fock engine only; default: automatic).
    tol : float
        Largest probability mass the cutoff may drop (dimensionless, in (0, 1)).

    Returns
    -------
    outcomes : list of Outcome
        Every classical record with its probability and corrected unnormalised state.
    cutoff : int or None
        The Fock cutoff used; None on the coherent engine.
    truncation_error : float
        Probability mass the cutoff dropped (0.0 on the coherent engine).

    Raises
    ------
    catbell_qutip._checks.ParameterError
        If ``engine``, ``tol`` or ``cutoff`` is invalid (``cutoff`` with the coherent
        engine, a non-cat code on it), or a user cutoff is too small for ``tol``.
    catbell_qutip._checks.MemoryLimitError
        If the run would exceed the memory limit.
    ValueError
        If a batch is given to the Fock engine (use :func:`evaluate`).

    Examples
    --------
    The outcomes carry every record; their conclusive part sums to P (l = 0, alpha = 1,
    no loss: P = 1 - exp(-2) = 0.864665):

    >>> from catbell_qutip.result import herald
    >>> outcomes, cutoff, dropped = run(ProtocolParams(loss_order=0, alpha=1.0))
    >>> round(float(herald(outcomes)[0]), 6), cutoff, dropped
    (0.864665, None, 0.0)
    """
    return _run(params, engine, cutoff, tol)[:3]


def _run(params: ProtocolParams, engine: str, cutoff, tol: float):
    """:func:`run`, also returning P and the unnormalised heralded state
    (:func:`~catbell_qutip.result.herald` of the outcomes), which the Fock engine has
    already summed (a single point's hot path: not summed twice)."""
    check_choice(engine, "engine", ENGINES)
    tol = _check_tol(tol)
    explicit = params.encoder == "explicit"
    if engine == "coherent":
        if cutoff is not None:
            raise ParameterError(
                f"cutoff = {cutoff!r} applies to engine='fock' only: engine='coherent' has "
                "no truncation", "cutoff")
        _check_coherent_code(params)
        _check_coherent_memory(params)
        outcomes = run_protocol(params, _coherent_initial(params), explicit=explicit)
        return (outcomes, None, 0.0) + herald(outcomes)
    if params.batch_shape != ():
        raise ValueError("run() takes one parameter point; use evaluate() for grids")
    P, rho, cuts, masses, outcomes = _run_fock(params, cutoff=cutoff, tol=tol,
                                               keep_outcomes=True)
    outcomes = [Outcome(o.encoder_sector, o.syndrome, o.usd, o.probability[0],
                        None if o.rho_ab is None else o.rho_ab[0]) for o in outcomes]
    return outcomes, int(cuts[0]), float(masses[0]), P[0], rho[0]


def check_point_memory(params: ProtocolParams, *, engine: str = "coherent",
                       tol: float = DEFAULT_TRUNCATION_TOL) -> None:
    """Raise :class:`~catbell_qutip._checks.MemoryLimitError`, without computing anything,
    where :func:`run` would refuse the single point ``params`` for its memory (the Fock
    engine at its automatic cutoff, or the coherent engine on one point). For callers
    that must know before any work whether a point can run at all (a sweep whose every
    point would fail is refused before its store is created).

    Parameters
    ----------
    params : ProtocolParams
        One parameter point.
    engine : {"coherent", "fock"}
        Engine (default "coherent").
    tol : float
        Truncation tolerance of the Fock engine's automatic cutoff (dimensionless).

    Returns
    -------
    None
        Returns when the point fits in memory.

    Raises
    ------
    catbell_qutip._checks.MemoryLimitError
        If :func:`run` would refuse the point for its memory.
    catbell_qutip._checks.ParameterError
        If ``engine`` is not a known engine.

    Examples
    --------
    >>> from catbell_qutip._checks import MemoryLimitError
    >>> check_point_memory(ProtocolParams(loss_order=1, alpha=1.0), engine="fock")
    >>> try:                              # l = 1023: 2048 coherent components per point
    ...     check_point_memory(ProtocolParams(loss_order=1023, alpha=1.0))
    ... except MemoryLimitError:
    ...     print("refused")
    refused
    """
    check_choice(engine, "engine", ENGINES)
    if engine == "coherent":
        _check_coherent_memory(params, 1)
        return
    codes = codes_of(params)
    _check_fock_amplitude(params, codes, tol)
    sector = None if params.encoder == "explicit" else 0
    cut = max(_auto_cutoff(c, tol, sector)[0] for c in codes)
    check_memory(fock_memory_bytes(params.loss_order, cut, params.usd),
                 f"the Fock engine at cutoff {cut} (l = {params.loss_order})",
                 _fock_way_out(codes[0], params))


@with_limited_blas
def heralded(params: ProtocolParams, *, engine: str | None = None, cutoff=None,
             tol: float = DEFAULT_TRUNCATION_TOL):
    """(P, unnormalised heralded state) on every point of ``params``' batch, shapes
    ``batch_shape`` and ``batch_shape + (4, 4)``: the batched core of :func:`evaluate`
    for callers that compose the states further (repeater chains). ``engine`` defaults to
    "coherent" for cat codes and "fock" for the others.

    Parameters
    ----------
    params : ProtocolParams
        A point or a batch.
    engine : {"coherent", "fock"}, optional
        Engine (default by code, as above).
    cutoff : int, optional
        Fock cutoff (Fock engine only).
    tol : float
        Truncation tolerance (dimensionless probability mass, in (0, 1)).

    Returns
    -------
    P : ndarray, shape ``batch_shape``
        Heralding probabilities (dimensionless, in [0, 1]).
    rho : ndarray, shape ``batch_shape + (4, 4)``
        Unnormalised heralded two-atom states (trace P).

    Raises
    ------
    catbell_qutip._checks.ParameterError
        If ``engine``, ``cutoff`` or ``tol`` is invalid.
    catbell_qutip._checks.MemoryLimitError
        If the run would exceed the memory limit.

    Examples
    --------
    For l = 0 without loss, P = 1 - exp(-2 alpha^2) (:mod:`catbell_qutip.closed_forms`):

    >>> P, rho = heralded(ProtocolParams(loss_order=0, alpha=[0.5, 1.0]))
    >>> P.round(6), rho.shape
    (array([0.393469, 0.864665]), (2, 4, 4))
    """
    if engine is None:
        engine = "coherent" if params.code == "cat" else "fock"
    check_choice(engine, "engine", ENGINES)
    tol = _check_tol(tol)
    shape = params.batch_shape
    if engine == "coherent":
        outcomes, _, _ = run(params, engine="coherent", cutoff=cutoff, tol=tol)
        P, rho = herald(outcomes)
        return (np.array(np.broadcast_to(P, shape), dtype=float),
                np.broadcast_to(rho, shape + (4, 4)))
    P, rho, _, _, _ = _run_fock(params, cutoff=cutoff, tol=tol)
    return P.reshape(shape), rho.reshape(shape + (4, 4))


def _check_coherent_code(params: ProtocolParams) -> None:
    """The coherent engine is built on the cat code's ring of coherent states."""
    if params.code != "cat":
        raise ParameterError(
            f"engine='coherent' computes cat codes only (sums of coherent states); "
            f"code={params.code!r} runs on engine='fock'", "engine")


def _check_coherent_memory(params: ProtocolParams, n_points: int | None = None) -> None:
    size = math.prod(params.batch_shape)
    n = size if n_points is None else n_points
    check_memory(coherent_memory_bytes(params, n),
                 f"the coherent engine on {n} point(s) at once (l = {params.loss_order}, "
                 f"alpha up to {float(np.max(np.asarray(params.alpha))):g})",
                 "evaluate fewer points per call, a lower loss_order or a smaller alpha")


@with_limited_blas
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
    outcomes, cutoff, trunc, P, rho_un = _run(params, engine, cutoff, tol)
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
        if isinstance(v, str) or np.ndim(v) == 0 or name == "code_vector":  # one value
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
    p_only = set(outputs) == {"P"}

    def values(sub):
        if p_only:  # P alone: the atoms traced out (protocol.run_probability)
            p = np.real(run_probability(sub, _coherent_initial(sub), explicit=explicit))
            return {"P": np.where(p < P_FLOOR, 0.0, np.minimum(p, 1.0))}
        P, rho_un = herald(run_protocol(sub, _coherent_initial(sub), explicit=explicit))
        _, F, S, Q = summarise(rho_un, P)
        return {"P": P, "F": F, "S": S, "Q": Q}

    if chunk >= size:
        vals = values(params)
        return {k: np.broadcast_to(np.asarray(vals[k], dtype=float), shape).reshape(-1)
                for k in out}
    for start in range(0, size, chunk):
        sl = slice(start, min(start + chunk, size))
        vals = values(params.flat_slice(sl))
        n = sl.stop - sl.start
        for k in out:
            out[k][sl] = np.broadcast_to(vals[k], (n,))
    return out


@with_limited_blas
def evaluate(loss_order, *, engine: str | None = None, grid: bool = False,
             outputs=OUTPUTS, cutoff=None, tol: float = DEFAULT_TRUNCATION_TOL,
             **kwargs):
    """Evaluate P, F, S, Q on many parameter points at once.

    Parameters
    ----------
    loss_order : int
        l = 2^m - 1 (one value per call).
    engine : {"coherent", "fock"}, optional
        "coherent" pushes the batch through the protocol in chunks of points
        (:data:`EVALUATE_CHUNK_BYTES`), each reduced to its outputs at once, so memory
        grows with the grid only by the outputs (8 bytes per point and output) and the
        broadcast inputs; "fock" runs the batch in chunks of points of similar cutoff
        (each point with its own automatic cutoff), ~30-100 times slower per point.
        Default: "coherent" for cat codes, "fock" for the others (which only it runs).
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
        ``alpha`` (required by cat and squeezed-cat codes) and any other
        :class:`~catbell_qutip.params.ProtocolParams` field (``eta``, ``length_km``,
        ``code``, ...); ``code`` may be a ket (a user's |Theta_N>, docs/model.md 7).

    Returns
    -------
    dict of ndarray, or xarray.Dataset when ``grid=True``.

    Raises
    ------
    ValueError
        For an unknown output or engine, invalid parameters
        (:class:`~catbell_qutip._checks.ParameterError`, naming the field), a ``cutoff``
        with ``engine="coherent"``, or, on the Fock engine, a P too small for the
        requested F, S, Q to be trusted (as :func:`simulate`).

    Warns
    -----
    NoHeraldWarning
        Where some points have P = 0 (:class:`~catbell_qutip._checks.NoHeraldWarning`).

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
    if engine is None:
        code = kwargs.get("code", "cat")
        engine = "coherent" if code is None or code == "cat" else "fock"
    check_choice(engine, "engine", ENGINES)
    _check_tol(tol)
    kwargs = _code_fields(dict(kwargs), "evaluate")
    if kwargs.get("code", "cat") not in ALPHA_CODES:
        kwargs["alpha"] = None
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
        _check_coherent_code(params)
        flat = _evaluate_coherent(params, outputs)
        values = {k: v.reshape(shape) for k, v in flat.items()}
        P = values["P"]
    else:
        if set(outputs) - {"P"}:  # refused before any work where P is below the floor
            predict_fock_resolution(params)
        P, rho_un, _, _, _ = _run_fock(params, cutoff=cutoff, tol=tol,
                                       p_only=set(outputs) == {"P"})
        # P itself is accurate; only quantities conditioned on success need the floor
        if set(outputs) - {"P"}:
            for p in P:
                _check_fock_resolution(float(p), params.usd)
        P = P.reshape(shape)
        values = {"P": np.asarray(P, dtype=float)}
        if set(outputs) - {"P"}:  # (with P alone there is no state: rho_un is zero)
            _, F, S, Q = summarise(rho_un.reshape(shape + (4, 4)), P)
            values.update(F=F, S=S, Q=Q)
    n_zero = int(np.sum(~(P > 0)))
    if n_zero:
        warnings.warn(f"{n_zero} point(s) have P = 0: F, S and Q are NaN there",
                      NoHeraldWarning, stacklevel=2)
    values = {k: np.asarray(values[k], dtype=float) for k in outputs}
    if not grid:
        return values
    dims = list(axes)  # outputs.dataset imports xarray, slow, only when a grid needs it
    data = {k: (dims, v) for k, v in values.items()}
    data["mean_photon_number"] = (dims, np.broadcast_to(mean_photon_numbers(params), shape))
    fixed = {k: (str(v) if not isinstance(v, (int, float)) else v)
             for k, v in params.as_dict().items()
             if k not in axes and v is not None and k != "code_vector"}
    if params.code_vector is not None:  # netCDF attributes hold no complex numbers
        fixed["code_vector_real"] = [float(z.real) for z in params.code_vector]
        fixed["code_vector_imag"] = [float(z.imag) for z in params.code_vector]
    return dataset(data, dict(axes), attrs={"engine": engine, **fixed})
