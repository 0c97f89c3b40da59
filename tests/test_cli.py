"""The ``catbell`` command line, end to end (in-process, and once through the real entry point)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from catbell_qutip import simulate
from catbell_qutip.cli import main


def test_simulate_json_has_the_keys(capsys):
    assert main(["simulate", "--loss-order", "1", "--alpha", "1.2", "--eta", "0.7", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("P", "F", "S", "cutoff", "truncation_error", "engine", "Q", "params"):
        assert key in out
    ref = simulate(1, 1.2, 0.7)
    assert out["engine"] == "fock" and abs(out["S"] - ref.S) < 1e-15
    assert out["truncation_error"] <= 1e-12 and isinstance(out["cutoff"], int)


def test_simulate_table(capsys):
    assert main(["simulate", "--loss-order", "0", "--alpha", "1", "--engine", "coherent"]) == 0
    text = capsys.readouterr().out
    assert "CHSH" in text and "none (truncation-free)" in text


@pytest.mark.parametrize("argv,fragment", [
    (["--loss-order", "2", "--alpha", "1"], "loss_order must be of the form"),
    (["--loss-order", "1", "--alpha", "1", "--eta", "1.5"], "eta = 1.5 is outside"),
    (["--loss-order", "1", "--alpha", "-1"], "alpha = -1 is outside"),
    (["--loss-order", "1", "--alpha", "3", "--cutoff", "5"], "use cutoff >="),
    (["--loss-order", "1"], "give --alpha"),
    (["--loss-order", "1", "--alpha", "1", "--preset", "nope"], "unknown preset"),
    (["--loss-order", "1", "--alpha", "1", "--eta-int", "2"], "eta_int = 2 is outside"),
])
def test_bad_input_exits_2_with_one_line(argv, fragment, capsys):
    assert main(["simulate", *argv]) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1


def test_flag_beats_config_beats_preset(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("loss_order = 1\nalpha = 1.1\neta_int = 0.9\neta_d = 0.8\n")
    argv = ["simulate", "--preset", "table1", "--config", str(cfg), "--eta-d", "0.5",
            "--engine", "coherent", "--json"]
    assert main(argv) == 0
    p = json.loads(capsys.readouterr().out)["params"]
    assert p["eta_int"] == 0.9 and p["eta_d"] == 0.5 and p["eta_uc"] == 0.05
    cfg.write_text("alpha = 1.0\nnot_a_field = 3\n")
    assert main(["simulate", "--config", str(cfg), "--loss-order", "1"]) == 2
    assert "unknown parameter 'not_a_field'" in capsys.readouterr().err


def test_every_parameter_flag(capsys):
    argv = ["simulate", "--loss-order", "1", "--alpha", "1.3", "--eta", "0.95", "--length-km",
            "2", "--db-per-km", "0.25", "--eta-int", "0.97", "--eta-dc", "0.9", "--eta-uc", "0.8",
            "--eta-d", "0.9", "--t-c", "0.01", "--t0", "1e-6", "--usd", "linear", "--encoder",
            "explicit", "--p-dark", "0.001", "--engine", "coherent", "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    ref = simulate(1, 1.3, 0.95, engine="coherent", length_km=2, db_per_km=0.25, eta_int=0.97,
                   eta_dc=0.9, eta_uc=0.8, eta_d=0.9, t_c_s=0.01, t0_s=1e-6, usd="linear",
                   encoder="explicit", p_dark=0.001)
    assert out["S"] == ref.S and out["Q"] == ref.Q > 0


def test_console_entry_point():
    proc = subprocess.run([sys.executable, "-m", "catbell_qutip", "simulate", "--loss-order", "1",
                           "--alpha", "1.2", "--eta", "0.7", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert set(json.loads(proc.stdout)) >= {"P", "F", "S", "cutoff", "truncation_error", "engine"}


def test_rates_in_json_follow_the_timing_preset(capsys):
    """R_eg = P / max(L / c_f, t0) (paper's eq. 8); the Fig. 4 timing preset sets t0."""
    from catbell_qutip.keyrate import binary_entropy

    argv = ["simulate", "--loss-order", "0", "--alpha", "0.67", "--length-km", "10",
            "--engine", "coherent", "--json"]
    assert main(argv) == 0
    fast = json.loads(capsys.readouterr().out)
    assert abs(fast["R_eg_hz"] - fast["P"] / (10e3 / 2e8)) <= 1e-9 * fast["R_eg_hz"]
    assert main([*argv, "--preset", "timing-fig4"]) == 0
    slow = json.loads(capsys.readouterr().out)
    t0 = slow["params"]["t0_s"]
    assert abs(slow["R_eg_hz"] - slow["P"] / t0) <= 1e-9 * slow["R_eg_hz"]
    S = slow["S"]
    chi = binary_entropy((1 + ((S / 2) ** 2 - 1) ** 0.5) / 2)
    assert abs(slow["key_rate_bit_s"] - slow["R_eg_hz"] * (1 - chi)) <= 1e-9 * slow["R_eg_hz"]
    assert main(["simulate", "--loss-order", "0", "--alpha", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["R_eg_hz"] is None
