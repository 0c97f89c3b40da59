"""Efficiency thresholds S_l(5 km) = S_0(5 km) at R_eg = 3000 Hz (docs/model.md section 6).

What is checked: the reported value is a genuine crossing (S_l and S_0 computed again
independently at the solved amplitudes agree there, and S_l - S_0 changes sign across
it); a missing crossing is reported as such, with no number; the ideal encoder, which
idealises the eta_int losses of Alice's encoding rounds, tolerates a lower eta_int.
"""

from __future__ import annotations

import json

import pytest

from catbell_qutip import simulate
from catbell_qutip.cli import main
from catbell_qutip.rates import alpha_for_rate
from catbell_qutip.thresholds import threshold

BASE = dict(length_km=5.0)


def S_at_rate(loss_order, **fields):
    """S of the code at 3000 Hz through simulate() on the Fock engine (an independent path)."""
    fields = dict(BASE, **fields)
    a = alpha_for_rate(loss_order, 3000.0, **fields)
    return simulate(loss_order, a, engine="fock", **fields).S


@pytest.mark.parametrize("parameter", ["eta_int", "eta_c"])
def test_threshold_is_a_crossing(parameter):
    th = threshold(parameter, 1, encoder="explicit")
    assert th.value is not None and 0 < th.value < 1
    x = th.value
    f = {parameter: x, "encoder": "explicit"}
    # dS/dx is O(1): a 1e-5 root leaves |S_1 - S_0| well below 1e-4
    assert abs(S_at_rate(1, **f) - S_at_rate(0, **f)) < 1e-4
    above = {parameter: min(x + 0.02, 1.0), "encoder": "explicit"}
    below = {parameter: x - 0.02, "encoder": "explicit"}
    assert S_at_rate(1, **above) > S_at_rate(0, **above)
    assert S_at_rate(1, **below) < S_at_rate(0, **below)


def test_ideal_encoder_tolerates_lower_eta_int():
    explicit = threshold("eta_int", 1, encoder="explicit", n_grid=12).value
    ideal = threshold("eta_int", 1, encoder="ideal", n_grid=12).value
    assert ideal < explicit


def test_no_crossing_is_said_not_invented():
    """Linear-optics USD, l = 1: if S_1 < S_0 already at eta_d = 1 (checked independently),
    there is no threshold and no number."""
    f = dict(usd="linear", eta_d=1.0, encoder="explicit")
    th = threshold("eta_d", 1, encoder="explicit", n_grid=10)
    if S_at_rate(1, **f) < S_at_rate(0, **f):
        assert th.value is None
        assert th.message.startswith("no crossing S_1(5 km) = S_0 at R_eg = 3000 Hz exists")
        assert "does not beat l = 0 even at eta_d (linear-optics USD) = 1" in th.message
    else:
        assert th.value is not None and 0 < th.value < 1


def test_threshold_errors():
    with pytest.raises(ValueError, match=r"parameter must be one of \['eta_c', 'eta_d', "):
        threshold("eta_x", 1)
    with pytest.raises(ValueError, match="loss_order = 0 is outside the allowed range"):
        threshold("eta_c", 0)


def test_cli_thresholds_json(capsys):
    assert main(["thresholds", "--parameters", "eta_c", "--loss-orders", "1",
                 "--grid", "8", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    (row,) = out["thresholds"]
    assert row["parameter"] == "eta_c" and row["loss_order"] == 1
    assert 0 < row["value"] < 1
    assert out["S_reference"]["l1"] > out["S_reference"]["l0"]
    assert main(["thresholds", "--parameters", "eta_c", "--loss-orders", "1",
                 "--grid", "8"]) == 0
    text = capsys.readouterr().out
    assert "eta_c" in text and f"{row['value']:.5f}" in text


def _strict_loads(text):
    def refuse(name):
        raise AssertionError(f"JSON holds {name}")

    return json.loads(text, parse_constant=refuse)


def test_cli_thresholds_takes_the_model_flags(capsys):
    """--encoder/--eta-int-placement reach the threshold: the explicit encoder with eta_int
    after every reflection needs a higher eta_int than the ideal one (one more lossy
    reflection before Alice's entangling one)."""
    vals = {}
    for enc in ("ideal", "explicit"):
        assert main(["thresholds", "--parameters", "eta_int", "--loss-orders", "1", "--grid",
                     "8", "--encoder", enc, "--eta-int-placement", "after", "--json",
                     "--no-progress"]) == 0
        out = _strict_loads(capsys.readouterr().out)
        assert out["model"]["encoder"] == enc
        assert out["model"]["eta_int_placement"] == "after"
        vals[enc] = out["thresholds"][0]["value"]
    assert vals["ideal"] < vals["explicit"]


@pytest.mark.parametrize("as_json", [False, True])
def test_cli_unreachable_rate_exits_2(capsys, as_json):
    argv = ["thresholds", "--rate-hz", "1e12", "--parameters", "eta_c", "--loss-orders", "1",
            "--no-progress"] + (["--json"] if as_json else [])
    assert main(argv) == 2
    cap = capsys.readouterr()
    assert cap.out == ""
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and "nan" not in lines[0].lower()
    assert lines[0].startswith("catbell thresholds: error: --rate-hz 1e+12 is not reachable")
    assert "largest attainable entanglement-generation rate is" in lines[0]
    # the API's reason, in flags and the command's words (cli_message, not a rewrite here)
    assert "(--rate-hz = 1e+12 Hz is not attainable for l = 0: R_eg = P / T cannot exceed" \
        in lines[0]
    assert "rate_hz" not in lines[0] and "loss_order" not in lines[0]


def test_cli_scanned_parameter_given_as_flag_is_refused(capsys):
    assert main(["thresholds", "--eta-c", "0.5", "--parameters", "eta_c"]) == 2
    assert "--eta-c is the efficiency being scanned" in capsys.readouterr().err


def test_no_nan_in_threshold_json(capsys):
    """A scan with points where a code cannot reach the rate writes null, not NaN."""
    assert main(["thresholds", "--parameters", "eta_d", "--loss-orders", "3", "--grid", "6",
                 "--json", "--no-progress"]) == 0
    _strict_loads(capsys.readouterr().out)


def test_what_the_model_table_shares_between_rows():
    """The model table reuses the eta_c thresholds across placements (eta_int = 1: no loss
    at any reflection) and the l = 0 numbers across encoders (no encoding rounds for l = 0)."""
    kw = dict(encoder="ideal", n_grid=8)
    vals = {pl: threshold("eta_c", 3, eta_int_placement=pl, **kw).value
            for pl in ("after", "before", "lumped")}
    assert max(vals.values()) - min(vals.values()) < 1e-9
    table1 = dict(eta_int=0.81, eta_dc=0.8, eta_uc=0.05, eta_d=0.97, eta_int_placement="after",
                  length_km=10.0, alpha=0.5)
    ideal = simulate(0, engine="coherent", encoder="ideal", **table1)
    explicit = simulate(0, engine="coherent", encoder="explicit", **table1)
    assert abs(ideal.S - explicit.S) < 1e-12 and abs(ideal.P - explicit.P) < 1e-15


# -- the crossing search, on a stubbed gap with known roots ----------------------------------
def _stub_gap(monkeypatch, gap):
    """Make S_l - S_0 = gap(x) exactly: S_0 = 2 and S_l = 2 + gap(x) at every x the
    threshold search asks for (the rate solver, batch and one-point task, is replaced;
    nothing else is)."""
    import numpy as np

    from catbell_qutip import thresholds as th_mod

    def fake_solve(loss_order, rate_hz, **fields):
        x = np.asarray(fields["eta_c"], dtype=float)
        return {"S": 2.0 + (gap(x) if loss_order else 0.0 * x)}

    def fake_task(loss_order, rate_hz, **fields):  # the refinement's one-point solves
        return fake_solve(loss_order, rate_hz, **fields)
        yield

    monkeypatch.setattr(th_mod, "solve_at_rate", fake_solve)
    monkeypatch.setattr(th_mod, "solve_task", fake_task)


def test_threshold_is_the_largest_downward_crossing(monkeypatch):
    """gap = (x - 0.5)(x - 0.7)(x - 0.9): l wins above 0.9 and on (0.5, 0.7), so both 0.9
    and 0.5 are crossings from winning (above) to losing (below); the threshold is 0.9."""
    _stub_gap(monkeypatch, lambda x: (x - 0.5) * (x - 0.7) * (x - 0.9))
    th = threshold("eta_c", 1, n_grid=25)
    assert th.value == pytest.approx(0.9, abs=1e-5)
    assert [round(c, 4) for c in th.crossings] == [0.9, 0.7, 0.5]
    assert "0.90000" in th.message


def test_threshold_found_in_the_first_grid_interval(monkeypatch):
    """The only crossing lies between the first two grid points (x_min = 0.02, step
    0.98 / 24): it must be found, not skipped."""
    root = 0.03
    _stub_gap(monkeypatch, lambda x: x - root)
    th = threshold("eta_c", 1, n_grid=25, x_min=0.02)
    assert th.value == pytest.approx(root, abs=1e-5)
    assert th.crossings == pytest.approx((root,), abs=1e-5)


def test_no_downward_crossing_gives_no_number(monkeypatch):
    _stub_gap(monkeypatch, lambda x: 0.5 - x)  # l wins only below 0.5: no threshold
    th = threshold("eta_c", 1, n_grid=25)
    assert th.value is None and th.crossings == pytest.approx((0.5,), abs=1e-5)
    assert "does not beat l = 0 even at eta_c = 1" in th.message
