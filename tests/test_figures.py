"""What the figures show: measured on the drawn matplotlib figure (captured before it is
closed), on small synthetic datasets whose features are known.

- Panels (catbell_qutip/panels.py): the legend below the axes, the data axes at least 80 %
  of the figure's width (the legend outside used to leave a blank third); each stop cross
  labelled with its own code (Fig. 3(g): l = 1 stops where l = 0 drops); a key-rate curve
  under 5 % of the top peak shown again in an inset on its own scale (Fig. 4(b)).
- Advantage map: one legend for the three panels at a readable size; no contour label at
  the edge of a map.
- Repeater: the S axis spans the curves, so two curves 0.006 apart are drawn apart.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402

from catbell_qutip.panels import INSET_BELOW, PANELS, panel_fields, plot_panel  # noqa: E402

PANEL = {p.name: p for p in PANELS}


@pytest.fixture
def figures(monkeypatch):
    """Figures the code under test closes, kept open for inspection."""
    kept = []
    real_close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig=None: kept.append(fig))
    yield kept
    real_close("all")


def _length_ds(panel, stops):
    """S against L for each code; code l stops (NaN) after length stops[l] (km)."""
    L = np.geomspace(*panel.length_km, 60) if panel.log_x else np.linspace(*panel.length_km, 60)
    rows = []
    for i, l in enumerate(panel.loss_orders):
        S = 2.0 + 0.8 * np.exp(-L / (10.0 * (i + 1)))
        S[L > stops.get(l, np.inf)] = np.nan
        rows.append(S)
    return xr.Dataset({"S": (("loss_order", "length_km"), np.array(rows))},
                      coords={"loss_order": list(panel.loss_orders), "length_km": L})


def _key_ds(panel, peaks):
    a = np.linspace(0.02, panel.alpha_max, 80)
    K = np.array([p * np.exp(-((a - 0.5 - 0.3 * i) / 0.2) ** 2) for i, p in enumerate(peaks)])
    return xr.Dataset(
        {"key_rate": (("loss_order", "alpha"), K),
         "peak_key_rate": ("loss_order", list(peaks)),
         "peak_alpha": ("loss_order", [0.5 + 0.3 * i for i in range(len(peaks))])},
        coords={"loss_order": list(panel.loss_orders), "alpha": a}, attrs={"t0_s": 8.9e-5})


def _render(fig):
    fig.canvas.draw()
    return fig.canvas.get_renderer()


@pytest.mark.parametrize("name", ["fig2a", "fig3g", "fig4b"])
def test_panel_legend_below_and_data_take_the_width(name, figures, tmp_path):
    panel = PANEL[name]
    ds = (_key_ds(panel, [26.0, 0.27]) if panel.kind == "key"
          else _length_ds(panel, {1: 30.0}))
    plot_panel(ds, panel, panel_fields(panel), tmp_path)
    fig = figures[-1]
    renderer = _render(fig)
    ax = fig.axes[0]
    box = ax.get_window_extent(renderer)
    legend = fig.legends[0] if fig.legends else ax.get_legend()
    lbox = legend.get_window_extent(renderer)
    assert lbox.y1 <= box.y0 + 1, "legend not below the axes"
    assert box.width >= 0.8 * fig.bbox.width, box.width / fig.bbox.width
    assert (tmp_path / f"{name}.png").is_file()


def test_each_stop_cross_names_its_code(figures, tmp_path):
    """In Fig. 3(g) l = 1's cross sat on l = 0's drop and read as l = 0's end: every cross
    carries a label with its own code, near the cross."""
    panel = PANEL["fig3g"]
    ds = _length_ds(panel, {1: 80.0, 3: 25.0})
    plot_panel(ds, panel, panel_fields(panel), tmp_path)
    ax = figures[-1].axes[0]
    notes = {t.get_text(): t.xy for t in ax.texts if hasattr(t, "xy")}
    L = ds.length_km.values
    for l, stop in ((1, 80.0), (3, 25.0)):
        label = f"$l = {l}$ stops"
        assert label in notes, notes
        x_last = L[L <= stop][-1]
        assert notes[label][0] == pytest.approx(x_last)
    assert "$l = 0$ stops" not in notes


@pytest.mark.parametrize("peaks,inset", [([26.0, 0.27], True), ([2000.0, 2680.0], False),
                                         ([108.0, 108.0 * INSET_BELOW * 0.9], True)])
def test_small_key_curve_gets_an_inset(peaks, inset, figures, tmp_path):
    """Fig. 4(b): l = 1 peaks at 0.27 bit/s beside 26 bit/s, a flat line on the shared axis;
    it is drawn again in an inset whose y range is set by its own peak."""
    panel = PANEL["fig4b"]
    plot_panel(_key_ds(panel, peaks), panel, panel_fields(panel), tmp_path)
    ax = figures[-1].axes[0]
    insets = [c for c in ax.child_axes]
    assert bool(insets) == inset
    if inset:
        lo, hi = insets[0].get_ylim()
        small = min(peaks)
        assert lo == 0 and small < hi < 2 * small


# -- advantage map --------------------------------------------------------------------------
def _map_ds():
    x = np.linspace(0.8, 1.0, 12)
    y = np.linspace(0.3, 1.0, 10)
    X, Y = np.meshgrid(x, y, indexing="ij")
    winner = np.where(X + Y > 1.75, 1, 0)
    margin = 0.6 - 0.5 * X * Y + 0.2 * np.sin(9 * X)
    data = {}
    for q in ("S", "key_rate_at_rate", "key_rate_opt"):
        data[f"winner_{q}"] = (("eta_int", "eta_c"), winner)
        data[f"margin_{q}"] = (("eta_int", "eta_c"), margin, {"units": "1"})
    data["key_alpha_at_edge"] = (("loss_order", "eta_int", "eta_c"), np.zeros((2, 12, 10)))
    return xr.Dataset(data, coords={"eta_int": x, "eta_c": y, "loss_order": [0, 1]},
                      attrs={"x": "eta_int", "y": "eta_c", "rate_hz": 3000.0,
                             "t0_s_key_rate_opt": 0.0, "threshold_eta_int_l1": 0.8976,
                             "threshold_eta_c_l1": 0.2})


def test_advantage_map_one_readable_legend_no_edge_labels(figures, tmp_path):
    from catbell_qutip.advantage import plot_map

    plot_map(_map_ds(), tmp_path / "m")
    fig = figures[-1]
    renderer = _render(fig)
    assert len(fig.legends) == 1 and all(ax.get_legend() is None for ax in fig.axes)
    sizes = {t.get_fontsize() for t in fig.legends[0].get_texts()}
    assert min(sizes) >= 10, sizes
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert len(labels) == len(set(labels))
    for ax in fig.axes:
        box = ax.get_window_extent(renderer)
        pad = 0.04 * box.width
        for t in ax.texts:  # the contour labels
            b = t.get_window_extent(renderer)
            assert b.x0 >= box.x0 + pad - 1 and b.x1 <= box.x1 - pad + 1, t.get_text()
            assert b.y0 >= box.y0 + pad - 1 and b.y1 <= box.y1 - pad + 1, t.get_text()
    assert any("outside the map" in s for s in labels)  # eta_c = 0.2 is off the axis


# -- repeater -------------------------------------------------------------------------------
def test_repeater_close_curves_are_drawn_apart(figures, tmp_path):
    """The single link's S for l = 0 and l = 1 differ by 0.006 (Table I): on an axis from
    2 to 2 sqrt 2 they merged into one band; the axis spans the curves instead."""
    from catbell_qutip.repeater import plot_scan

    L = np.linspace(10.0, 500.0, 50)
    seg = [1, 2]
    S = np.empty((2, 2, L.size))
    S[0, 0] = 2.3662
    S[1, 0] = 2.3724
    for i in range(2):
        S[i, 1] = 2.0 + 0.36 * np.exp(-L / 150.0)
    K = 10.0 * np.exp(-L[None, None, :] / 50.0) * np.ones((2, 2, 1))
    ds = xr.Dataset({"S": (("loss_order", "segments", "length_km"), S),
                     "key_rate": (("loss_order", "segments", "length_km"), K),
                     "alpha": (("loss_order", "segments", "length_km"), np.full(S.shape, 0.5)),
                     "plob_key_rate": (("length_km",), 1e3 * np.exp(-L / 20.0))},
                    coords={"loss_order": [0, 1], "segments": seg, "length_km": L},
                    attrs={"objective": "key_rate", "strategy": "parallel"})
    plot_scan(ds, tmp_path / "r")
    fig = figures[-1]
    ax_s = fig.axes[1]
    _render(fig)
    to_px = ax_s.transData.transform
    gap_px = abs(to_px((100.0, 2.3724))[1] - to_px((100.0, 2.3662))[1])
    lw_px = max(line.get_linewidth() for line in ax_s.lines) * fig.dpi / 72
    assert gap_px >= 2 * lw_px, (gap_px, lw_px)


def _fig3g_like_ds():
    """Fig. 3(g)'s shape: l = 0 high until ~50 km, l = 1 falls through S = 2.1 near 11 km and
    stops at 80 km, l = 3 lies on S = 2 and stops at 26 km."""
    panel = PANEL["fig3g"]
    L = np.geomspace(*panel.length_km, 120)
    S0 = 2.0 + 0.83 / (1.0 + (L / 65.0) ** 8)
    S1 = 2.0 + 0.83 / (1.0 + (L / 8.0) ** 4)
    S3 = 2.0 + 0.33 * np.exp(-L / 0.3)
    S1[L > 80.0] = np.nan
    S3[L > 26.0] = np.nan
    return panel, xr.Dataset({"S": (("loss_order", "length_km"), np.array([S0, S1, S3]))},
                             coords={"loss_order": [0, 1, 3], "length_km": L})


def test_stop_labels_cover_no_curve(figures, tmp_path):
    """Fig. 3(g): the "l = 3 stops" box, up and to the left of its cross at 26 km, cut the
    l = 1 curve near 11 km. Every stop label's box (with its white padding) now crosses no
    drawn line, no other label, and stays inside the axes."""
    from matplotlib.path import Path as MplPath
    from matplotlib.text import Text

    panel, ds = _fig3g_like_ds()
    plot_panel(ds, panel, panel_fields(panel), tmp_path)
    fig = figures[-1]
    renderer = _render(fig)
    ax = fig.axes[0]
    notes = [t for t in ax.texts if t.get_text().endswith("stops")]
    assert len(notes) == 2
    lines = []
    for line in ax.lines:
        if line.get_linestyle() in ("None", "") or len(line.get_xdata()) < 2:
            continue
        xy = np.column_stack([line.get_xdata(), line.get_ydata()]).astype(float)
        xy = xy[np.isfinite(xy).all(axis=1)]
        lines.append(MplPath(line.get_transform().transform(xy)))
    frame = ax.get_window_extent(renderer)
    boxes = [Text.get_window_extent(t, renderer).padded(fig.dpi / 72.0) for t in notes]
    for t, box in zip(notes, boxes, strict=True):
        assert not any(p.intersects_bbox(box, filled=False) for p in lines), t.get_text()
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and box.y1 <= frame.y1
    assert not boxes[0].overlaps(boxes[1])


# -- saving (catbell_qutip/_figures.py) -----------------------------------------------------
def _demo_figure():
    fig, ax = plt.subplots(figsize=(3.2, 2.4), layout="constrained")
    x = np.geomspace(0.1, 100.0, 50)
    for l in (0, 1, 3):
        ax.plot(x, 2.0 + 0.8 / (1.0 + x / (l + 1)), label=f"$l = {l}$")
    ax.set_xscale("log")  # mathtext tick labels
    ax.set_xlabel(r"fibre length $L$ (km)")
    ax.set_ylabel(r"CHSH value $S$")
    fig.legend(loc="outside lower center", ncol=3, fontsize=7)
    return fig


def test_shared_mathtext_parses_change_no_pixel(tmp_path):
    """The shared parse cache is only a cache: the PNG is byte-identical with and without
    it (and with parses cached by an earlier figure)."""
    from catbell_qutip._figures import shared_mathtext_parses

    plain = tmp_path / "plain.png"
    fig = _demo_figure()
    fig.savefig(plain, dpi=300)
    plt.close(fig)
    for name in ("shared1.png", "shared2.png"):
        fig = _demo_figure()
        with shared_mathtext_parses():
            fig.savefig(tmp_path / name, dpi=300)
        plt.close(fig)
        assert (tmp_path / name).read_bytes() == plain.read_bytes(), name


def test_shared_mathtext_parses_restores_matplotlib():
    from matplotlib.mathtext import MathTextParser

    from catbell_qutip._figures import shared_mathtext_parses

    before = MathTextParser.__dict__["_parse_cached"]
    with pytest.raises(RuntimeError), shared_mathtext_parses():
        assert MathTextParser.__dict__["_parse_cached"] is not before
        raise RuntimeError
    assert MathTextParser.__dict__["_parse_cached"] is before


def test_save_png_pdf_lays_out_once_for_the_pdf(tmp_path, monkeypatch):
    """The layout is solved once, for the PDF, which is byte-identical to a PDF saved with
    constrained layout on; the PNG keeps that layout (its axes where the PDF's are)."""
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    from catbell_qutip._figures import save_png_pdf

    ref = _demo_figure()
    ref.savefig(tmp_path / "ref.pdf", metadata={"CreationDate": None})
    ref_position = ref.axes[0].get_position().bounds
    plt.close(ref)
    runs = []
    real = ConstrainedLayoutEngine.execute
    monkeypatch.setattr(ConstrainedLayoutEngine, "execute",
                        lambda self, fig: runs.append(fig) or real(self, fig))
    fig = _demo_figure()
    files = save_png_pdf(fig, tmp_path / "demo")
    assert [f.name for f in files] == ["demo.png", "demo.pdf"]
    assert len(runs) == 1
    assert files[1].read_bytes() == (tmp_path / "ref.pdf").read_bytes()
    assert files[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert fig.axes[0].get_position().bounds == ref_position
    plt.close(fig)


def test_save_png_pdf_draws_the_png_once(tmp_path, monkeypatch):
    """Three draws in all: the PDF's layout pass and its drawing, then the PNG's drawing
    alone (a placeholder layout engine left on the figure would add a layout pass), and
    the PNG is the one a plain save of the laid-out figure gives."""
    from matplotlib.figure import Figure

    from catbell_qutip._figures import PNG_DPI, PNG_PIL_KWARGS, save_png_pdf

    draws = []
    real = Figure.draw
    monkeypatch.setattr(Figure, "draw", lambda self, r: draws.append(1) or real(self, r))
    fig = _demo_figure()
    png, _ = save_png_pdf(fig, tmp_path / "demo")
    assert len(draws) == 3
    assert fig.get_layout_engine() is None
    fig.savefig(tmp_path / "again.png", dpi=PNG_DPI, pil_kwargs=dict(PNG_PIL_KWARGS))
    assert (tmp_path / "again.png").read_bytes() == png.read_bytes()
    plt.close(fig)


def test_png_compression_is_lossless(tmp_path):
    """The run-length zlib strategy of save_png_pdf only changes the compression: the PNG
    decodes to the pixels of Matplotlib's default PNG of the same figure, at 300 dpi."""
    from PIL import Image

    from catbell_qutip._figures import save_png_pdf

    fig = _demo_figure()
    png, _ = save_png_pdf(fig, tmp_path / "demo")
    fig.savefig(tmp_path / "default.png", dpi=300)  # the layout saved above, default zlib
    plt.close(fig)
    with Image.open(png) as ours, Image.open(tmp_path / "default.png") as ref:
        assert ours.info["dpi"] == pytest.approx((300, 300), rel=1e-5)  # stored per metre
        assert np.array_equal(np.asarray(ours), np.asarray(ref))
    assert png.read_bytes() != (tmp_path / "default.png").read_bytes()


# -- one typographic convention for subscripts in every figure label ------------------------

#: word-like subscripts: set upright (\mathrm, or \text in notebook prose); the two-letter
#: ones are the parameters' abbreviations (up-/down-conversion, entanglement generation,
#: decibel), longer ones words (int, sound, max, dark, coherent ...)
_TWO_LETTER_WORDS = {"uc", "dc", "eg", "dB"}
_SUBSCRIPT = re.compile(r"_(?:\{\s*(\\(?:mathrm|text|rm)\s*)?\{?([^{}]*)\}?\s*\}"
                        r"|\\(mathrm|text|rm)\s*\{([^{}]*)\}|([A-Za-z0-9]))")


def _strings(source: str):
    """The string constants of Python source, an f-string with "X" for each field."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.JoinedStr):
            yield "".join(v.value if isinstance(v, ast.Constant) else "X"
                          for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value


def _label_sources():
    root = Path(__file__).resolve().parents[1]
    for path in [*sorted((root / "catbell_qutip").rglob("*.py")),
                 *sorted((root / "benchmarks").glob("*.py"))]:
        yield str(path.relative_to(root)), path.read_text()
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        for i, cell in enumerate(nb["cells"]):
            if cell["cell_type"] == "code":
                lines = "".join(cell["source"]).splitlines()  # IPython magics aside
                yield f"{path.name} cell {i}", "\n".join(
                    "" if ln.lstrip().startswith(("%", "!")) else ln for ln in lines)


def _subscript_faults(text: str) -> list[str]:
    faults = []
    for math in re.findall(r"\$([^$]+)\$", text):
        for m in _SUBSCRIPT.finditer(math):
            upright = bool(m[1] or m[3])
            body = (m[2] if m[2] is not None else m[4] if m[4] is not None else m[5]).strip()
            letters = re.fullmatch(r"[A-Za-z]+", body) is not None
            wordlike = letters and (len(body) >= 3 or body in _TWO_LETTER_WORDS)
            if wordlike and not upright:
                faults.append(f"{m[0]} (a word: upright, \\mathrm)")
            elif letters and len(body) == 1 and upright:
                faults.append(f"{m[0]} (one letter: italic)")
    return faults


def test_subscript_convention_checker():
    assert _subscript_faults(r"$R_{eg}$ and $\eta_{int}$") == [
        "_{eg} (a word: upright, \\mathrm)", "_{int} (a word: upright, \\mathrm)"]
    assert _subscript_faults(r"$\eta_\mathrm{c}$") == ["_\\mathrm{c} (one letter: italic)"]
    assert _subscript_faults(r"$R_\mathrm{eg}$, $\eta_c$, $t_0$, $\rho_{AB}$, $T_{ij}$") == []


def test_every_figure_label_sets_subscripts_one_way():
    """One convention for subscripts in every figure label (package, benchmarks, notebook
    figures): word-like ones upright (eta_int, eta_uc, eta_dc, R_eg, eps_sound: \\mathrm),
    one-letter ones italic (eta_c, eta_d, t_c, c_f). Notebook 03 titled its figures
    with an italic $R_{eg}$ and $\\eta_{int}$."""
    faults = {where: f for where, src in _label_sources()
              for f in [sum((_subscript_faults(s) for s in _strings(src)), [])] if f}
    assert not faults, faults
