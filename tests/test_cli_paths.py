"""Bad ``--out`` paths are refused by every subcommand before any work: exit 2, one line,
no traceback, nothing written (one shared check, :func:`catbell_qutip._checks.check_out_dir`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from catbell_qutip._checks import check_out_dir
from catbell_qutip.cli import advantage as adv_cli
from catbell_qutip.cli import main
from catbell_qutip.cli import repeater as rep_cli
from catbell_qutip.cli import reproduce as repro_cli
from catbell_qutip.cli import thresholds as thr_cli

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sweep_example.toml"

#: subcommand argv (before --out) and the function that does its work
COMMANDS = {
    "reproduce": (["reproduce", "--quick", "--no-progress"], repro_cli, "reproduce"),
    "thresholds": (["thresholds", "--model-table", "--no-progress"], thr_cli, "calibrate_t0"),
    "advantage": (["advantage", "--no-progress"], adv_cli, "advantage_map"),
    "repeater": (["repeater", "--no-progress"], rep_cli, "scan"),
}


def _no_work(monkeypatch, name):
    argv, mod, fn = COMMANDS[name]

    def boom(*a, **k):
        raise AssertionError(f"catbell {name} started working before refusing --out")

    monkeypatch.setattr(mod, fn, boom)
    return argv


def _bad_paths(tmp_path):
    f = tmp_path / "a_file.txt"
    f.write_text("keep me")
    return {
        "existing file": (str(f), "is an existing file, not a folder"),
        "below a file": (str(f / "sub"), "is a file, so the folder cannot be created"),
        "unwritable": ("/proc/catbell-nowrite", "is not writable"),
        "empty": ("", "--out is empty"),
    }


@pytest.mark.parametrize("name", sorted(COMMANDS))
@pytest.mark.parametrize("case", ["existing file", "below a file", "unwritable", "empty"])
def test_bad_out_refused_before_work(name, case, tmp_path, capsys, monkeypatch):
    if case == "unwritable" and not Path("/proc").is_dir():  # pragma: no cover
        pytest.skip("no /proc")
    monkeypatch.chdir(tmp_path)
    argv = _no_work(monkeypatch, name)
    path, fragment = _bad_paths(tmp_path)[case]
    before = sorted(os.listdir(tmp_path))
    assert main([*argv, "--out", path]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"catbell {name}: error: --out ") and err.count("\n") == 1, err
    assert fragment in err and "Traceback" not in err
    assert sorted(os.listdir(tmp_path)) == before
    assert (tmp_path / "a_file.txt").read_text() == "keep me"


def test_sweep_unwritable_store_says_so_not_disk_space(capsys):
    if not Path("/proc").is_dir():  # pragma: no cover
        pytest.skip("no /proc")
    assert main(["sweep", str(EXAMPLE), "--out", "/proc/catbell-nowrite/s.zarr",
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "is not writable" in err and "GiB" not in err and err.count("\n") == 1


def test_sweep_empty_out_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", str(EXAMPLE), "--out", "", "--no-progress"]) == 2
    assert "--out is empty" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


def test_thresholds_out_needs_model_table(tmp_path, capsys):
    assert main(["thresholds", "--out", str(tmp_path / "x")]) == 2
    assert "--out only applies to --model-table" in capsys.readouterr().err


def test_check_out_dir_accepts_and_leaves_no_trace(tmp_path):
    target = tmp_path / "new" / "deeper"
    assert check_out_dir(target) == target
    assert os.listdir(tmp_path) == []
    assert check_out_dir(tmp_path) == tmp_path and os.listdir(tmp_path) == []
