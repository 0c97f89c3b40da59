"""``catbell reproduce --quick`` end to end (run once per session, module-scoped fixture).

Checks: every panel file exists (PNG at 300 dpi); summary.json has every key of
SUMMARY_KEYS in a stable order with a note each, finite and in its physical range; no JSON
written holds NaN or Infinity; the claims table is complete and each verdict follows from
its numbers and stated tolerance (recomputed here); a few numbers agree with closed forms
(l = 0, docs/model.md section 5); ``catbell simulate`` with a panel's preset gives the
panel's S at 5 km; the reproduction loop has no per-panel branches.
"""

from __future__ import annotations

import inspect
import json
import math
import re
import struct

import numpy as np
import pytest
import xarray as xr

from catbell_qutip import reproduce as reproduce_module
from catbell_qutip.bell import chsh_from_fidelity
from catbell_qutip.claims import CLAIMS, build_claims
from catbell_qutip.cli import main
from catbell_qutip.closed_forms import l0_fidelity, l0_success
from catbell_qutip.panels import panel_fields, plot_panel
from catbell_qutip.reproduce import PANELS, SUMMARY_KEYS

PANEL_NAMES = ["fig2a", "fig2b"] + [f"fig3{c}" for c in "abcdefg"] + [
    f"fig4{c}" for c in "abc"]
S_MAX = 2 * math.sqrt(2)
#: the summary keys users rely on (kept from earlier releases)
STABLE_KEYS = ("threshold_eta_int_l1", "threshold_eta_int_l3", "threshold_eta_c_l1",
               "threshold_eta_c_l3", "fig3g_max_km_S_above_2.01", "fig4a_peak_l0",
               "fig4a_peak_l1", "fig4b_peak_l0", "fig4b_peak_l1", "fig4c_peak_l0",
               "fig4c_peak_l1", "fig4_t0_s", "fig2a_S_5km_l0", "fig2a_S_5km_l1",
               "fig2a_S_5km_l3", "threshold_eta_d_linear_l1")
CHECK_FIELDS = ("quantity", "ours", "paper", "unit", "kind", "tolerance", "tolerance_why",
                "difference", "passes")
CLAIM_FIELDS = ("id", "figure", "paper", "checks", "ours", "difference", "verdict", "reason")


def _strict_json(path):
    def refuse(name):
        raise AssertionError(f"{path.name} holds {name}")

    with open(path) as fh:
        return json.load(fh, parse_constant=refuse)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce")
    assert main(["reproduce", "--quick", "--out", str(out), "--no-progress"]) == 0
    return out, _strict_json(out / "summary.json")


def test_every_panel_written(run):
    out, _ = run
    assert sorted(p.name for p in PANELS) == sorted(PANEL_NAMES)
    for name in PANEL_NAMES:
        for ext in ("png", "pdf", "nc", "csv"):
            f = out / f"{name}.{ext}"
            assert f.is_file() and f.stat().st_size > 0, f
        png = (out / f"{name}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", png[16:24])
        assert (width, height) == (1920, 1380)  # 6.4 x 4.6 inches (legend below) at 300 dpi
    for f in ("summary.md", "summary.json", "thresholds.json", "thresholds.csv",
              "thresholds.nc", "claims.json", "claims.md", "model_table.json",
              "model_table.md", "model_table.csv"):
        assert (out / f).is_file(), f
    assert (out / "fig2a.pdf").read_bytes()[:5] == b"%PDF-"


def test_no_nan_in_any_json(run):
    out, _ = run
    for path in out.glob("*.json"):
        _strict_json(path)


def test_summary_keys_derived_ordered_and_noted(run):
    out, s = run
    for key in STABLE_KEYS:
        assert key in SUMMARY_KEYS, key
    from_panels = [k for p in PANELS for k in p.summary_keys()]
    assert len(set(from_panels)) == len(from_panels)
    assert set(from_panels) <= set(SUMMARY_KEYS)
    keys = [k for k in s if not k.startswith("_")]
    assert keys[:len(SUMMARY_KEYS)] == list(SUMMARY_KEYS)
    for k in keys:
        assert s["_notes"].get(k), f"no note for {k}"
    cells = [re.split(r"(?<!\\)\|", line) for line in
             (out / "summary.md").read_text().splitlines() if line.startswith("| `")]
    assert [c[1].strip().strip("`") for c in cells] == keys
    assert all(len(c) == 6 and c[4].strip() for c in cells)  # 4 columns, a note in each


def test_summary_values_in_physical_ranges(run):
    _, s = run
    notes = s["_notes"]
    for key in SUMMARY_KEYS:
        v = s[key]
        if re.search(r"_S_(5|80)km_l\d$", key) and v is not None:
            assert 2.0 - 1e-12 <= v <= S_MAX + 1e-12, key
        if key.startswith("threshold_"):
            if v is None:  # a missing crossing is said, never invented
                assert notes[key].startswith(("no crossing", "not computed")), notes[key]
            else:
                assert 0.0 <= v <= 1.0
    assert s["threshold_eta_int_l1"] is not None and s["threshold_eta_c_l1"] is not None
    assert s["fig3g_max_km_S_above_2.01"] > 0
    for fig in ("fig4a", "fig4b", "fig4c"):
        for l in (0, 1):
            assert s[f"{fig}_peak_l{l}"] >= 0 and s[f"{fig}_peak_l{l}_alpha"] > 0
    assert s["fig4_t0_s"] >= 0


def test_summary_against_closed_forms(run):
    """Fig. 2(a) l = 0 at 5 km: the solved alpha gives 3000 Hz and the closed-form S."""
    _, s = run
    eta, T = 10 ** (-0.1), 5e3 / 2e8
    a = s["fig2a_alpha_5km_l0"]
    assert l0_success(a, eta) / T == pytest.approx(3000.0, rel=1e-9)
    assert s["fig2a_S_5km_l0"] == pytest.approx(
        float(chsh_from_fidelity(l0_fidelity(a, eta))), abs=1e-12)
    meta = s["_meta"]
    if s["fig4_t0_s"] > meta["fig4_travel_time_s"]:
        assert s["fig4a_peak_l0"] == pytest.approx(2000.0, rel=1e-6)
        assert meta["fig4a_peak_l0_t0_zero"] > 2000.0
    else:
        assert meta["fig4a_peak_l0_t0_zero"] <= 2000.0
    for l in (0, 1):  # Table I only loses
        assert s[f"fig4b_peak_l{l}"] < s[f"fig4a_peak_l{l}"]
        assert s[f"fig4b_peak_l{l}"] <= s[f"fig4c_peak_l{l}"]
    # C8 bound: with one t0 > L / c_f the peak ratio equals the key-fraction ratio
    assert s["fig4a_peak_l1"] / s["fig4a_peak_l0"] == pytest.approx(
        s["c8_key_fraction_l1"] / s["c8_key_fraction_l0"], rel=1e-6)


def _passes(c):
    """The verdict rule, written again from the check's own fields."""
    ours, paper, tol = c["ours"], c["paper"], c["tolerance"]
    if ours is None:
        return False
    return {"abs": lambda: abs(ours - paper) <= tol,
            "rel": lambda: abs(ours - paper) <= tol * abs(paper),
            "log10": lambda: ours > 0 and abs(math.log(ours / paper)) <= tol * math.log(10),
            "ge": lambda: ours >= paper - tol,
            "le": lambda: ours <= paper + tol}[c["kind"]]()


def test_claims_table_complete_and_verdicts_follow(run):
    out, s = run
    claims = _strict_json(out / "claims.json")
    assert [c["id"] for c in claims] == [f"C{i}" for i in range(1, 11)]
    md = (out / "claims.md").read_text()
    for c in claims:
        for f in CLAIM_FIELDS:
            assert c[f] not in (None, "", []), (c["id"], f)
        assert c["paper"] == CLAIMS[c["id"]][1]
        for chk in c["checks"]:
            for f in CHECK_FIELDS:
                assert f in chk, (c["id"], f)
            assert chk["tolerance_why"]
            assert chk["passes"] == _passes(chk), (c["id"], chk)
        assert c["verdict"] == ("agrees" if all(_passes(k) for k in c["checks"])
                                else "differs")
        assert f"| {c['id']} " in md and f"**{c['verdict']}**" in md
    # the checks read the summary's own numbers
    by_id = {c["id"]: c for c in claims}
    assert by_id["C4"]["checks"][0]["ours"] == s["threshold_eta_c_l1"]
    assert by_id["C10"]["checks"][0]["ours"] == s["fig4c_peak_l0"]


def test_claim_verdict_flips_with_the_numbers(run):
    _, s = run
    moved = dict(s, threshold_eta_c_l1=0.62 + 0.05, fig4c_peak_l0=100.0)
    claims = {c["id"]: c for c in build_claims(moved)}
    assert claims["C4"]["verdict"] == "differs"
    assert claims["C10"]["verdict"] == "agrees"
    moved = dict(s, fig4c_peak_l0=None)
    assert {c["id"]: c for c in build_claims(moved)}["C10"]["verdict"] == "differs"


def test_data_files_have_dims_and_units(run):
    out, s = run
    for name in PANEL_NAMES:
        with xr.open_dataset(out / f"{name}.nc") as ds:
            assert "loss_order" in ds.dims
            for v in list(ds.data_vars) + list(ds.coords):
                assert "units" in ds[v].attrs, (name, v)
            for k in ("encoder", "eta_int_placement", "decoder", "usd", "db_per_km", "t0_s"):
                assert f"param_{k}" in ds.attrs, (name, k)
            if name.startswith("fig4"):
                assert ds["key_rate"].attrs["units"] == "bit/s"
                assert np.all(ds["key_rate"].values[np.isfinite(ds["key_rate"].values)] >= 0)
            else:
                S = ds["S"].values
                S = S[np.isfinite(S)]
                assert S.size and np.all((S >= 2 - 1e-12) & (S <= S_MAX + 1e-12))
        header = (out / f"{name}.csv").read_text().splitlines()[0]
        assert header.startswith("# ") and "units" in header
        assert "$" not in header and "\\" not in header, header  # plain text, no mathtext
    with xr.open_dataset(out / "fig3c.nc") as ds:  # TUB reference beside linear optics
        assert "S_reference" in ds
        # for l = 0 linear optics reaches the TUB exactly (docs/model.md 3.5)
        np.testing.assert_allclose(ds["S"].sel(loss_order=0), ds["S_reference"].sel(
            loss_order=0), atol=1e-9)
    with xr.open_dataset(out / "fig2b.nc") as ds:
        S_long = ds["S"].sel(loss_order=0).values[-1]
        assert S_long == pytest.approx(s["fig2a_S_5km_l0"], abs=1e-3)


@pytest.mark.parametrize("panel,l,engine", [("fig3d", 1, "coherent"), ("fig3a", 3, "coherent"),
                                            ("fig3f", 1, "coherent"), ("fig3b", 1, "fock")])
def test_simulate_with_the_panel_preset_gives_the_panel(run, capsys, panel, l, engine):
    out, _ = run
    with xr.open_dataset(out / f"{panel}.nc") as ds:
        pt = ds.sel(loss_order=l, length_km=5.0)
        alpha, S = float(pt["alpha"]), float(pt["S"])
    capsys.readouterr()
    engine_flag = [] if engine == "fock" else ["--engine", engine]  # fock: simulate's default
    assert main(["simulate", "--preset", f"repro-{panel}", "--loss-order", str(l),
                 "--alpha", repr(alpha), "--length-km", "5", "--json", *engine_flag]) == 0
    got = json.loads(capsys.readouterr().out)
    assert abs(got["S"] - S) <= 1e-9


@pytest.mark.parametrize("panel,l,rate,engine", [("fig3d", 1, 3000.0, "coherent"),
                                                  ("fig2a", 3, 3000.0, "coherent"),
                                                  ("fig3g", 1, 3.0, "coherent")])
def test_simulate_rate_hz_gives_the_panel_point(run, capsys, panel, l, rate, engine):
    """`catbell simulate --preset PANEL'S PRESET --rate-hz R --length-km 5` solves alpha as
    the panel does: the panel's alpha and S at 5 km, from its netCDF."""
    out, _ = run
    with xr.open_dataset(out / f"{panel}.nc") as ds:
        pt = ds.sel(loss_order=l, length_km=5.0)
        alpha, S = float(pt["alpha"]), float(pt["S"])
        assert float(ds.attrs["rate_hz"]) == rate
    capsys.readouterr()
    extra = ["--alpha-max", "8"] if panel == "fig3g" else []
    p = next(p for p in PANELS if p.name == panel)
    extra += [w for name in p.presets for w in ("--preset", name)]
    assert main(["simulate", "--loss-order", str(l),
                 "--rate-hz", repr(rate), "--length-km", "5", "--json", "--engine", engine,
                 *extra]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["params"]["alpha"] == pytest.approx(alpha, rel=1e-8)
    assert abs(got["S"] - S) <= 1e-9


def test_c1_names_the_range_it_compares_with(run):
    """C1 said "beyond the plotted 10 km" while our Fig. 2(a) plots to 20 km: the 10 km is the
    paper's range, and the text must not call it ours."""
    out, s = run
    fig2a = next(p for p in PANELS if p.name == "fig2a")
    c1 = next(c for c in _strict_json(out / "claims.json") if c["id"] == "C1")
    assert fig2a.length_km[1] > 10.0
    assert "plotted 10 km" not in c1["reason"]
    assert "paper's" in c1["reason"]


def test_reproduce_is_a_loop_over_panels():
    src = inspect.getsource(reproduce_module.reproduce)
    assert "panel.name ==" not in src and "panel.name in" not in src


def test_override_flags_are_checked():
    with pytest.raises(ValueError, match="eta_int_placement"):
        reproduce_module.reproduce("/nonexistent", eta_int_placement="middle")


def test_model_overrides_reach_every_panel():
    from catbell_qutip.cli import build_parser
    from catbell_qutip.reproduce import panel_fields

    args = build_parser("reproduce").parse_args(["reproduce", "--encoder", "explicit",
                                      "--eta-int-placement", "after"])
    assert (args.encoder, args.eta_int_placement) == ("explicit", "after")
    over = {"encoder": "explicit", "eta_int_placement": "after"}
    for panel in PANELS:
        f = panel_fields(panel, over)
        assert (f["encoder"], f["eta_int_placement"]) == ("explicit", "after")
        # everything else stays the panel's own
        assert {k: v for k, v in f.items() if k not in over} == {
            k: v for k, v in panel_fields(panel).items() if k not in over}


def test_outputs_are_byte_identical_run_to_run(run, tmp_path):
    """Two runs used to differ in every PDF's /CreationDate and in the wall times of
    summary.*: the figures carry no date and the wall times live in timing.json, labelled.
    A panel re-plotted now, seconds after the fixture's run, gives the same bytes."""
    out, s = run
    assert "wall_time_s" not in s["_meta"] and "task_wall_times_s" not in s["_meta"]
    assert "wall time" not in (out / "summary.md").read_text()
    timing = _strict_json(out / "timing.json")
    assert timing["wall_time_s"] > 0 and set(timing["task_wall_times_s"]) >= {"fig2a"}
    assert b"/CreationDate" not in (out / "fig2a.pdf").read_bytes()
    panel = next(p for p in PANELS if p.name == "fig2a")
    ds = xr.load_dataset(out / "fig2a.nc")
    plot_panel(ds, panel, panel_fields(panel, {}), tmp_path)
    for ext in ("pdf", "png"):
        assert (tmp_path / f"fig2a.{ext}").read_bytes() == (out / f"fig2a.{ext}").read_bytes()


def test_model_table_reuses_the_threshold_table_exactly(run):
    """The model table takes the pinned model's four thresholds from the run's threshold
    table (same arguments) instead of computing them again; each equals, to the last bit,
    what the table computes on its own (eta_c under the first placement, "after", as its
    cache does)."""
    from catbell_qutip.identification import MODEL_CLAIMS
    from catbell_qutip.params import ETA_INT_PLACEMENTS, merge_layers, preset
    from catbell_qutip.thresholds import threshold

    out, s = run
    table = _strict_json(out / "model_table.json")
    model = s["_meta"]["model"]
    row = next(r for r in table["rows"] if r["encoder"] == model["encoder"]
               and r["eta_int_placement"] == model["eta_int_placement"])
    grids = reproduce_module.GRIDS["quick"]
    for key in list(MODEL_CLAIMS)[:4]:
        param, l = key.removeprefix("threshold_").split("_l")
        placement = (ETA_INT_PLACEMENTS[0] if param == "eta_c"
                     else model["eta_int_placement"])
        fields = merge_layers(preset("repro-base"), {"encoder": model["encoder"],
                                                     "eta_int_placement": placement})
        alone = threshold(param, int(l), n_grid=grids["n_threshold"],
                          n_scan=grids["n_scan"], **fields).value
        assert row[key] == alone == s[key], key


def test_model_cache_seeded_only_for_the_model_tables_fields():
    from catbell_qutip.params import preset
    from catbell_qutip.thresholds import Threshold

    rows = [Threshold("eta_int", 1, 0.9, "", (0.9,), np.zeros(2), np.zeros(2)),
            Threshold("eta_d", 1, 0.5, "", (0.5,), np.zeros(2), np.zeros(2))]
    base = dict(preset("repro-base"))
    seeded = reproduce_module._model_cache(rows, base)
    assert seeded == {("threshold_eta_int_l1", base["encoder"],
                       base["eta_int_placement"]): 0.9}
    assert reproduce_module._model_cache(rows, dict(base, db_per_km=0.3)) == {}
