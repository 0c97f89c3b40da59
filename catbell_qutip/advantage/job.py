"""An advantage map's job: every check before any work, and the one value that carries
what :func:`~.compute.advantage_map` computes and how (:class:`MapJob`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import (
    ParameterError,
    check_choice,
    check_int,
    check_loss_orders,
    check_memory,
    check_rate_hz,
    check_real,
    check_time,
    format_duration,
)
from ..api import seconds_per_point
from ..params import ALPHA_MAX, CONVERSION_PARTNERS, ProtocolParams, merge_layers
from ..rates import DEFAULT_ALPHA_MAX, DEFAULT_N_SCAN, ScanOptions
from ..sweep.executors import default_workers
from ..thresholds import THRESHOLD_PARAMETERS
from .settings import (
    _ALPHA_CHUNK,
    _BYTES_PER_POINT_N2,
    _EVALUATIONS_PER_SOLVE,
    _RESULT_BYTES_PER_POINT_CODE,
    BLOCK_POINTS,
    DEFAULT_X,
    DEFAULT_Y,
    MAX_AXIS_POINTS,
    _axis_info,
    _check_axis_values,
    default_fields,
)

__all__ = ["MapJob", "validate"]


def _key_alpha_grid(key_alpha_max: float, n_key_alpha: int) -> np.ndarray:
    return np.linspace(key_alpha_max / n_key_alpha, key_alpha_max, n_key_alpha)


def _grid_field(fields, x, y, name, default):
    if x[0] == name:
        return x[1][:, None]
    if y[0] == name:
        return y[1][None, :]
    return fields.get(name, default)


def _estimate_bytes(loss_orders, npt: int) -> float:
    n2 = (max(loss_orders) + 1) ** 2
    return _ALPHA_CHUNK * npt * _BYTES_PER_POINT_N2 * n2


def _threshold_jobs(x, y, loss_orders, fields, rate, engine) -> list:
    """The paper's one-at-a-time thresholds for the axes they apply to, as
    ``((name, l), kwargs of threshold())`` jobs: same length, rate, encoder, eta_int
    placement, decoder, fibre attenuation and USD as the map, every other imperfection
    ideal (eta_d switches on the linear-optics USD itself)."""
    if x[0] in ("length_km", "rate_hz") or y[0] in ("length_km", "rate_hz"):
        return []
    keep = ("encoder", "eta_int_placement", "decoder", "db_per_km", "usd")
    jobs = []
    for name, _ in (x, y):
        if name not in THRESHOLD_PARAMETERS:
            continue
        fixed = {k: fields[k] for k in keep if k in fields}
        if name == "eta_d":
            fixed.pop("usd", None)
        for l in loss_orders:
            if l != 0:
                jobs.append(((name, int(l)), dict(
                    parameter=name, loss_order=int(l), length_km=float(fields["length_km"]),
                    rate_hz=float(rate), engine=engine, **fixed)))
    return jobs


@dataclass(frozen=True)
class MapJob:
    """A validated advantage map: what :func:`advantage_map` computes and how, the one value
    its run (:func:`_plain`, :func:`_swept`) and :func:`_assemble` read.

    Build it with :func:`validate`, which checks every value.

    Parameters
    ----------
    x, y : (str, ndarray)
        The axes.
    loss_orders : list of int
        The codes, sorted.
    rate_hz : float or None
        The common rate (None when it is an axis).
    fields : dict
        The fixed ProtocolParams fields (defaults < caller's).
    scan : ScanOptions
        Engine and the rate solver's amplitude scan.
    alpha_grid : ndarray
        Amplitudes of the alpha-optimised key rate.
    processes : int
        Processes of the plain path.
    workers, scheduler : int or str or None
        The sweep path's backend (``swept`` when either is given).
    threshold_jobs : list
        ``((name, l), kwargs of threshold())`` for the axes that have thresholds.
    progress : bool
        Progress bar.
    thresholds : bool
        Whether the one-at-a-time thresholds are computed.

    Examples
    --------
    >>> from catbell_qutip.rates import ScanOptions
    >>> kw = dict(loss_orders=(3, 0, 1), rate_hz=3000.0, scan=ScanOptions(), key_alpha_max=3.0,
    ...           n_key_alpha=5, processes=1, workers=None, scheduler=None,
    ...           thresholds=False, progress=False, fields={})
    >>> job = validate(("eta_c", [0.5, 1.0]), ("eta_int", [0.9, 1.0]), **kw)
    >>> isinstance(job, MapJob), job.loss_orders, job.swept
    (True, [0, 1, 3], False)
    """

    x: tuple
    y: tuple
    loss_orders: list
    rate_hz: float | None
    fields: dict
    scan: ScanOptions
    alpha_grid: np.ndarray
    processes: int
    workers: int | None
    scheduler: str | None
    threshold_jobs: list
    progress: bool
    thresholds: bool

    @property
    def swept(self) -> bool:
        return self.workers is not None or self.scheduler is not None


def validate(x, y, *, loss_orders, rate_hz, scan, key_alpha_max, n_key_alpha, processes,
             workers, scheduler, thresholds, progress, fields) -> MapJob:
    """Every check of :func:`advantage_map`, before any work, each argument in its own
    name (a command line translates them, :func:`catbell_qutip.cli._common.cli_message`):
    axes, codes, rate, the key-rate alpha grid, fields (a field an axis varies is refused),
    the attempt time, the plain path's axis limit, and the time and memory estimates.

    Parameters
    ----------
    x, y, loss_orders, rate_hz, key_alpha_max, n_key_alpha, processes, workers, \
scheduler, thresholds, progress
        As in :func:`~catbell_qutip.advantage.compute.advantage_map` (rate in Hz).
    scan : ScanOptions
        Engine and amplitude scan of the rate solver.
    fields : dict
        The caller's fixed :class:`~catbell_qutip.params.ProtocolParams` fields.

    Returns
    -------
    MapJob
        The validated job: sorted codes, the key-rate alpha grid
        (``n_key_alpha`` points evenly in (0, key_alpha_max]), the merged fields.

    Raises
    ------
    catbell_qutip._checks.ParameterError
        Naming the argument: equal or unknown axes, bad values, codes, rate or fields.
    catbell_qutip._checks.TimeLimitError, catbell_qutip._checks.MemoryLimitError
        If the map is estimated to exceed the time or memory limit.

    Examples
    --------
    >>> from catbell_qutip.rates import ScanOptions
    >>> kw = dict(loss_orders=(3, 0, 1), rate_hz=3000.0, scan=ScanOptions(), key_alpha_max=3.0,
    ...           n_key_alpha=5, processes=1, workers=None, scheduler=None,
    ...           thresholds=False, progress=False, fields={})
    >>> validate(("eta_c", [0.5, 1.0]), ("eta_int", [0.9, 1.0]), **kw).alpha_grid.round(12).tolist()
    [0.6, 1.2, 1.8, 2.4, 3.0]
    >>> from catbell_qutip._checks import ParameterError
    >>> try:
    ...     validate(("eta_c", [0.5, 1.0]), ("eta_c", [0.9, 1.0]), **kw)
    ... except ParameterError as exc:
    ...     print(str(exc)[:55])
    the two axes must differ: x and y are both 'eta_c' (x d
    """
    x = _axis_arg(x, DEFAULT_X, "x")
    y = _axis_arg(y, DEFAULT_Y, "y")
    if x[0] == y[0]:
        raise ParameterError(f"the two axes must differ: x and y are both {x[0]!r} (x "
                             f"defaults to {DEFAULT_X[0]!r}, y to {DEFAULT_Y[0]!r}: give "
                             "both when one of them is a default's parameter)", None)
    axis_of = {x[0]: "x", y[0]: "y"}
    if set(axis_of) & {"eta_dc", "eta_uc"} and "eta_c" in axis_of:
        raise ParameterError("'eta_c' is the product 'eta_dc' * 'eta_uc': vary either "
                             "'eta_c' or 'eta_dc'/'eta_uc' along an axis, not both", None)
    for name, label in axis_of.items():
        for other in (name, *CONVERSION_PARTNERS.get(name, ())):
            if fields.get(other) is not None:
                why = (f"; give {name!r} once" if other == name else
                       f", which {other} fixes too ('eta_c' = 'eta_dc' * 'eta_uc'); give "
                       "one of them")
                raise ParameterError(f"{other} is given, but {name!r} is the {label} axis"
                                     f"{why}", other)
    orders = sorted(check_loss_orders(loss_orders))
    if len(orders) < 2:
        raise ParameterError(f"loss_orders needs at least two codes to compare, got "
                             f"{orders}", "loss_orders")
    if "rate_hz" not in axis_of:
        rate_hz = check_rate_hz(rate_hz)
    key_alpha_max = check_real(key_alpha_max, "key_alpha_max", low=0.0, low_open=True,
                               high=ALPHA_MAX)
    n_key_alpha = check_int(n_key_alpha, "n_key_alpha", low=2)
    check_choice(scan.engine, "engine", ("coherent", "fock"))
    if "alpha" in fields:
        raise ParameterError("alpha is solved at every point so that each code reaches "
                             "the rate; do not give it", "alpha")
    # defaults < caller's fields < axes (an eta_c axis clears a preset's eta_dc/eta_uc)
    merged = merge_layers(default_fields(), fields,
                          {n: 1.0 for n, _ in (x, y) if n != "rate_hz"})
    merged.pop("loss_order", None)
    for n, _ in (x, y):
        merged.pop(n, None)
    axes_now = {n: v for n, v in (x, y) if n != "rate_hz"}
    ProtocolParams(**merged, **{n: v[:, None] if n == x[0] else v[None, :]
                                for n, v in axes_now.items()})
    L = np.asarray(_grid_field(merged, x, y, "length_km", 0.0))
    t0 = np.asarray(_grid_field(merged, x, y, "t0_s", 0.0))
    if np.any((L == 0) & (t0 == 0)):
        raise ParameterError("rates need a positive attempt time max(L / c_f, t0): "
                             "length_km and t0_s are both 0 at some points; give "
                             "length_km > 0 or t0_s > 0", None)
    npt = x[1].size * y[1].size
    swept = workers is not None or scheduler is not None
    if swept and (scan.alpha_max != DEFAULT_ALPHA_MAX or scan.n_scan != DEFAULT_N_SCAN):
        raise ValueError("the sweep path solves alpha with the default scan "
                         f"(alpha_max = {DEFAULT_ALPHA_MAX:g}, n_scan = {DEFAULT_N_SCAN}); "
                         "leave alpha_max and n_scan at their defaults or use workers=None")
    if processes is None:
        processes = default_workers() if npt >= 64 else 1
    processes = check_int(processes, "processes", low=1)
    n_par = int(workers or 1) if swept else processes
    usd, enc = merged.get("usd", "tub"), merged.get("encoder", "ideal")
    seconds = npt * (_EVALUATIONS_PER_SOLVE + n_key_alpha) * sum(
        seconds_per_point(l, engine=scan.engine, usd=usd, encoder=enc) for l in orders) / n_par
    what = (f"the advantage map ({x[1].size} x {y[1].size} points, codes l = "
            f"{', '.join(map(str, orders))}, n_key_alpha = {n_key_alpha}, on {n_par} "
            "process(es))")
    result_gib = npt * len(orders) * _RESULT_BYTES_PER_POINT_CODE / 2 ** 30
    for label, (name, v) in (("x", x), ("y", y)):
        if v.size > MAX_AXIS_POINTS and not swept:
            raise ParameterError(
                f"{label} axis {name!r} has {v.size} points, more than the "
                f"{MAX_AXIS_POINTS} per axis of the plain path (this map: {npt:.3g} points, "
                f"about {format_duration(seconds)} on {processes} process(es) and "
                f"{result_gib:.2g} GiB of results); give fewer points or use workers=N to "
                "run through the sweep machinery", label)
    check_time(seconds, what, "give fewer points or a smaller n_key_alpha, or more "
                              + ("workers=N" if swept else "processes=N"))
    per_call = min(npt, 512 if swept else -(-npt // processes), BLOCK_POINTS)
    check_memory(_estimate_bytes(orders, per_call) * n_par
                 + npt * len(orders) * _RESULT_BYTES_PER_POINT_CODE + 32.0 * n_key_alpha,
                 f"the advantage map (codes up to l = {max(orders)}, {per_call} points per "
                 f"vectorised call, {n_key_alpha} key amplitudes)",
                 "use fewer workers" if swept else
                 "use workers=N to run through the sweep machinery")
    jobs = _threshold_jobs(x, y, orders, merged, rate_hz, scan.engine) if thresholds else []
    return MapJob(x=x, y=y, loss_orders=orders,
                  rate_hz=None if "rate_hz" in (x[0], y[0]) else float(rate_hz),
                  fields=merged, scan=scan,
                  alpha_grid=_key_alpha_grid(float(key_alpha_max), int(n_key_alpha)),
                  processes=processes, workers=workers, scheduler=scheduler,
                  threshold_jobs=jobs, progress=progress, thresholds=thresholds)


def _axis_arg(axis, default, label):
    if axis is None:
        name, start, stop, num = default
        return name, np.linspace(start, stop, num)
    try:
        name, values = axis
    except (TypeError, ValueError):
        raise ParameterError(f"{label} must be a pair (name, values), e.g. {label}=('eta_int', "
                             f"np.linspace(0.8, 1, 40)), got {axis!r}", label) from None
    _axis_info(name, label)
    return name, _check_axis_values(name, values, label)
