"""Where sweep results go: memory, or a chunked Zarr store with checksummed done flags.

Store layout (Zarr format 2, consolidated metadata): one array per output with dims = the
axes and chunks = the sweep's chunks; the coordinate arrays; ``_sweep/checksum`` (uint64,
one per chunk and output: BLAKE2b-64 of the chunk's float64 values) and ``_sweep/done``
(uint8, one per chunk, set to 1 only after the chunk's data and checksums are written).
The root attributes hold the canonical spec and its SHA-256, the package version and the
fingerprint of the code that computes results (:func:`code_fingerprint`). Format 2 keeps
string coordinates (``usd``, ...) in a stable, widely readable form.

No partial result looks complete: the store appears by an atomic rename of a finished
temporary directory; Zarr writes every chunk file to a temporary name and renames it; a
chunk's done flag is written last, and a flagged chunk whose data do not match its
checksums (a torn, emptied, deleted or overwritten file) is recomputed on resume.

The layout is checked too (:func:`layout_damage`): ``_sweep``'s attributes record, at
creation, the metadata of every output and coordinate array (``.zarray``, ``.zattrs``)
and a checksum of every coordinate's values. A metadata file that no longer matches, a
coordinate whose values changed, or an unreadable ``.zmetadata`` (the consolidated copy)
is damage: ``--verify`` reports it, and a resume restores it from the record and the
spec before verifying the chunks (:meth:`ZarrStore.repair_layout`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import uuid
from pathlib import Path

import numpy as np

from .. import __version__
from .._checks import ParameterError, check_out_dir
from .spec import SweepSpec, long_name, units

__all__ = ["MemorySink", "ZarrStore", "code_fingerprint", "fingerprint_files",
           "chunk_checksum", "check_store_path", "chunk_name", "flagged_chunks",
           "chunk_damage", "read_attrs", "MIXED_CODE_LOG", "layout_damage",
           "LAYOUT_ATTR"]

#: attribute of the ``_sweep`` group that records the layout at creation
LAYOUT_ATTR = "layout"

#: written in the store when a resume across code versions was forced
MIXED_CODE_LOG = "_sweep/mixed_code.json"
#: modules that do not compute results (left out of the code fingerprint): the command
#: line and the sweep's bookkeeping; what the spec parser decides is in the spec hash
_NOT_COMPUTING = ("cli/", "__main__.py", "sweep/__init__.py", "sweep/driver.py",
                  "sweep/executors.py", "sweep/lock.py", "sweep/store.py",
                  "sweep/verify.py", "sweep/spec.py", "sweep/grid.py")


def fingerprint_files() -> list[Path]:
    """The package's source files that compute results: every module but the command
    line and the sweep's bookkeeping, in path order.

    Returns
    -------
    list of pathlib.Path
        Absolute paths of the computing modules, sorted.

    Examples
    --------
    >>> files = fingerprint_files()
    >>> files == sorted(files), any(f.name == "driver.py" for f in files)
    (True, False)
    """
    root = Path(__file__).resolve().parent.parent
    return [p for p in sorted(root.rglob("*.py"))
            if not p.relative_to(root).as_posix().startswith(_NOT_COMPUTING)]


def code_fingerprint() -> str:
    """SHA-256 of the source of :func:`fingerprint_files` (and their paths).

    Returns
    -------
    str
        64 hexadecimal digits; changes when any computing module changes.

    Examples
    --------
    >>> fp = code_fingerprint()
    >>> len(fp), fp == code_fingerprint()
    (64, True)
    """
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for p in fingerprint_files():
        h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def chunk_checksum(values) -> int:
    """BLAKE2b-64 of a chunk's values as float64, as a nonzero integer.

    Parameters
    ----------
    values : array_like
        The chunk's values (any shape; compared as little-endian float64).

    Returns
    -------
    int
        A 64-bit checksum with its lowest bit set (so never 0, the "no checksum" value).

    Examples
    --------
    >>> c = chunk_checksum([1.0, 2.0])
    >>> c % 2, c == chunk_checksum([1, 2]), c == chunk_checksum([2.0, 1.0])
    (1, True, False)
    """
    data = np.ascontiguousarray(values, dtype="<f8").tobytes()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little") | 1


def chunk_name(index) -> str:
    """The chunk's file name within an output's directory (``0.3.1``).

    Parameters
    ----------
    index : tuple of int
        Chunk index, one entry per axis.

    Returns
    -------
    str
        The indices joined by dots (Zarr v2 chunk key).

    Examples
    --------
    >>> chunk_name((0, 3, 1))
    '0.3.1'
    """
    return ".".join(str(int(i)) for i in index)


def _attrs(spec: SweepSpec) -> dict:
    attrs = {"engine": spec.engine}
    if spec.preset is not None:
        attrs["preset"] = spec.preset
    if spec.target_rate_hz is not None:
        attrs["target_rate_hz"] = spec.target_rate_hz
    attrs.update({k: v for k, v in spec.params.items() if v is not None})
    attrs.update({
        "catbell_sweep_spec": spec.canonical_json(),
        "catbell_sweep_spec_sha256": spec.sha256,
        "catbell_qutip_version": __version__,
        "catbell_code_fingerprint": code_fingerprint(),
    })
    return attrs


def _template(spec: SweepSpec, lazy: bool):
    import xarray as xr

    coords = {name: (name, values, {"units": units(name), "long_name": long_name(name)})
              for name, values in spec.axes}
    if lazy:
        import dask.array as da

        # one dask chunk: writing the metadata (compute=False) then costs the same for
        # 10 chunks or 10^6 (a task per store chunk made 200000 chunks take minutes);
        # the store's chunks come from the encoding (:func:`_encoding`)
        make = lambda: da.full(spec.shape, np.nan, chunks=spec.shape)  # noqa: E731
    else:
        make = lambda: np.full(spec.shape, np.nan)  # noqa: E731
    data = {k: (spec.dims, make(), {"units": units(k), "long_name": long_name(k)})
            for k in spec.outputs}
    return xr.Dataset(data, coords=coords, attrs=_attrs(spec))


def _encoding(spec: SweepSpec) -> dict:
    """Every output chunked as the spec says."""
    return {k: {"chunks": spec.chunks} for k in spec.outputs}


class MemorySink:
    """Results kept in memory (``store=None``): nothing to resume, nothing to lock.

    Parameters
    ----------
    spec : SweepSpec
        The sweep; the dataset has one NaN-filled variable per output.

    Examples
    --------
    >>> from catbell_qutip.sweep.spec import as_spec
    >>> spec = as_spec({"fixed": {"loss_order": 1, "alpha": 1.0},
    ...                 "axes": {"length_km": [1.0, 2.0, 3.0]}})
    >>> sink = MemorySink(spec)
    >>> sink.write((0,), {"P": [0.5, 0.4, 0.3]})
    >>> sink.dataset().P.values.tolist(), list(sink.flagged())
    ([0.5, 0.4, 0.3], [])
    """

    def __init__(self, spec: SweepSpec):
        self.spec = spec
        self.ds = _template(spec, lazy=False)

    def flagged(self):
        return iter(())

    def write(self, index, values: dict) -> None:
        sl = self.spec.chunk_slices(index)
        for k, v in values.items():
            self.ds[k].values[sl] = v

    def dataset(self):
        return self.ds

    def close(self) -> None:
        pass


def check_store_path(path, need_bytes: float, opt: str = "store") -> None:
    """Refuse, before any work, a store path that cannot take the results: an existing
    file, a location this process cannot write, or one with less free space than
    ``need_bytes`` (the uncompressed size of what is still to be written). ``opt`` names
    the argument (a :class:`~catbell_qutip._checks.ParameterError` with that field).

    Parameters
    ----------
    path : str or os.PathLike
        The store directory (it may not exist yet).
    need_bytes : float
        Uncompressed size still to be written [bytes].
    opt : str
        Name of the argument or CLI option, used in the error.

    Returns
    -------
    None
        Returns when the path can take the results.

    Raises
    ------
    catbell_qutip._checks.ParameterError
        If ``path`` is an existing file, is not writable, or its filesystem has less than
        ``need_bytes`` free.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     check_store_path(pathlib.Path(d, "s.zarr"), 1e3) is None
    True
    """
    path = check_out_dir(path, opt, kind="sweep store")
    where = f"{opt} {str(path)!r}"
    d = path if path.exists() else path.parent
    while not d.exists():
        d = d.parent
    # the common check probed the nearest existing folder; a store being resumed also
    # needs its _sweep folder (access(2): a refused store must be left exactly as it was)
    if (path / "_sweep").is_dir() and not os.access(path / "_sweep", os.W_OK | os.X_OK):
        raise ParameterError(f"{where}: {str(path / '_sweep')!r} is not writable (read-only "
                             "location or no permission); choose a writable location", opt)
    free = shutil.disk_usage(d).free
    if need_bytes > free:
        raise ParameterError(f"{where}: the results need up to {need_bytes / 2**30:.3g} GiB "
                             f"(uncompressed) and {str(d)!r} has {free / 2**30:.3g} GiB "
                             "free; free some space, choose another location, or sweep "
                             "fewer points", opt)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def _remove_stale_partials(path: Path) -> None:
    """Remove the half-built ``.NAME.partial-PID-*`` folders of creators that died (a
    killed creation cannot clean up after itself); those of live processes stay."""
    for p in path.parent.glob(f".{path.name}.partial-*-*"):
        m = re.fullmatch(rf"\.{re.escape(path.name)}\.partial-(\d+)-[0-9a-f]+", p.name)
        if m and p.is_dir() and not _pid_alive(int(m[1])):
            shutil.rmtree(p, ignore_errors=True)


def _write_json(path: Path, content) -> None:
    """Replace a JSON file atomically."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    tmp.write_text(json.dumps(content, indent=4, sort_keys=True))
    os.replace(tmp, path)


def _first_difference(old: dict, new: dict) -> str:
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            return f"{key}.{_first_difference(a, b)}"
        if key == "axes" and isinstance(a, list) and isinstance(b, list):
            da_, db_ = dict(map(tuple, a)), dict(map(tuple, b))
            if list(da_) != list(db_):
                return f"axes: stored {list(da_)}, this spec {list(db_)}"
            return f"axes.{_first_difference(da_, db_)}"
        return key
    return "?"


def read_attrs(path) -> dict:
    """The root attributes of a store ({} when it is not a readable Zarr group).

    Read from the root ``.zattrs`` itself, not from the consolidated ``.zmetadata``, so a
    damaged consolidated copy does not make an intact store unrecognisable.

    Parameters
    ----------
    path : str or os.PathLike
        The store directory.

    Returns
    -------
    dict
        The root attributes (spec, its hash, version, code fingerprint, fixed parameters).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     read_attrs(d)                   # an empty folder is not a store
    {}
    """
    try:
        attrs = json.loads((Path(path) / ".zattrs").read_text())
    except (OSError, ValueError):
        return {}
    return attrs if isinstance(attrs, dict) else {}


def _layout_files(names: dict) -> list[str]:
    return [f"{n}/{f}" for n in names["arrays"] for f in (".zarray", ".zattrs")]


def _record_layout(path: Path, names) -> dict:
    """The layout record of a freshly written store: each array's metadata files as
    parsed JSON, and a checksum of each coordinate's values."""
    import zarr

    files = {rel: json.loads((path / rel).read_text()) for rel in _layout_files(names)}
    root = zarr.open_group(str(path), mode="r", zarr_format=2, use_consolidated=False)
    coords = {n: chunk_checksum(np.asarray(root[n][...], dtype=float))
              for n in names["coords"]}
    return {"files": files, "coords": coords}


def _names(spec: SweepSpec) -> dict:
    """The arrays whose metadata is recorded (outputs and coordinates), and the
    coordinates whose values are."""
    return {"arrays": [*spec.outputs, *spec.dims], "coords": list(spec.dims)}


def layout_damage(path) -> list[str]:
    """What is wrong with a store's layout against the record made at its creation:
    ``"P/.zarray: unreadable"``, ``"alpha: coordinate values changed"``,
    ``".zmetadata: unreadable"``, ... ([] when intact, or for a store written before
    layouts were recorded).

    Parameters
    ----------
    path : str or os.PathLike
        The store directory.

    Returns
    -------
    list of str
        One line per damaged file or coordinate ([] when intact).

    Examples
    --------
    A folder without the consolidated metadata of a Zarr store:

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     layout_damage(d)
    ['.zmetadata: unreadable consolidated metadata (FileNotFoundError)']
    """
    import zarr

    path = Path(path)
    out = []
    try:
        json.loads((path / ".zmetadata").read_text())
    except (OSError, ValueError) as exc:
        out.append(f".zmetadata: unreadable consolidated metadata ({type(exc).__name__})")
    try:
        rec = json.loads((path / "_sweep" / ".zattrs").read_text()).get(LAYOUT_ATTR)
    except (OSError, ValueError, AttributeError):
        rec = None
    if not rec:
        return out
    for rel, want in rec["files"].items():
        try:
            got = json.loads((path / rel).read_text())
        except (OSError, ValueError) as exc:
            out.append(f"{rel}: unreadable ({type(exc).__name__})")
            continue
        if got != want:
            out.append(f"{rel}: differs from the metadata recorded at creation")
    bad_meta = {rel.split("/")[0] for rel in rec["files"]
                if any(o.startswith(rel) for o in out)}
    root = zarr.open_group(str(path), mode="r", zarr_format=2, use_consolidated=False)
    for name, want in rec["coords"].items():
        if name in bad_meta:
            continue
        try:
            got = chunk_checksum(np.asarray(root[name][...], dtype=float))
        except Exception as exc:  # noqa: BLE001 - an unreadable coordinate is damage
            out.append(f"{name}: coordinate unreadable ({type(exc).__name__})")
            continue
        if got != int(want):
            out.append(f"{name}: coordinate values differ from those recorded at creation")
    return out


def _read_all(arr, grid, dtype) -> np.ndarray:
    try:
        return np.asarray(arr[...])
    except Exception:  # noqa: BLE001 - a flag torn by a kill: read chunk by chunk
        out = np.zeros(arr.shape, dtype=dtype)
        for idx in np.ndindex(*grid):
            try:
                out[idx] = arr[idx]
            except Exception:  # noqa: BLE001 - unreadable flag = not done
                out[idx] = 0
        return out


def flagged_chunks(done, checksum, layout):
    """Yield (chunk index, checksums) of every chunk whose done flag is set.

    ``layout`` has ``chunk_grid``, ``chunk_slices(index)`` and ``outputs`` (a
    :class:`~catbell_qutip.sweep.SweepSpec`, or the layout read back from a store).

    Parameters
    ----------
    done : zarr.Array
        The store's done flags (1 = written), one per chunk.
    checksum : zarr.Array
        The per-chunk checksums, one per chunk and output.
    layout : SweepSpec or layout
        Chunk grid and outputs of the store.

    Returns
    -------
    iterator of (tuple of int, ndarray)
        A generator of (chunk index, its recorded uint64 checksums, one per output).

    Examples
    --------
    Three chunks of one point each; only the middle one is flagged done:

    >>> import numpy as np
    >>> from catbell_qutip.sweep.spec import as_spec
    >>> spec = as_spec({"outputs": ["P"], "fixed": {"loss_order": 1, "alpha": 1.0},
    ...                 "axes": {"length_km": [1.0, 2.0, 3.0]}, "chunks": {"length_km": 1}})
    >>> done = np.array([0, 1, 0], dtype="u1")
    >>> sums = np.array([[0], [7], [0]], dtype="u8")
    >>> [(i, s.tolist()) for i, s in flagged_chunks(done, sums, spec)]
    [((1,), [7])]
    """
    grid = layout.chunk_grid
    mask = _read_all(done, grid, "u1") == 1
    sums = _read_all(checksum, grid, "u8")
    for idx in zip(*np.nonzero(mask), strict=True):
        yield tuple(int(i) for i in idx), sums[idx]


def chunk_damage(arrays: dict, layout, index, sums) -> list[str]:
    """Each output of a flagged chunk that cannot be read or does not match its checksum,
    as ``"OUTPUT/CHUNK: reason"`` ([] when the chunk is intact).

    Parameters
    ----------
    arrays : dict of str to array
        Output name -> stored array (Zarr or NumPy).
    layout : SweepSpec or layout
        Chunk slices and outputs of the store.
    index : tuple of int
        Chunk index.
    sums : sequence of int
        The chunk's recorded checksums, one per output.

    Returns
    -------
    list of str
        The damaged outputs of the chunk.

    Examples
    --------
    >>> import numpy as np
    >>> from catbell_qutip.sweep.spec import as_spec
    >>> spec = as_spec({"outputs": ["P"], "fixed": {"loss_order": 1, "alpha": 1.0},
    ...                 "axes": {"length_km": [1.0, 2.0, 3.0]}})
    >>> P = np.array([0.5, 0.4, 0.3])
    >>> chunk_damage({"P": P}, spec, (0,), [chunk_checksum(P)])
    []
    >>> chunk_damage({"P": P}, spec, (0,), [chunk_checksum(P[::-1])])
    ['P/0: data do not match the checksum']
    """
    sl = layout.chunk_slices(index)
    name = chunk_name(index)
    out = []
    for j, k in enumerate(layout.outputs):
        try:
            got = chunk_checksum(arrays[k][sl])
        except Exception as exc:  # noqa: BLE001 - an unreadable chunk is damage
            out.append(f"{k}/{name}: unreadable ({type(exc).__name__}: {exc})")
            continue
        if got != int(sums[j]):
            out.append(f"{k}/{name}: data do not match the checksum")
    return out


class ZarrStore:
    """A sweep store on the local filesystem: created atomically, checked against the spec
    and the code that computes results, written chunk by chunk.

    Parameters
    ----------
    path : path
    spec : SweepSpec
    force : bool
        Resume a store written by another version of the computing code (recorded in
        ``_sweep/mixed_code.json``); otherwise that is refused.
    note : callable
        Receives one-line notes (a forced resume).

    Raises
    ------
    ValueError
        If ``path`` exists and is not a catbell sweep store, was made from another spec,
        or has a layout that cannot be repaired.

    Examples
    --------
    >>> from catbell_qutip.sweep.spec import as_spec
    >>> spec = as_spec({"fixed": {"loss_order": 1, "alpha": 1.0},
    ...                 "axes": {"length_km": [1.0, 2.0, 3.0]}})
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     store = ZarrStore(pathlib.Path(d, "s.zarr"), spec)
    ...     again = ZarrStore(store.path, spec)      # reopened: same spec, resumes
    ...     store.created, again.created, list(again.flagged())
    (True, False, [])
    """

    def __init__(self, path, spec: SweepSpec, *, force: bool = False, note=print):
        import zarr

        self.path = Path(path)
        self.spec = spec
        if self.path.is_dir() and not any(self.path.iterdir()):
            self.path.rmdir()
        self.created = not self.path.exists()
        if self.created:
            self._create()
        self._check_spec()
        self.force, self.note = force, note
        if not self.created:
            self.repair_layout()
        self.root = zarr.open_group(str(self.path), mode="r+", zarr_format=2,
                                    use_consolidated=False)
        self.arrays = {k: self.root[k] for k in spec.outputs}
        self.done = self.root["_sweep/done"]
        self.checksum = self.root["_sweep/checksum"]

    def _create(self) -> None:
        import zarr

        parent = self.path.parent
        parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_partials(self.path)
        tmp = parent / f".{self.path.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            _template(self.spec, lazy=True).to_zarr(
                str(tmp), mode="w-", compute=False, zarr_format=2, consolidated=False,
                encoding=_encoding(self.spec))
            root = zarr.open_group(str(tmp), mode="r+", zarr_format=2)
            grid = self.spec.chunk_grid
            dims = [f"chunk_{d}" for d in self.spec.dims]
            g = root.create_group("_sweep")
            g.create_array(
                "done", shape=grid, chunks=(1,) * len(grid), dtype="u1", fill_value=0,
                compressors=None, filters=None,
                attributes={"_ARRAY_DIMENSIONS": dims,
                            "description": "1 where the chunk's data and checksums are "
                                           "written"})
            n_out = len(self.spec.outputs)
            g.create_array(
                "checksum", shape=(*grid, n_out), chunks=(1,) * len(grid) + (n_out,),
                dtype="u8", fill_value=0, compressors=None, filters=None,
                attributes={"_ARRAY_DIMENSIONS": [*dims, "output"],
                            "outputs": list(self.spec.outputs),
                            "description": "BLAKE2b-64 of each output's chunk (float64)"})
            g.attrs[LAYOUT_ATTR] = _record_layout(tmp, _names(self.spec))
            zarr.consolidate_metadata(str(tmp), zarr_format=2)
            try:
                os.rename(tmp, self.path)   # atomic: the store appears complete or not at all
            except OSError:
                if not self.path.exists():
                    raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)

    def repair_layout(self) -> list[str]:
        """Restore a damaged layout (:func:`layout_damage`) from the record and the spec:
        metadata files rewritten as recorded, coordinates rewritten from the spec's axes,
        ``.zmetadata`` rebuilt. The chunks are then verified by their checksums as usual.
        Returns (and notes) what was repaired."""
        import zarr

        damage = layout_damage(self.path)
        if not damage:
            return []
        rec = json.loads((self.path / "_sweep" / ".zattrs").read_text()).get(LAYOUT_ATTR)
        if rec:
            for rel, content in rec["files"].items():
                try:
                    same = json.loads((self.path / rel).read_text()) == content
                except (OSError, ValueError):
                    same = False
                if not same:
                    _write_json(self.path / rel, content)
            root = zarr.open_group(str(self.path), mode="r+", zarr_format=2,
                                   use_consolidated=False)
            for name, values in self.spec.axes:
                root[name][...] = values
        zarr.consolidate_metadata(str(self.path), zarr_format=2)
        left = layout_damage(self.path)
        if left:
            raise ValueError(f"store {str(self.path)!r}: its layout could not be repaired "
                             f"({'; '.join(left)}); delete the store and rerun")
        self.note(f"repaired the store's layout from its record: {'; '.join(damage)}")
        return damage

    def _check_spec(self) -> None:
        where = str(self.path)
        attrs = read_attrs(self.path)
        stored = attrs.get("catbell_sweep_spec_sha256")
        if stored is None:
            raise ValueError(f"store {where!r} exists and is not a catbell sweep store; "
                             "refusing to overwrite it (choose another path or delete it)")
        if stored != self.spec.sha256:
            try:
                diff = _first_difference(json.loads(attrs["catbell_sweep_spec"]),
                                         self.spec.canonical())
            except (KeyError, ValueError, TypeError):
                diff = "?"
            diff = re.sub(r"^params\.", "parameter ", diff)
            diff = diff if ":" in diff else f"{diff} differs"
            raise ValueError(f"store {where!r} was made from a different sweep spec "
                             f"({diff}); refusing to overwrite it (choose another "
                             "path, or delete the store to start over)")
        self.attrs = attrs

    def check_code(self) -> bool:
        """Refuse (unless ``force``) a store written by other computing code: its package
        version and :func:`code_fingerprint` are in the store's attributes. Returns True
        when the code differs and ``force`` lets the resume go ahead (then call
        :meth:`record_forced` once the store is locked)."""
        old = (self.attrs.get("catbell_qutip_version"),
               self.attrs.get("catbell_code_fingerprint"))
        fp = code_fingerprint()
        if old == (__version__, fp):
            return False
        self._was = f"catbell_qutip {old[0]} (code {str(old[1])[:12]})"
        self._now = f"catbell_qutip {__version__} (code {fp[:12]})"
        if not self.force:
            raise ValueError(
                f"store {str(self.path)!r} was written by {self._was} and this is "
                f"{self._now}: resuming would mix results of two code versions; use a new "
                "store, or force=True to resume anyway (recorded in the store)")
        return True

    def record_forced(self) -> None:
        """Append this code's version and fingerprint to ``_sweep/mixed_code.json``."""
        log = self.path / MIXED_CODE_LOG
        try:
            entries = json.loads(log.read_text())
        except (OSError, ValueError):
            entries = []
        entries.append({"version": __version__, "fingerprint": code_fingerprint(),
                        "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        tmp = log.with_name(f".{log.name}.{uuid.uuid4().hex[:8]}")
        tmp.write_text(json.dumps(entries, indent=1))
        os.replace(tmp, log)
        self.note(f"resuming a store written by {self._was} with {self._now} "
                  f"(force=True); recorded in {str(log)!r}")

    # -- flags ---------------------------------------------------------------------------
    def flagged(self):
        """Yield (chunk index, checksums) of every chunk flagged done."""
        return flagged_chunks(self.done, self.checksum, self.spec)

    def damage(self, index, sums) -> list[str]:
        """What is wrong with a flagged chunk ([] when every output matches its checksum)."""
        return chunk_damage(self.arrays, self.spec, index, sums)

    def unflag(self, index) -> None:
        self.done[tuple(index)] = 0

    def write(self, index, values: dict) -> None:
        """Write a chunk, then its checksums, then its done flag (in that order)."""
        index = tuple(index)
        sl = self.spec.chunk_slices(index)
        shape = tuple(s.stop - s.start for s in sl)
        sums = []
        for k in self.spec.outputs:
            v = np.ascontiguousarray(np.broadcast_to(values[k], shape), dtype="<f8")
            self.arrays[k][sl] = v
            sums.append(chunk_checksum(v))
        self.checksum[index] = np.array(sums, dtype="u8")
        self.done[index] = 1

    def dataset(self):
        import xarray as xr

        return xr.open_zarr(str(self.path))

    def close(self) -> None:
        pass
