"""The output-format rules (catbell_qutip/outputs.py): JSON holds no "inf"/Infinity/NaN,
CSV headers carry no matplotlib markup, the same everywhere; netCDF files are what
xarray's to_netcdf writes."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from catbell_qutip.cli import main
from catbell_qutip.outputs import (
    csv_header,
    dataset,
    dumps,
    json_ready,
    plain_text,
    write_data_files,
    write_netcdf,
)

ROOT = Path(__file__).resolve().parents[1]


def _strict(text: str):
    """json.loads that refuses Infinity/NaN."""
    def refuse(name):
        raise AssertionError(f"JSON holds {name}")
    return json.loads(text, parse_constant=refuse)


def _walk(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _walk(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _walk(v)
    else:
        yield obj


def test_json_ready_makes_every_non_finite_null():
    data = {"a": math.inf, "b": [-math.inf, math.nan, 1.5], "c": np.float32("nan"),
            "d": {"e": np.array([1.0, np.inf])}, "f": np.int64(3), "g": "inf", "h": True}
    out = json_ready(data)
    assert out == {"a": None, "b": [None, None, 1.5], "c": None, "d": {"e": [1.0, None]},
                   "f": 3, "g": "inf", "h": True}
    assert _strict(dumps(data)) == out
    assert type(out["f"]) is int and type(out["h"]) is bool


@pytest.mark.parametrize("text,plain", [
    (r"Fig. 3(g): Table I, $R_\mathrm{eg}$ = 3 Hz, ideal memory",
     "Fig. 3(g): Table I, R_eg = 3 Hz, ideal memory"),
    (r"Fig. 3(a): $\eta_\mathrm{int}$ = 0.91", "Fig. 3(a): eta_int = 0.91"),
    (r"$t_0$ = 89.33 $\mu$s", "t_0 = 89.33 us"),
    (r"$S = 2\sqrt{2}$", "S = 2 sqrt(2)"),
    ("no markup at all", "no markup at all"),
])
def test_plain_text_strips_mathtext(text, plain):
    assert plain_text(text) == plain


def test_csv_header_is_plain():
    h = csv_header(r"$\eta_c$ = 0.62", {"length_km": "km", "S": "1"})
    assert h == "# eta_c = 0.62; units: length_km [km], S [1]"


def test_simulate_json_ideal_memory_is_null_not_a_string(capsys):
    """An ideal memory (t_c = inf) was printed as the string "inf"."""
    assert main(["simulate", "--loss-order", "0", "--alpha", "0.5", "--engine", "coherent",
                 "--json"]) == 0
    out = _strict(capsys.readouterr().out)
    assert out["params"]["t_c_s"] is None
    assert not any(isinstance(v, str) and v.lower() in ("inf", "-inf", "nan", "infinity")
                   for v in _walk(out))
    assert main(["simulate", "--loss-order", "0", "--alpha", "0.5", "--engine", "coherent",
                 "--t-c", "0.01", "--json"]) == 0
    assert _strict(capsys.readouterr().out)["params"]["t_c_s"] == 0.01


def test_committed_json_files_are_strict_json():
    """docs/bench/*.json (made by the benchmarks) hold no Infinity/NaN."""
    files = sorted((ROOT / "docs").rglob("*.json"))
    assert files
    for f in files:
        _strict(f.read_text())


def test_reproduce_csv_header_is_plain(tmp_path):
    """The panel CSVs took the figure title with its mathtext (`$R_\\mathrm{eg}$`)."""
    from catbell_qutip.reproduce import _write_data

    ds = xr.Dataset({"S": (("length_km",), [2.5, 2.4], {"units": "1"})},
                    coords={"length_km": ("length_km", [1.0, 2.0], {"units": "km"})},
                    attrs={"title": r"Fig. 3(g): Table I, $R_\mathrm{eg}$ = 3 Hz"})
    _write_data(ds, tmp_path, "p")
    header = (tmp_path / "p.csv").read_text().splitlines()[0]
    assert header == "# Fig. 3(g): Table I, R_eg = 3 Hz; units: length_km [km], S [1]"


def _panel_like():
    """A Dataset as reproduce writes one: float curves with NaN, an int coordinate, a
    second dimension, string, int, float attributes."""
    ds = dataset({"S": (("loss_order", "length_km"), [[2.8, np.nan, 2.1], [2.7, 2.5, np.nan]]),
                  "alpha": (("loss_order", "length_km"), np.arange(6.0).reshape(2, 3))},
                 {"length_km": [1.0, 5.0, 10.0],
                  "loss_order": ("loss_order", np.array([0, 1]))},
                 {"panel": "fig2a", "rate_hz": 3000.0, "n": 3, "note": "S_l(5 km) = S_0"})
    ds["peak"] = ("loss_order", [1.5, 2.5], {"units": "bit/s", "threshold": "none"})
    return ds


def test_write_netcdf_writes_the_file_to_netcdf_writes(tmp_path):
    ds = _panel_like()
    ds.to_netcdf(tmp_path / "ref.nc")
    write_netcdf(ds, tmp_path / "ours.nc")
    assert (tmp_path / "ref.nc").read_bytes() == (tmp_path / "ours.nc").read_bytes()
    with xr.open_dataset(tmp_path / "ref.nc") as a, xr.open_dataset(tmp_path / "ours.nc") as b:
        assert a.identical(b) and b.identical(ds.assign_coords(ds.coords))
        assert b.attrs == ds.attrs and b.S.attrs == ds.S.attrs


def test_write_netcdf_imports_no_dask_distributed(tmp_path):
    """xarray's to_netcdf asks dask for its scheduler, which imports dask.distributed
    (~0.2 s); write_netcdf must not (checked in a fresh interpreter)."""
    code = ("import sys, numpy as np\n"
            "from catbell_qutip.outputs import dataset, write_netcdf\n"
            "ds = dataset({'S': ('alpha', [2.5, np.nan])}, {'alpha': [0.5, 1.0]})\n"
            f"write_netcdf(ds, {str(tmp_path / 'x.nc')!r})\n"
            "print('distributed' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=tmp_path)
    assert out.stdout.strip() == "False"
    with xr.open_dataset(tmp_path / "x.nc") as back:
        assert back.S.values[0] == 2.5 and np.isnan(back.S.values[1])


def test_data_files_give_numeric_columns_their_units_and_text_columns_none(tmp_path):
    # the finite-key tables have a text column (the panel) and a loss_order without a units
    # attribute: 'loss_order [1]' as in every other CSV, 'panel []'
    ds = xr.Dataset({"key_bits": (("panel", "loss_order"), [[1.0, 2.0], [3.0, 4.0]])},
                    coords={"panel": ["a", "b"], "loss_order": [0, 1]},
                    attrs={"title": "$L$ = 10 km"})
    ds["key_bits"].attrs["units"] = "bit"
    nc, csv = write_data_files(ds, tmp_path / "t")
    head = csv.read_text().splitlines()[0]
    assert head == "# L = 10 km; units: panel [], loss_order [1], key_bits [bit]"
    with xr.open_dataset(nc) as back:
        assert back.identical(ds)
