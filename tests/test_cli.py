"""The ``catbell`` command line, end to end (in-process, and once through the real entry point)."""

from __future__ import annotations

import json
import re
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
    (["--loss-order", "2", "--alpha", "1"], "--loss-order must be of the form"),
    (["--loss-order", "1", "--alpha", "1", "--eta", "1.5"], "eta = 1.5 is outside"),
    (["--loss-order", "1", "--alpha", "-1"], "alpha = -1 is outside"),
    (["--loss-order", "1", "--alpha", "3", "--cutoff", "5"], "use --cutoff >="),
    (["--loss-order", "1"], "give --alpha"),
    (["--loss-order", "1", "--alpha", "1", "--preset", "nope"], "unknown preset"),
    (["--loss-order", "1", "--alpha", "1", "--eta-int", "2"], "--eta-int = 2 is outside"),
    # tol is a probability mass in (0, 1): --tol 5 used to run with a wrong cutoff
    (["--loss-order", "1", "--alpha", "1", "--tol", "5"],
     "--tol = 5 is outside the allowed range (0.0, 1.0)"),
    (["--loss-order", "1", "--alpha", "1", "--tol", "0"], "--tol = 0 is outside"),
    (["--loss-order", "1", "--alpha", "1", "--cutoff", "5", "--engine", "coherent"],
     "--cutoff = 5 applies to --engine fock only"),
    (["--loss-order", "1", "--alpha", "1e308"], "--alpha = 1e+308 is outside"),
    # Fock resolution floor: the hint names the flag, not the Python argument
    (["--loss-order", "3", "--alpha", "1.5", "--preset", "table1", "--length-km", "5",
      "--usd", "linear"], "use --engine coherent, whose click effects keep their precision "
                          "at small P (tested down to P ~ 1e-245)"),
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


@pytest.mark.parametrize("argv,what,way_out", [
    (["--alpha", "50", "--eta", "0.7"], "the Fock engine at alpha = 50", "--engine coherent"),
    (["--alpha", "30", "--eta", "0.7"], "the Fock engine at alpha = 30", "--engine coherent"),
    # a cutoff the user gave is the cause: the way out is a smaller one
    (["--alpha", "1", "--cutoff", "100000"], "the Fock engine at cutoff 100000",
     "give a smaller --cutoff, or no --cutoff for the automatic rule"),
    # the coherent engine cannot run l = 1023 either (~2e3 GiB): not offered as the way out
    (["--loss-order", "1023", "--alpha", "1"], "the Fock engine at cutoff", "give a lower "
     "--loss-order: the coherent engine cannot run this point either"),
    (["--loss-order", "18446744073709551615", "--alpha", "1"], "the Fock engine at alpha = 1",
     "give a lower --loss-order: the coherent engine cannot run this point either"),
    (["--loss-order", "1023", "--alpha", "1", "--engine", "coherent"],
     "the coherent engine on 1 point(s)", "a lower --loss-order"),
])
def test_memory_guard_exits_2_before_any_work(argv, what, way_out, capsys, monkeypatch):
    """Runs that would ask for tens of GiB (or a MemoryError) stop at once, naming the
    estimate, the limit and the way out in flags. The limit is pinned to 8 GiB."""
    monkeypatch.setenv("CATBELL_MAX_MEMORY_GB", "8")
    if "--loss-order" not in argv:
        argv = ["--loss-order", "1", *argv]
    assert main(["simulate", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and what in err and way_out in err
    assert "GiB of memory, more than the limit of 8 GiB" in err
    assert "engine='" not in err and "loss_order" not in err  # CLI terms only
    if "cannot run this point either" in way_out:
        assert "--engine coherent" not in err


def test_toml_boolean_is_not_a_number(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("loss_order = 1\nalpha = true\n")
    assert main(["simulate", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    # the value comes from the file: named by its key, in TOML's spelling
    assert f"config file {str(cfg)!r}: alpha = true: a boolean is not a number" in err


def test_binary_config_file_names_the_file(tmp_path, capsys):
    cfg = tmp_path / "bin.toml"
    cfg.write_bytes(bytes(range(128, 256)))
    assert main(["simulate", "--config", str(cfg), "--loss-order", "1", "--alpha", "1"]) == 2
    err = capsys.readouterr().err
    assert str(cfg) in err and "not UTF-8" in err and err.count("\n") == 1


def test_repeated_presets_layer_in_order(capsys):
    """--preset A --preset B: B beats A where both set a field, A's other fields stay."""
    from catbell_qutip.params import preset

    a, b = preset("table1"), preset("timing-fig4")
    assert set(b) - set(a) and not set(b) & {"eta_dc", "eta_uc"}
    base = ["simulate", "--loss-order", "0", "--alpha", "0.67", "--engine", "coherent", "--json"]
    assert main([*base, "--preset", "table1", "--preset", "timing-fig4"]) == 0
    p = json.loads(capsys.readouterr().out)["params"]
    for k, v in {**a, **b}.items():
        assert p[k] == v, k
    assert main([*base, "--preset", "table1", "--preset", "ideal"]) == 0
    p = json.loads(capsys.readouterr().out)["params"]
    for k, v in preset("ideal").items():
        assert p[k] == (v if not isinstance(v, float) or v != float("inf") else None), k


def test_p_zero_point_prints_undefined_and_json_null(capsys):
    """alpha = 0 (no light) and a subnormal P (alpha = 1e-78) cannot herald: P = 0, and F,
    S, Q are undefined (null in JSON, never NaN), exit 0."""
    for alpha in ("0", "1e-78"):
        assert main(["simulate", "--loss-order", "1", "--alpha", alpha, "--engine", "coherent",
                     "--json"]) == 0
        text = capsys.readouterr().out
        assert "NaN" not in text and "Infinity" not in text
        out = json.loads(text)
        assert out["P"] == 0.0 and out["F"] is None and out["S"] is None and out["Q"] is None
    assert main(["simulate", "--loss-order", "1", "--alpha", "0"]) == 0
    assert "undefined (P = 0" in capsys.readouterr().out


def test_large_alpha_linear_usd_is_finite(capsys):
    """l = 3, linear USD, alpha = 150 used to give P = nan and a "vacuum" message."""
    assert main(["simulate", "--loss-order", "3", "--alpha", "150", "--usd", "linear",
                 "--engine", "coherent", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert 0.0 <= out["P"] <= 1.0 and abs(out["P"] - 1.0) < 1e-9
    assert 0.0 <= out["Q"] <= 1.0 and 2.0 - 1e-9 <= out["S"] <= 2 * 2 ** 0.5


def test_version(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"catbell {version('catbell_qutip')}"


def test_cli_message_translates_api_terms():
    from catbell_qutip._checks import ParameterError
    from catbell_qutip.cli import cli_message

    msg = cli_message(ValueError("x; use engine='coherent' or usd='tub'"))
    assert msg == "x; use --engine coherent or --usd tub"
    msg = cli_message(ParameterError("t_c_s = 0 s is outside", "t_c_s"))
    assert msg == "--t-c = 0 s is outside"
    assert "--cutoff >= 12 (or no --cutoff" in cli_message(
        ValueError("use cutoff >= 12 (or cutoff=None for the automatic rule)"))


# -- QA pass: one-line errors in command-line terms ------------------------------------------
@pytest.mark.parametrize("argv,fragment", [
    (["simulate", "--engine", "gpu"], "argument --engine: invalid choice: 'gpu'"),
    (["simulate", "--loss-order", "1.5"], "argument --loss-order: not an integer: '1.5'"),
    (["thresholds", "--parameters", "foo"], "argument --parameters: invalid choice: 'foo'"),
    (["reproduce", "--engine", "gpu"], "argument --engine: invalid choice: 'gpu'"),
    (["simulate", "--bogus"], "unrecognized arguments: --bogus"),
])
def test_argparse_errors_are_one_line(argv, fragment, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err == f"catbell {argv[0]}: error: {fragment}" + err[err.index(fragment)
                                                                + len(fragment):]
    assert err.count("\n") == 1 and "usage:" not in err
    assert err.rstrip().endswith(f"(see catbell {argv[0]} --help)")


def _error(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_advantage_axis_example_is_a_valid_option(capsys):
    err = _error(["advantage", "--out", "unused", "--x", "eta_int=0.8:1"], capsys)
    assert "--x eta_int=0.8:1:" in err and "(e.g. --x eta_int=0.8:1:40)" in err
    assert "--eta-int" not in err


def test_repeater_alpha_max_is_checked_itself(capsys):
    err = _error(["repeater", "--alpha-max", "1e6", "--no-progress"], capsys)
    assert "--alpha-max = 1e+06 is outside the allowed range (0.0, 1000.0]" in err
    assert "12500" not in err and "--alpha " not in err


def test_sweep_binary_spec_is_named(tmp_path, capsys):
    spec = tmp_path / "binary.toml"
    spec.write_bytes(b"\xff\xfe\x00\x81")
    err = _error(["sweep", str(spec), "--out", str(tmp_path / "x.zarr")], capsys)
    assert str(spec) in err and "not UTF-8" in err
    assert not (tmp_path / "x.zarr").exists()


@pytest.mark.parametrize("orders", ["0", "2"])
def test_thresholds_loss_orders_checked_before_the_bar(orders, capsys, monkeypatch):
    import catbell_qutip.cli.thresholds as thr

    monkeypatch.setattr(thr, "reference_S", lambda *a, **k: pytest.fail("work started"))
    err = _error(["thresholds", "--loss-orders", orders], capsys)
    assert err.startswith(f"catbell thresholds: error: --loss-orders {orders}:")
    assert "loss_order" not in err and "--loss-order " not in err and "%|" not in err


def test_thresholds_unreachable_rate_in_flag_terms(capsys):
    err = _error(["thresholds", "--rate-hz", "1e12", "--no-progress"], capsys)
    assert "--rate-hz" in err and "rate_hz" not in err and "loss_order" not in err


def test_simulate_memory_advice_names_flags(capsys):
    err = _error(["simulate", "--loss-order", "1023", "--alpha", "1", "--engine",
                  "coherent"], capsys)
    assert "--loss-order" in err and "loss_order" not in err and "per call" not in err


@pytest.mark.parametrize("argv,advice", [
    (["--code", "squeezed-cat", "--squeezing", "1", "--alpha", "30", "--loss-order", "7"],
     "use a smaller --alpha or --squeezing"),
    (["--alpha", "40", "--loss-order", "15", "--engine", "fock"],
     "use --engine coherent, which needs no cutoff, or a smaller --alpha"),
])
def test_fock_memory_advice_names_the_flags_to_change(argv, advice, capsys):
    """The Fock engine's memory refusal advised "use a smaller alpha or squeezing" on the
    command line: the parameters to change are named by their flags (translated by
    cli_message, the one place, from the library's words)."""
    err = _error(["simulate", *argv], capsys)
    assert err.rstrip().endswith(advice), err
    assert not re.search(r"smaller (alpha|squeezing)", err), err


def test_a_flag_value_that_names_a_parameter_stays_a_value(tmp_path, capsys):
    """`catbell advantage --x eta_c` (no =values) was echoed as "--x --eta-c": the axis name
    after its flag was translated as if it were the --eta-c flag."""
    err = _error(["advantage", "--x", "eta_c", "--no-progress", "--out",
                  str(tmp_path / "a")], capsys)
    assert err.startswith("catbell advantage: error: --x eta_c: give NAME=START:STOP:NUM"), err
    assert "--eta-c" not in err


def test_config_boolean_names_the_key(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("alpha = true\n")
    err = _error(["simulate", "--loss-order", "1", "--config", str(cfg)], capsys)
    assert "alpha = true: a boolean is not a number" in err and "--alpha" not in err


def test_sweep_spec_boolean_speaks_toml(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text('engine = "coherent"\noutputs = ["S"]\n[fixed]\nalpha = true\n'
                    '[axes]\neta = [0.5, 0.6]\nloss_order = [0]\n')
    err = _error(["sweep", str(spec), "--out", str(tmp_path / "s.zarr")], capsys)
    assert "fixed.alpha = true: a boolean is not a number" in err and "True" not in err


def test_sweep_nothing_left_to_compute_says_so(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text('engine = "coherent"\noutputs = ["S"]\n[fixed]\nalpha = 1.0\n'
                    '[axes]\neta = [0.5, 0.6]\nloss_order = [0]\n')
    argv = ["sweep", str(spec), "--out", str(tmp_path / "s.zarr"), "--workers", "1",
            "--no-progress"]
    assert main(argv) == 0
    capsys.readouterr()
    assert main([*argv, "--force"]) == 0
    out = capsys.readouterr().out
    assert "nothing to compute: every chunk is already stored and verified" in out
    assert "s on nothing" not in out


def _help_text(command, capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("command", ["thresholds", "advantage"])
def test_help_shows_the_commands_own_defaults(command, capsys):
    from catbell_qutip.params import preset

    text = _help_text(command, capsys)
    base = preset("repro-base")
    assert "fibre length L, in km (default 5.0)" in text
    assert "(default 0.0)" not in text.split("--length-km LENGTH_KM", 2)[-1][:80]
    for field in ("eta_int_placement", "encoder"):
        assert f"(default: preset repro-base: {base[field]})" in text
    assert "(default after)" not in text


def test_repeater_help_leaves_out_the_refused_length_flag(capsys):
    assert "--length-km " not in _help_text("repeater", capsys)


# -- size guards, before any work -------------------------------------------------------------
def test_repeater_refuses_too_many_segments(capsys, monkeypatch):
    import catbell_qutip.cli.repeater as rep

    monkeypatch.setattr(rep, "scan", lambda *a, **k: pytest.fail("work started"))
    err = _error(["repeater", "--segments", "100000", "--no-progress"], capsys)
    assert "--segments = 100000 is outside the allowed range [1, 1024]" in err
    err = _error(["repeater", "--segments", "1024", "--no-progress"], capsys)
    assert "would take about" in err and " h " in err and "--num-lengths" in err


def test_advantage_refuses_a_huge_axis_on_the_plain_path(tmp_path, capsys):
    err = _error(["advantage", "--x", "eta_int=0.8:1:100000", "--out", str(tmp_path / "a"),
                  "--no-progress"], capsys)
    assert "--x axis 'eta_int' has 100000 points" in err and "--workers N" in err
    assert " h on " in err
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize("text,flags,fragment", [
    # a bad value in a config file is named by file and key, not by a flag never typed
    ("loss_order = 1.5\nalpha = 1.0\n", [], "config file '{f}': loss_order must be an integer"),
    ('loss_order = 1\nalpha = 1.0\neta = "0.5"\n', [], "config file '{f}': eta must be a "
                                                       "number, got '0.5'"),
    # an invalid table is refused even where a flag overrides the key
    ("loss_order = 1\n[alpha]\nstart = 1\n", ["--alpha", "1"],
     "config file '{f}': alpha must be a number"),
    # a list is not taken as a grid (the API's "use evaluate()" is not CLI advice)
    ("loss_order = 1\nalpha = [1.0, 2.0]\n", [], "config file '{f}': alpha must be a number"),
    # a rule between fields names the file's key and the flag that fixes it
    ("loss_order = 1\nalpha = 1.0\np_dark = 0.1\n", [],
     "config file '{f}': p_dark > 0 needs --usd linear"),
    ("loss_order = 1\nalpha = 1.0\n", ["--p-dark", "0.1"], "error: --p-dark > 0 needs --usd "
                                                           "linear"),
])
def test_config_file_errors_name_the_file_and_key(tmp_path, capsys, text, flags, fragment):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    assert main(["simulate", "--config", str(cfg), *flags]) == 2
    err = capsys.readouterr().err
    assert fragment.format(f=str(cfg)) in err and err.count("\n") == 1, err
    if not flags:
        assert "--loss-order" not in err and "--eta " not in err and "evaluate()" not in err


# -- refused before any work, in the command's terms ----------------------------------------
def test_thresholds_huge_grid_is_refused_before_any_work(capsys, monkeypatch):
    """--grid 1000000000 ran past 60 s and gigabytes: refused with the estimate, the limit
    and the way out, before the scan starts."""
    import catbell_qutip.cli.thresholds as thr

    monkeypatch.setattr(thr, "reference_S", lambda *a, **k: pytest.fail("work started"))
    monkeypatch.setattr(thr, "calibrate_t0", lambda *a, **k: pytest.fail("work started"))
    for extra in ([], ["--model-table"]):
        err = _error(["thresholds", "--grid", "1000000000", "--no-progress", *extra], capsys)
        assert "would take about" in err and "more than the limit of 1 h" in err
        assert "CATBELL_MAX_HOURS" in err and "give a smaller --grid" in err
        assert "n_grid" not in err
    err = _error(["thresholds", "--grid", "1"], capsys)
    assert "--grid = 1 is outside the allowed range [2, inf)" in err


@pytest.mark.parametrize("n", ["100000000", "1000000"])
def test_advantage_huge_key_alpha_grid_is_refused_before_any_work(n, tmp_path, capsys,
                                                                  monkeypatch):
    """--n-key-alpha 1e8 ran past 60 s and gigabytes (1e6 on a 3 x 3 map: > 9 min)."""
    import catbell_qutip.advantage.compute as comp

    monkeypatch.setattr(comp, "_plain", lambda *a, **k: pytest.fail("work started"))
    monkeypatch.setenv("CATBELL_MAX_HOURS", "0.1")
    err = _error(["advantage", "--out", str(tmp_path / "o"), "--no-progress",
                  "--n-key-alpha", n, "--x", "eta_int=0.9:1:3", "--y", "eta_c=0.9:1:3"],
                 capsys)
    assert "would take about" in err and "--n-key-alpha" in err and "n_key_alpha" not in err
    assert "more than the limit of 6 min" in err
    assert not (tmp_path / "o").exists()


def test_sweep_spec_that_is_a_folder_says_so(tmp_path, capsys):
    err = _error(["sweep", str(tmp_path), "--out", str(tmp_path / "x.zarr")], capsys)
    assert "is a folder, not a TOML file" in err and "does not exist" not in err


# -- help texts, presets, "did you mean" ------------------------------------------------------
def _help_raw(argv, capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0
    return capsys.readouterr().out


ALL_COMMANDS = [["simulate"], ["sweep"], ["thresholds"], ["reproduce"], ["bench"],
                ["bench", "convergence"], ["bench", "speed"], ["repeater"], ["advantage"],
                ["presets"], ["finite-key"], ["codes"]]


def test_every_command_is_in_the_help_tests():
    from catbell_qutip.cli import SUBCOMMANDS

    assert set(SUBCOMMANDS) == {c[0] for c in ALL_COMMANDS}


@pytest.mark.parametrize("argv", ALL_COMMANDS, ids=" ".join)
def test_help_never_breaks_a_name_at_its_hyphen(argv, capsys):
    """argparse wraps at hyphens by default ('repro-\\nfig4b'); every preset name and every
    flag must appear whole in the wrapped help."""
    from catbell_qutip.params import PRESETS

    raw = _help_raw(argv, capsys)
    words = raw.split()
    broken = [w for w in words if w.endswith("-") and w not in ("-", "--")]
    assert not broken, broken
    if "named preset:" in raw:  # the commands that list the presets
        flat = " ".join(words)
        for name in PRESETS():
            assert name in flat, name


@pytest.mark.parametrize("argv", ALL_COMMANDS, ids=" ".join)
def test_every_help_points_to_the_glossary(argv, capsys):
    from catbell_qutip.cli import ROOT_GLOSSARY

    flat = " ".join(_help_raw(argv, capsys).split())
    assert "docs/glossary.md" in flat and "USD, TUB" in flat
    assert ROOT_GLOSSARY.is_file()


def test_unset_efficiencies_show_their_defaults(capsys):
    """--eta-c, --eta-dc, --eta-uc default to None (unset), which means 1; say so."""
    flat = " ".join(_help_raw(["simulate"], capsys).split())
    for flag in ("--eta-c ETA_C", "--eta-dc ETA_DC", "--eta-uc ETA_UC"):
        after = flat.rsplit(flag, 1)[1][:160]  # the options list, after the usage
        assert "(default 1" in after, (flag, after)


def test_repeater_help_lists_strategies_and_rate_default(capsys):
    from catbell_qutip.repeater import STRATEGIES

    flat = " ".join(_help_raw(["repeater"], capsys).split())
    assert "--strategy {" + ",".join(STRATEGIES) + "}" in flat
    after = flat.rsplit("--rate-hz HZ", 1)[1][:160]
    assert "default" in after


def test_sweep_help_points_at_the_example_spec(capsys):
    from pathlib import Path

    flat = " ".join(_help_raw(["sweep"], capsys).split())
    assert "examples/sweep_example.toml" in flat
    assert (Path(__file__).resolve().parents[1] / "examples" / "sweep_example.toml").is_file()


@pytest.mark.parametrize("argv,suggestion", [
    (["simulat"], "did you mean simulate?"),
    (["simulate", "--loss-order", "1", "--alpah", "1"], "did you mean --alpha?"),
    (["simulate", "--loss-order", "1", "--alpha", "1", "--engine", "fokc"], "did you mean fock?"),
    (["bench", "convergnce"], "did you mean convergence?"),
    (["bench", "convergence", "--jsn"], "did you mean --json?"),
    (["repeater", "--segmets", "2"], "did you mean --segments?"),
    (["presets", "tabel1"], "did you mean table1?"),
])
def test_a_mistyped_name_gets_a_suggestion(argv, suggestion, capsys):
    with pytest.raises(SystemExit) as exc:
        code = main(argv)
        raise SystemExit(code)
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert suggestion in err and err.count("\n") == 1, err


def test_no_suggestion_for_a_far_word(capsys):
    with pytest.raises(SystemExit):
        main(["zzzzzz"])
    assert "did you mean" not in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--loss-orders", "--loss-order"])
def test_codes_loss_orders_is_not_taken_for_workers(flag, capsys):
    """catbell codes compares fixed loss orders: --loss-orders is no typo of --workers (the
    shared leading dashes made difflib call them close); the refusal says what codes does
    and which commands take loss orders, and suggests no flag of codes."""
    from catbell_qutip.codecompare import LOSS_ORDERS

    with pytest.raises(SystemExit) as exc:
        main(["codes", flag, "1"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1, err
    assert "did you mean" not in err and "--workers" not in err, err
    assert f"catbell codes takes no {flag}: it always compares l = " in err
    assert ", ".join(map(str, LOSS_ORDERS)) in err
    for command in ("advantage", "thresholds", "repeater"):  # named as taking --loss-orders
        assert command in err
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "--loss-orders" in capsys.readouterr().out


def test_flag_suggestions_ignore_the_shared_dashes():
    from catbell_qutip.cli._common import did_you_mean

    assert did_you_mean("--loss-orders", ["--workers", "--json", "--quick"]) == ""
    assert did_you_mean("--segmets", ["--segments", "--workers"]) == "; did you mean --segments?"


def test_presets_lists_every_preset_with_its_description(capsys):
    from catbell_qutip.params import PRESETS

    assert main(["presets"]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.strip()]
    listed = {ln.split()[0]: ln for ln in lines[:-1]}
    assert sorted(listed) == sorted(PRESETS())
    # the description is the file's own first comment sentence, not a copy kept here
    assert "Table I" in listed["table1"] and "Fig. 3(d)" in listed["repro-fig3d"]
    assert all(len(ln.split(None, 1)) == 2 for ln in listed.values())


@pytest.mark.parametrize("name", ["table1", "repro-fig3g", "ideal", "timing-fig4"])
def test_presets_name_prints_toml_of_every_value(name, capsys, tmp_path):
    """The printed text parses as TOML to exactly the preset's values, and works as a
    --config file: the same point with --config and with --preset agrees."""
    import tomllib

    from catbell_qutip.params import load_toml, preset

    assert main(["presets", name]) == 0
    text = capsys.readouterr().out
    tomllib.loads(text)  # valid TOML as printed
    cfg = tmp_path / "p.toml"
    cfg.write_text(text)
    assert load_toml(cfg) == preset(name)
    for field in ("eta", "p_dark"):  # what it leaves to the defaults is shown, commented
        if field not in preset(name):
            assert f"#   {field} = " in text
    base = ["simulate", "--loss-order", "1", "--alpha", "1.1", "--length-km", "3", "--engine",
            "coherent", "--json"]
    assert main([*base, "--config", str(cfg)]) == 0
    a = json.loads(capsys.readouterr().out)
    assert main([*base, "--preset", name]) == 0
    b = json.loads(capsys.readouterr().out)
    assert a == b


# -- simulate --rate-hz ------------------------------------------------------------------------
def test_simulate_rate_hz_solves_alpha_as_the_rate_solver(capsys):
    """--rate-hz gives the point at alpha_for_rate's alpha; R_eg there is the rate asked for."""
    from catbell_qutip.params import preset
    from catbell_qutip.rates import alpha_for_rate

    fields = {**preset("repro-fig3d"), "length_km": 5.0}
    alpha = alpha_for_rate(1, 3000.0, engine="coherent", **fields)
    assert main(["simulate", "--preset", "repro-fig3d", "--loss-order", "1", "--rate-hz",
                 "3000", "--length-km", "5", "--engine", "coherent", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["params"]["alpha"] == pytest.approx(alpha, rel=1e-12)
    assert got["R_eg_hz"] == pytest.approx(3000.0, rel=1e-9)
    ref = simulate(1, alpha, engine="coherent", **fields)
    assert got["S"] == pytest.approx(ref.S, abs=1e-12)
    assert main(["simulate", "--preset", "repro-fig3d", "--loss-order", "1", "--rate-hz",
                 "3000", "--length-km", "5", "--engine", "coherent"]) == 0
    assert "solved for R_eg = 3000 Hz" in capsys.readouterr().out


@pytest.mark.parametrize("argv,fragment", [
    (["--alpha", "1", "--rate-hz", "3000", "--length-km", "5"], "give --alpha or --rate-hz"),
    (["--rate-hz", "3000"], "give --length-km > 0 or --t0 > 0"),
    (["--rate-hz", "-1", "--length-km", "5"], "--rate-hz = -1 Hz is outside"),
    # above 1 / T = 40 000 Hz no amplitude helps (P <= 1): not blamed on --alpha-max
    (["--rate-hz", "1e9", "--length-km", "5"], "cannot exceed 1 / T = 40000 Hz"),
    (["--rate-hz", "30000", "--length-km", "5", "--alpha-max", "0.5"],
     "a larger --alpha-max may reach more"),
    (["--rate-hz", "3000", "--length-km", "5", "--alpha-max", "0"], "--alpha-max = 0 is"),
    (["--rate-hz", "inf", "--length-km", "5"], "--rate-hz = inf Hz is outside the allowed "
                                               "range (0.0, inf) Hz"),
    # the scan's end is bounded as alpha is, and named itself (it blamed --alpha = 1250)
    (["--rate-hz", "3000", "--length-km", "5", "--alpha-max", "1e4"],
     "--alpha-max = 10000 is outside the allowed range (0.0, 1000.0]"),
    (["--alpha", "1", "--alpha-max", "3"], "--alpha-max applies only with --rate-hz"),
])
def test_simulate_rate_hz_bad_input(argv, fragment, capsys):
    assert main(["simulate", "--loss-order", "1", "--engine", "coherent", *argv]) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1 and "Traceback" not in err, err
