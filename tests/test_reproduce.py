"""``catbell reproduce --quick`` end to end (run once per session, module-scoped fixture).

Checks: every panel file exists; summary.json has every key of the issue, finite and in
its physical range (2 <= S <= 2 sqrt 2, 0 <= thresholds <= 1, rates >= 0), a threshold
without a crossing is null with a note saying so; data files carry named dimensions and
units; and a few numbers agree with closed forms (l = 0, docs/model.md section 5).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import xarray as xr

from catbell_qutip.bell import chsh_from_fidelity
from catbell_qutip.cli import main
from catbell_qutip.closed_forms import l0_fidelity, l0_success
from catbell_qutip.reproduce import PANELS, SUMMARY_KEYS

PANEL_NAMES = ["fig2a", "fig2b"] + [f"fig3{c}" for c in "abcdefg"] + [
    f"fig4{c}" for c in "abc"]
S_MAX = 2 * math.sqrt(2)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce")
    assert main(["reproduce", "--quick", "--out", str(out), "--no-progress"]) == 0
    with open(out / "summary.json") as fh:
        summary = json.load(fh)
    return out, summary


def test_every_panel_written(run):
    out, _ = run
    assert sorted(p.name for p in PANELS) == sorted(PANEL_NAMES)
    for name in PANEL_NAMES:
        for ext in ("png", "pdf", "nc", "csv"):
            f = out / f"{name}.{ext}"
            assert f.is_file() and f.stat().st_size > 0, f
    for f in ("summary.md", "summary.json", "thresholds.json", "thresholds.csv",
              "thresholds.nc"):
        assert (out / f).is_file(), f
    assert (out / "fig2a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "fig2a.pdf").read_bytes()[:5] == b"%PDF-"


def test_summary_keys_in_physical_ranges(run):
    _, s = run
    for key in SUMMARY_KEYS:
        assert key in s, key
    notes = s["_notes"]
    for l in (0, 1, 3):
        v = s[f"fig2a_S_5km_l{l}"]
        assert math.isfinite(v) and 2.0 <= v <= S_MAX
    for key in SUMMARY_KEYS:
        if not key.startswith("threshold_"):
            continue
        v = s[key]
        if v is None:  # a missing crossing is said, never invented
            assert notes[key].startswith("no crossing"), notes[key]
        else:
            assert math.isfinite(v) and 0.0 <= v <= 1.0
    assert s["threshold_eta_int_l1"] is not None and s["threshold_eta_c_l1"] is not None
    v = s["fig3g_max_km_S_above_2.01"]
    assert math.isfinite(v) and v > 0
    for fig in ("fig4a", "fig4b", "fig4c"):
        for l in (0, 1):
            k, a = s[f"{fig}_peak_l{l}"], s[f"{fig}_peak_l{l}_alpha"]
            assert math.isfinite(k) and k >= 0
            assert math.isfinite(a) and a > 0
    t0 = s["fig4_t0_s"]
    assert math.isfinite(t0) and t0 >= 0


def test_summary_against_closed_forms(run):
    """Fig. 2(a) l = 0 at 5 km: the solved alpha gives 3000 Hz and the closed-form S."""
    _, s = run
    eta, T = 10 ** (-0.1), 5e3 / 2e8
    a = s["fig2a_alpha_5km_l0"]
    assert l0_success(a, eta) / T == pytest.approx(3000.0, rel=1e-9)
    assert s["fig2a_S_5km_l0"] == pytest.approx(
        float(chsh_from_fidelity(l0_fidelity(a, eta))), abs=1e-12)
    # Fig. 4 timing: the calibration reaches 2000 bit/s if and only if t0 > L / c_f
    meta = s["_meta"]
    if s["fig4_t0_s"] > meta["fig4_travel_time_s"]:
        assert s["fig4a_peak_l0"] == pytest.approx(2000.0, rel=1e-6)
        assert meta["fig4a_peak_l0_t0_zero"] > 2000.0
    else:
        assert meta["fig4a_peak_l0_t0_zero"] <= 2000.0
    # Table I only loses: every Fig. 4(b) peak is below the Fig. 4(a) one
    for l in (0, 1):
        assert s[f"fig4b_peak_l{l}"] < s[f"fig4a_peak_l{l}"]
        assert s[f"fig4b_peak_l{l}"] <= s[f"fig4c_peak_l{l}"]


def test_data_files_have_dims_and_units(run):
    out, s = run
    for name in PANEL_NAMES:
        with xr.open_dataset(out / f"{name}.nc") as ds:
            assert "loss_order" in ds.dims
            for v in list(ds.data_vars) + list(ds.coords):
                assert "units" in ds[v].attrs, (name, v)
            if name.startswith("fig4"):
                assert "alpha" in ds.dims
                assert ds["key_rate"].attrs["units"] == "bit/s"
                assert np.all(ds["key_rate"].values[np.isfinite(ds["key_rate"].values)] >= 0)
            else:
                S = ds["S"].values
                S = S[np.isfinite(S)]
                assert S.size and np.all((S >= 2 - 1e-12) & (S <= S_MAX + 1e-12))
        header = (out / f"{name}.csv").read_text().splitlines()[0]
        assert header.startswith("# ") and "units" in header
    with xr.open_dataset(out / "fig2b.nc") as ds:
        # the longest memory time approaches the ideal memory of Fig. 2(a) at 5 km
        S_long = ds["S"].sel(loss_order=0).values[-1]
        assert S_long == pytest.approx(s["fig2a_S_5km_l0"], abs=1e-3)
        assert ds["t_c_s"].attrs["units"] == "s"
