"""Ctrl-C on a long command: exit code 130, one line on stderr, no partial output.

Each command runs in a subprocess in its own process group, as in a terminal, and gets
SIGINT on the whole group (what Ctrl-C sends) once it is computing: once it and its
workers have used more CPU time than ``catbell --version`` needs to start (every import),
or, for commands that write files as they go, once the first file is in the output folder.
The load of the machine then does not decide whether the signal lands during the work.
Cost: about 25 s of CPU time for the seven commands (most of it their imports).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from catbell_qutip.cli import EXIT_INTERRUPTED
from catbell_qutip.cli._common import staged_output

TICK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    """User + system CPU time of a running process and its running children, in s
    (Linux /proc; a process pool's workers are children)."""
    total = 0.0
    for task in (pid, *_children(pid)):
        try:
            fields = Path(f"/proc/{task}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    return [int(c) for c in text.split()]


@pytest.fixture(scope="module")
def startup_cpu_s(tmp_path_factory) -> float:
    """CPU time ``catbell`` needs to start (every import, the parser): ``--version``."""
    before = os.times()
    subprocess.run([sys.executable, "-m", "catbell_qutip", "--version"], capture_output=True,
                   check=True, cwd=tmp_path_factory.mktemp("startup"))
    after = os.times()
    return (after.children_user - before.children_user
            + after.children_system - before.children_system)


def _interrupt(argv, cwd, ready, timeout=300.0):
    """Run ``catbell argv`` in ``cwd``; SIGINT its process group once ``ready(proc)``."""
    proc = subprocess.Popen([sys.executable, "-m", "catbell_qutip", *argv], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    start = time.monotonic()
    try:
        while proc.poll() is None and not ready(proc):
            if time.monotonic() - start > timeout:
                raise AssertionError(f"catbell {' '.join(argv)} never got to work")
            time.sleep(0.05)
        assert proc.poll() is None, f"finished before the interrupt: {proc.communicate()}"
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for pipe in (proc.stdout, proc.stderr):  # also after a timeout: no ResourceWarning
            pipe.close()                          # in the next test
    return proc.returncode, out, err


def _busy(need_s: float):
    """Ready once the process (with its workers) has used ``need_s`` of CPU time."""
    return lambda proc: _cpu_s(proc.pid) > need_s


def _files_in(folder: Path):
    """Ready once a file exists somewhere below ``folder`` (the staging folder)."""
    def ready(proc):
        return folder.exists() and any(p.is_file() for p in folder.rglob("*"))
    return ready


# (argv, output folder or None, how to know it is working); small enough to start
# quickly, large enough to be still at work when the signal comes
CASES = {
    "reproduce": (["reproduce", "--quick", "--no-progress", "--out", "out"], "out", "files"),
    "advantage": (["advantage", "--out", "out", "--no-progress", "--processes", "2",
                   "--no-thresholds"], "out", "busy"),
    "repeater": (["repeater", "--out", "out", "--no-progress", "--num-lengths", "200"], "out",
                 "busy"),
    "thresholds": (["thresholds", "--model-table", "--out", "out", "--no-progress"], "out",
                   "busy"),
    "bench-convergence": (["bench", "convergence", "--out", "out"], "out", "files"),
    "finite-key": (["finite-key", "--out", "out", "--no-progress"], "out", "busy"),
    "codes": (["codes", "--quick", "--out", "out", "--no-progress", "--workers", "2"], "out",
              "busy"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_ctrl_c_exits_130_with_one_line_and_no_partial_output(name, tmp_path,
                                                                startup_cpu_s):
    argv, out, how = CASES[name]
    ready = _files_in(tmp_path / out) if how == "files" else _busy(startup_cpu_s + 0.5)
    code, stdout, err = _interrupt(argv, tmp_path, ready)
    assert code == EXIT_INTERRUPTED, (code, err[-2000:])
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "interrupted (Ctrl-C)" in lines[0], err[-2000:]
    assert lines[0].startswith(f"catbell {argv[0]}")
    assert "Traceback" not in err
    # nothing that looks like a finished run: not even the output folder
    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    assert left == [], left


def test_interrupt_keeps_an_earlier_complete_run(tmp_path):
    """An interrupted rerun leaves the files of the earlier complete run as they were."""
    out = tmp_path / "res"
    with staged_output(out) as stage:
        (stage / "fig.png").write_text("complete run")
    with pytest.raises(KeyboardInterrupt, match=r"left as it was \(partial files removed\)"):
        with staged_output(out) as stage:
            (stage / "fig.png").write_text("half")
            (stage / "new.csv").write_text("half")
            raise KeyboardInterrupt
    assert sorted(p.name for p in out.iterdir()) == ["fig.png"]
    assert (out / "fig.png").read_text() == "complete run"


def test_failed_run_removes_the_folders_it_created(tmp_path):
    """An error inside the block removes the staging folder and the folders made for it."""
    with pytest.raises(RuntimeError):
        with staged_output(tmp_path / "a" / "b") as stage:
            (stage / "x").write_text("partial")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def _run_fake_command(main_body: str, command: str, tmp_path):
    """``catbell command`` through console_main with ``main`` replaced by ``main_body``
    (the source of a function ``main()``); returns (completed process, wall seconds)."""
    script = ("import os, signal, subprocess, sys, time\n"
              "import catbell_qutip.cli as cli\n"
              f"{main_body}"
              "cli.main = main\n"
              f"sys.argv = ['catbell', '{command}']\n"
              "cli.console_main()\n")
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    return proc, time.monotonic() - start


def _one_interrupted_line(proc, command: str) -> None:
    assert proc.returncode == EXIT_INTERRUPTED, (proc.returncode, proc.stderr[-2000:])
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines == [f"catbell {command}: interrupted (Ctrl-C)"], proc.stderr[-2000:]


def test_interrupt_swallowed_in_a_finaliser_still_stops_with_one_line(tmp_path):
    # A Ctrl-C that lands inside a __del__ (or an at-fork hook) is swallowed by Python,
    # which prints "Exception ignored in ..." and a traceback and carries on: the command
    # must stop at once with its one line and exit code 130 instead.
    proc, wall = _run_fake_command(
        "class Finaliser:\n"
        "    def __del__(self):\n"
        "        raise KeyboardInterrupt\n"
        "def main():\n"
        "    Finaliser()\n"
        "    time.sleep(60)\n"
        "    return 0\n", "simulate", tmp_path)
    _one_interrupted_line(proc, "simulate")
    assert wall < 50  # stopped, not after the 60 s of work


def test_interrupt_turned_into_another_error_still_stops_with_one_line(tmp_path):
    # A Ctrl-C that lands while an extension module initialises (a lazy import of
    # matplotlib's or SciPy's pybind11 modules) comes out as "ImportError: initialization
    # failed" with the KeyboardInterrupt lost: CI met it once on `catbell repeater`. Any
    # error after a Ctrl-C must end as the interrupt: one line, exit code 130.
    proc, _ = _run_fake_command(
        "def main():\n"
        "    try:\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "        time.sleep(60)\n"
        "    except KeyboardInterrupt:\n"
        "        raise ImportError('initialization failed') from None\n"
        "    return 0\n", "repeater", tmp_path)
    _one_interrupted_line(proc, "repeater")


@pytest.mark.parametrize("name", ["reproduce", "advantage"])
def test_interrupted_line_comes_after_the_progress_bar_on_its_own_line(name, tmp_path,
                                                                       startup_cpu_s):
    # with the progress bar on: the bar's last redraw must not run into the line nor come
    # after it (a bar closed by its finaliser redrew itself after the message)
    argv, out, how = CASES[name]
    argv = [a for a in argv if a != "--no-progress"]
    ready = _files_in(tmp_path / out) if how == "files" else _busy(startup_cpu_s + 0.5)
    code, _, err = _interrupt(argv, tmp_path, ready)
    assert code == EXIT_INTERRUPTED, (code, err[-2000:])
    lines = [ln for ln in err.splitlines() if ln.strip()]  # splits at the bar's \r too
    assert lines and lines[-1].startswith(f"catbell {name}: interrupted (Ctrl-C)"), err[-2000:]
    assert sum("interrupted (Ctrl-C)" in ln for ln in lines) == 1, err[-2000:]
    assert "Traceback" not in err


def test_interrupt_kills_a_child_multiprocessing_does_not_know(tmp_path):
    # a worker forked just as the Ctrl-C arrives is not registered with multiprocessing yet
    # (CI met one on `catbell advantage`: it held the output pipe open after exit 130); any
    # child of the command must be killed
    proc, wall = _run_fake_command(  # the sleeping child inherits the output pipes
        "def main():\n"
        "    child = subprocess.Popen(['sleep', '60'])\n"
        "    print(child.pid, flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    time.sleep(60)\n"
        "    return 0\n", "advantage", tmp_path)
    _one_interrupted_line(proc, "advantage")
    assert wall < 50  # the pipes closed: the sleeping child is gone
    pid = int(proc.stdout.split()[0])
    for _ in range(100):  # killed: gone, or a zombie where nothing reaps orphans
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            break
        if state == "Z":
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"child {pid} still running after the interrupt")
