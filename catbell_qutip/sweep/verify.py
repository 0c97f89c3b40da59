"""Check a sweep store without computing anything (``catbell sweep --verify STORE``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .store import MIXED_CODE_LOG, chunk_damage, flagged_chunks, layout_damage, read_attrs

__all__ = ["VerifyReport", "verify_store"]


@dataclass
class VerifyReport:
    """What :func:`verify_store` found.

    Parameters
    ----------
    path : str
        The store verified.
    chunks : int
        Chunks in the grid.
    done : int
        Chunks flagged done.
    damaged : list of str
        ``"OUTPUT/CHUNK: reason"`` for every flagged chunk's output that cannot be read or
        does not match its checksum (a rerun of the sweep recomputes them), and the
        layout's damage (:func:`~catbell_qutip.sweep.store.layout_damage`: metadata,
        coordinates, ``.zmetadata``; a rerun restores them).
    damaged_chunks : int
        Chunks with at least one damaged output.
    layout : list of str
        The layout's damage alone.
    mixed_code : list of dict
        Forced resumes with other code, as recorded in the store.

    Examples
    --------
    >>> r = VerifyReport(path="s.zarr", chunks=4, done=4)
    >>> r.clean, r.summary()
    (True, 's.zarr: 4 of 4 chunks done, 4 verified, 0 damaged')
    """

    path: str
    chunks: int
    done: int = 0
    damaged: list = field(default_factory=list)
    damaged_chunks: int = 0
    layout: list = field(default_factory=list)
    mixed_code: list = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.damaged

    def summary(self) -> str:
        s = (f"{self.path}: {self.done} of {self.chunks} chunks done, "
             f"{self.done - self.damaged_chunks} verified, {self.damaged_chunks} damaged")
        if self.layout:
            s += f", layout damaged in {len(self.layout)} place(s)"
        if self.mixed_code:
            s += (f"; resumed {len(self.mixed_code)} time(s) with other code (forced), see "
                  f"{MIXED_CODE_LOG}")
        return s


class _Layout:
    """Chunk geometry read back from a store."""

    def __init__(self, shape, chunks, outputs):
        self.shape, self.chunks, self.outputs = tuple(shape), tuple(chunks), tuple(outputs)
        self.chunk_grid = tuple(-(-n // c) for n, c in zip(shape, chunks, strict=True))

    def chunk_slices(self, index):
        return tuple(slice(i * c, min((i + 1) * c, n))
                     for i, c, n in zip(index, self.chunks, self.shape, strict=True))


def verify_store(path) -> VerifyReport:
    """Read every chunk flagged done and compare it with its recorded checksum.

    Parameters
    ----------
    path : str or path
        A store written by :func:`catbell_qutip.sweep.sweep`.

    Returns
    -------
    VerifyReport
        Chunks done, verified and damaged, the layout's damage, forced resumes.

    Raises
    ------
    ValueError
        ``path`` is not a catbell sweep store (or one written before checksums existed).

    Examples
    --------
    A store just written is complete and intact:

    >>> import tempfile, pathlib
    >>> from catbell_qutip.sweep import sweep
    >>> with tempfile.TemporaryDirectory() as d:
    ...     store = pathlib.Path(d, "s.zarr")
    ...     _ = sweep({"outputs": ["P"], "fixed": {"loss_order": 1},
    ...                "axes": {"alpha": [0.5, 1.0]}}, store, workers=1, progress=False)
    ...     report = verify_store(store)
    >>> report.clean, report.done == report.chunks
    (True, True)
    """
    import zarr

    where = str(path)
    if not Path(path).is_dir() or "catbell_sweep_spec_sha256" not in read_attrs(path):
        raise ValueError(f"{where!r} is not a catbell sweep store")
    root = zarr.open_group(where, mode="r", zarr_format=2, use_consolidated=False)
    try:
        checksum = root["_sweep/checksum"]
        done = root["_sweep/done"]
    except KeyError:
        raise ValueError(f"{where!r} holds no chunk checksums (written by an older "
                         "version); it cannot be verified") from None
    damage = layout_damage(path)
    outputs = checksum.attrs["outputs"]
    report = VerifyReport(path=where, chunks=done.size, layout=damage,
                          damaged=list(damage))
    arrays = {}
    for k in outputs:
        try:
            arrays[k] = root[k]
        except Exception:  # noqa: BLE001 - its metadata is damaged (reported above)
            pass
    if len(arrays) < len(outputs) or not arrays:
        # an output's metadata is unreadable: its chunks cannot be read until a rerun
        # restores it; count the flagged chunks as not verified
        for _ in flagged_chunks(done, checksum, _Layout(done.shape, (1,) * done.ndim,
                                                        outputs)):
            report.done += 1
            report.damaged_chunks += 1
        return _with_mixed(report, path)
    first = next(iter(arrays.values()))
    layout = _Layout(first.shape, first.chunks, outputs)
    for idx, sums in flagged_chunks(done, checksum, layout):
        report.done += 1
        problems = chunk_damage(arrays, layout, idx, sums)
        report.damaged += problems
        report.damaged_chunks += bool(problems)
    return _with_mixed(report, path)


def _with_mixed(report: VerifyReport, path) -> VerifyReport:
    try:
        report.mixed_code = json.loads((Path(path) / MIXED_CODE_LOG).read_text())
    except (OSError, ValueError):
        pass
    return report
