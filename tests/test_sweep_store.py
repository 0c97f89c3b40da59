"""Sweep stores (catbell_qutip/sweep/store.py, lock.py, verify.py): bad store paths, failed
writes, per-chunk checksums verified on resume and by ``--verify``, the one-driver lock, and
the code version recorded in the store.

Expected values come from :func:`catbell_qutip.evaluate` called directly.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr
from conftest import tol

import catbell_qutip as cb
import catbell_qutip.sweep.store as store_mod
from catbell_qutip.cli import main
from catbell_qutip.sweep import CHUNK_DELAY_ENV, verify_store

SPEC = """
engine = "coherent"
outputs = ["P", "S"]
chunks = {alpha = 2, eta = 1}      # 6 chunks of 2 points: "0.0" ... "2.1"
[fixed]
loss_order = 1
[axes]
alpha = [0.5, 0.9, 1.3, 1.7, 2.1, 2.5]
eta = [0.6, 1.0]
"""
ALPHA = np.array([0.5, 0.9, 1.3, 1.7, 2.1, 2.5])


def reference():
    return cb.evaluate(1, alpha=ALPHA[:, None], eta=np.array([0.6, 1.0])[None, :],
                       outputs=("P", "S"))


def sweep_cli(tmp_path, capsys, *extra, store=None):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    store = store or tmp_path / "s.zarr"
    code = main(["sweep", str(spec), "--out", str(store), "--workers", "1", "--no-progress",
                 *extra])
    out, err = capsys.readouterr()
    return code, out, err


def assert_matches_reference(store: Path):
    ds = xr.open_zarr(store).load()
    ref = reference()
    for k in ("P", "S"):
        np.testing.assert_allclose(ds[k].values, ref[k], rtol=0, atol=tol(1e-12))


def tree(path: Path) -> dict:
    return {str(p): (p.stat().st_mtime_ns, p.stat().st_size) for p in path.rglob("*")}


# -- bad store paths, refused before any work -----------------------------------------------
def test_out_is_an_existing_file(tmp_path, capsys):
    f = tmp_path / "results.txt"
    f.write_text("keep me")
    code, _, err = sweep_cli(tmp_path, capsys, store=f)
    assert code == 2
    assert f"--out {str(f)!r} is an existing file" in err and err.count("\n") == 1
    assert f.read_text() == "keep me"


def test_out_in_a_read_only_location(tmp_path, capsys, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    if os.geteuid() == 0:   # root writes anywhere: stand in for the kernel's answer
        real = os.access
        monkeypatch.setattr(store_mod.os, "access",
                            lambda p, m: False if Path(p) == ro else real(p, m))
    try:
        code, _, err = sweep_cli(tmp_path, capsys, store=ro / "sub" / "s.zarr")
    finally:
        ro.chmod(0o755)
    assert code == 2
    assert f"{str(ro)!r} is not writable" in err and str(ro / "sub" / "s.zarr") in err
    assert list(ro.iterdir()) == []


def test_out_on_a_full_disk(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(store_mod.shutil, "disk_usage",
                        lambda p: SimpleNamespace(total=10**9, used=10**9 - 100, free=100))
    code, _, err = sweep_cli(tmp_path, capsys)
    assert code == 2
    # 12 points x 2 outputs x 8 bytes = 192 bytes > 100 bytes free
    assert "the results need up to 1.79e-07 GiB" in err and "GiB free" in err
    assert not (tmp_path / "s.zarr").exists()


def test_failed_write_leaves_no_complete_looking_chunk(tmp_path, capsys, monkeypatch):
    real = store_mod.ZarrStore.write
    calls = {"n": 0}

    def disk_full_on_second_chunk(self, index, values):
        calls["n"] += 1
        if calls["n"] == 2:
            sl = self.spec.chunk_slices(index)
            self.arrays["P"][sl] = values["P"]          # half the chunk reached the disk
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, index, values)

    monkeypatch.setattr(store_mod.ZarrStore, "write", disk_full_on_second_chunk)
    code, _, err = sweep_cli(tmp_path, capsys)
    assert code == 1
    assert "No space left on device" in err and "Traceback" not in err
    store = tmp_path / "s.zarr"
    assert not (store / "_sweep" / "lock").exists()          # released
    report = verify_store(store)
    assert (report.done, report.damaged) == (1, [])          # the torn chunk is not done
    monkeypatch.setattr(store_mod.ZarrStore, "write", real)
    code, out, _ = sweep_cli(tmp_path, capsys)
    assert code == 0 and "10 points computed, 2 reused, 0 failed" in out
    assert_matches_reference(store)


# -- checksums ------------------------------------------------------------------------------
def empty(f: Path):
    f.write_bytes(b"")


def delete(f: Path):
    f.unlink()


def overwrite8(f: Path):
    data = bytearray(f.read_bytes())
    data[-8:] = b"\x00\x01\x02\x03\x04\x05\x06\x07"
    f.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [empty, delete, overwrite8])
def test_damaged_chunk_found_by_verify_and_recomputed_on_resume(tmp_path, capsys, damage):
    store = tmp_path / "s.zarr"
    assert sweep_cli(tmp_path, capsys)[0] == 0
    assert main(["sweep", "--verify", str(store)]) == 0
    assert "6 of 6 chunks done, 6 verified, 0 damaged" in capsys.readouterr().out
    damage(store / "S" / "1.0")
    assert main(["sweep", "--verify", str(store)]) == 1
    out, err = capsys.readouterr()
    assert "6 of 6 chunks done, 5 verified, 1 damaged" in out
    assert "damaged: S/1.0: " in err
    code, out, err = sweep_cli(tmp_path, capsys)
    assert code == 0
    assert "1 stored chunk(s) failed verification and are recomputed: S/1.0" in err
    assert "2 points computed, 10 reused, 0 failed" in out
    assert "1 damaged and recomputed" in out
    assert_matches_reference(store)
    assert main(["sweep", "--verify", str(store)]) == 0


def test_verify_refuses_what_is_not_a_store(tmp_path, capsys):
    (tmp_path / "x").mkdir()
    assert main(["sweep", "--verify", str(tmp_path / "x")]) == 2
    assert "is not a catbell sweep store" in capsys.readouterr().err
    assert main(["sweep", "--verify", str(tmp_path / "x"), "--out", "y"]) == 2
    assert "--verify takes a store and nothing else; drop --out" in capsys.readouterr().err


# -- the lock -------------------------------------------------------------------------------
def write_lock(store: Path, pid: int, host: str):
    (store / "_sweep" / "lock").write_text(json.dumps({"pid": pid, "host": host,
                                                       "since": "2026-01-01T00:00:00Z"}))


def test_lock_held_refused_stale_taken_over(tmp_path, capsys):
    store = tmp_path / "s.zarr"
    assert sweep_cli(tmp_path, capsys)[0] == 0
    assert not (store / "_sweep" / "lock").exists()
    for c in ("0.0", "1.0"):
        (store / "_sweep" / "done" / c).write_bytes(b"\x00")     # two chunks to redo
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        write_lock(store, other.pid, socket.gethostname())
        before = tree(store)
        code, _, err = sweep_cli(tmp_path, capsys)
        assert code == 2
        assert f"in use by another sweep (pid {other.pid} on host {socket.gethostname()}" \
            in err
        assert tree(store) == before                          # nothing computed or written
    finally:
        other.kill()
        other.wait()
    code, out, err = sweep_cli(tmp_path, capsys)                # its pid is gone now
    assert code == 0
    assert f"took over a stale lock on {str(store)!r} (pid {other.pid}" in err
    assert "4 points computed, 8 reused" in out
    assert not (store / "_sweep" / "lock").exists()
    # another host's lock cannot be checked from here: always refused
    write_lock(store, 1, "some-other-host.example")
    code, _, err = sweep_cli(tmp_path, capsys)
    assert code == 2 and "on host some-other-host.example" in err


def test_two_drivers_on_one_store(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    store = tmp_path / "s.zarr"
    cmd = [sys.executable, "-m", "catbell_qutip", "sweep", str(spec), "--out", str(store),
           "--workers", "1", "--no-progress"]
    # 5 s per chunk: the first driver is still at work (30 s) when the second one starts
    env = dict(os.environ, **{CHUNK_DELAY_ENV: "5"})
    first = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (store / "_sweep" / "lock").exists():
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        second = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert second.returncode == 2
        assert f"in use by another sweep (pid {first.pid}" in second.stderr
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.communicate()


# -- the code that wrote the store ----------------------------------------------------------
def test_resume_across_code_versions_needs_force(tmp_path, capsys, monkeypatch):
    store = tmp_path / "s.zarr"
    assert sweep_cli(tmp_path, capsys)[0] == 0
    attrs = json.loads((store / ".zattrs").read_text())
    assert attrs["catbell_qutip_version"] == cb.__version__
    assert attrs["catbell_code_fingerprint"] == store_mod.code_fingerprint()
    (store / "_sweep" / "done" / "2.1").write_bytes(b"\x00")
    monkeypatch.setattr(store_mod, "code_fingerprint", lambda: "f" * 64)
    before = tree(store)
    code, _, err = sweep_cli(tmp_path, capsys)
    assert code == 2
    assert "resuming would mix results of two code versions" in err and "--force" in err
    assert tree(store) == before
    code, out, err = sweep_cli(tmp_path, capsys, "--force")
    assert code == 0 and "2 points computed, 10 reused" in out
    assert "recorded in" in err
    log = json.loads((store / "_sweep" / "mixed_code.json").read_text())
    assert [e["fingerprint"] for e in log] == ["f" * 64]
    assert "resumed 1 time(s) with other code" in verify_summary(store, capsys)


def verify_summary(store, capsys) -> str:
    main(["sweep", "--verify", str(store)])
    return capsys.readouterr().out


def test_fingerprint_covers_every_module_that_computes(tmp_path):
    """Compute a chunk in a fresh interpreter: every catbell_qutip module it loaded that
    is not the sweep's bookkeeping is in the fingerprint."""
    code = (
        "import sys, json\n"
        "from catbell_qutip.sweep.spec import SweepSpec\n"
        "from catbell_qutip.sweep.compute import compute_chunk, task_for\n"
        "s = SweepSpec.from_dict({'engine': 'fock', 'target_rate_hz': 1000.0,\n"
        "    'outputs': ['P', 'key_rate', 'alpha_at_rate'], 'fixed': {'loss_order': 1},\n"
        "    'axes': {'length_km': [5.0]}})\n"
        "compute_chunk(task_for(s, (0,)))\n"
        "print(json.dumps([m.__file__ for n, m in sys.modules.items()\n"
        "                  if n.startswith('catbell_qutip') and getattr(m, '__file__', 0)]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    loaded = {Path(f).resolve() for f in json.loads(out)}
    covered = {p.resolve() for p in store_mod.fingerprint_files()}
    bookkeeping = {p for p in loaded if p.parent.name == "sweep"
                   and p.name in ("__init__.py", "driver.py", "executors.py", "lock.py",
                                  "store.py", "verify.py", "spec.py", "grid.py")}
    assert {p.name for p in covered} >= {"api.py", "protocol.py", "rates.py", "compute.py"}
    assert loaded - bookkeeping <= covered


# -- the layout (metadata, coordinates, consolidated metadata) is checked too ---------------
def set_coordinate(store: Path, name: str, index: int, value: float):
    import zarr

    root = zarr.open_group(str(store), mode="r+", zarr_format=2, use_consolidated=False)
    v = root[name][...]
    v[index] = value
    root[name][...] = v


def garbage(f: Path):
    f.write_text("garbage")


def truncate_half(f: Path):
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])


@pytest.mark.parametrize("damage,found", [
    (lambda s: set_coordinate(s, "alpha", 3, 1.777),
     "alpha: coordinate values differ from those recorded at creation"),
    (lambda s: garbage(s / "S" / ".zarray"), "S/.zarray: unreadable"),
    (lambda s: garbage(s / "P" / ".zattrs"), "P/.zattrs: unreadable"),
    (lambda s: truncate_half(s / ".zmetadata"), ".zmetadata: unreadable consolidated "
                                                 "metadata"),
])
def test_damaged_layout_found_by_verify_and_repaired_on_resume(tmp_path, capsys, damage,
                                                               found):
    """A changed coordinate value and a garbage S/.zarray used to pass --verify and resume;
    a truncated .zmetadata made an intact store unusable. Each is now damage: --verify
    reports it (exit 1) and says how to repair; the resume restores it from the record
    made at creation and the spec, then verifies the chunks by their checksums."""
    store = tmp_path / "s.zarr"
    assert sweep_cli(tmp_path, capsys)[0] == 0
    damage(store)
    assert main(["sweep", "--verify", str(store)]) == 1
    out, err = capsys.readouterr()
    assert "layout damaged in 1 place(s)" in out
    assert f"damaged: {found}" in err and "restore its layout" in err
    code, out, err = sweep_cli(tmp_path, capsys)
    assert code == 0, err
    assert f"repaired the store's layout from its record: {found}" in err
    assert "0 points computed, 12 reused, 0 failed" in out
    assert main(["sweep", "--verify", str(store)]) == 0
    capsys.readouterr()
    ds = xr.open_zarr(store).load()
    np.testing.assert_array_equal(ds["alpha"].values, ALPHA)
    assert_matches_reference(store)


def test_stale_partial_folder_of_a_dead_creator_is_removed(tmp_path, capsys):
    """A creation killed mid-way left .NAME.zarr.partial-PID-* behind; the next creation
    removes those of dead processes (and leaves a live one's)."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = tmp_path / f".s.zarr.partial-{dead}-0123abcd"
    live = tmp_path / f".s.zarr.partial-{os.getpid()}-4567abcd"
    stale.mkdir()
    live.mkdir()
    assert sweep_cli(tmp_path, capsys)[0] == 0
    assert not stale.exists() and live.exists()


def test_workers_die_with_their_driver(tmp_path):
    """SIGKILL of the driver alone used to leave both pool workers running; they now exit
    within a second of their driver's death."""
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    env = dict(os.environ, **{CHUNK_DELAY_ENV: "5"})  # the workers are busy when it dies
    proc = subprocess.Popen([sys.executable, "-m", "catbell_qutip", "sweep", str(spec),
                             "--out", str(tmp_path / "s.zarr"), "--workers", "2",
                             "--no-progress"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)

    def children(pid):
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    try:
        deadline = time.monotonic() + 60
        while len(workers := children(proc.pid)) < 2:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)  # the driver only, not its process group
        proc.wait()

    def alive(pid):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        with open(f"/proc/{pid}/stat") as fh:  # a zombie until reaped by init is gone
            return fh.read().split(")")[-1].split()[0] != "Z"

    deadline = time.monotonic() + 10
    while any(alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [w for w in workers if alive(w)]
    for w in left:
        os.kill(w, signal.SIGKILL)
    assert not left, f"workers {left} outlived their driver"
