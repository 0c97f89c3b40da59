"""Writing one figure as PNG (300 dpi) and PDF at the least drawing cost.

``catbell reproduce`` draws twelve panels, each as PNG and PDF; drawing them, not computing
them, took about half of its CPU time. Two things made Matplotlib do the same work twice:

- constrained layout is solved again at every ``savefig``: :func:`save_png_pdf` solves it
  once, for the PDF, and writes the PNG with the positions found (a layout is in figure
  coordinates, so it holds at any dpi). It is solved for the PDF because there text is
  measured at 72 dpi, rounded up to whole points: the 300 dpi layout reserves up to 4.5 pt
  less for the legend below the axes than the PDF's text then takes, while the 72 dpi
  layout leaves the PNG at most that much more room;
- Matplotlib caches the parse of a mathtext string (``$l = 1$``, ``$S = 2\\sqrt{2}$``, the
  ticks of a log axis ...) per parser object, and every renderer (one per saved file) has
  its own parser: each string was parsed again for every file, ~3.5 ms each.
  :func:`shared_mathtext_parses` keeps one cache for all of them while it is active.

And the PNG is compressed with zlib's run-length strategy (:data:`PNG_PIL_KWARGS`), which
zlib's manual describes as "almost as fast as Z_HUFFMAN_ONLY, but give[s] better
compression for PNG image data": lossless like the default, it halved the encoding time
of the twelve panels (1.35 -> 0.68 s of CPU) for 15 % larger files (1.87 -> 2.15 MB).

The PDF is byte-identical to one saved with constrained layout on, and the shared cache
changes no pixel (``tests/test_figures.py`` compares the bytes); the PNG's axes sit up to
4.5 pt higher than with a layout of its own (Fig. 3(g)), as in the PDF.
"""

from __future__ import annotations

import functools
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np

__all__ = ["PNG_DPI", "PNG_PIL_KWARGS", "save_png_pdf", "shared_mathtext_parses",
           "label_line_clear"]

#: resolution of every PNG, dots per inch
PNG_DPI = 300
#: Pillow's PNG encoder options: zlib's Z_RLE strategy (lossless; see the module docstring)
PNG_PIL_KWARGS = {"compress_type": zlib.Z_RLE}


@functools.lru_cache(maxsize=1024)
def _parse(output_type: str, s, dpi, prop, *rest):
    """One mathtext parse, cached across parser objects (keyed by the parser's output type,
    the only parser state a parse depends on besides its arguments)."""
    return _PARSERS[output_type](s, dpi, prop, *rest)


#: output type ("vector" or "raster") -> the uncached parse of a parser of that type
_PARSERS: dict = {}


@contextmanager
def shared_mathtext_parses():
    """Inside the block every Matplotlib mathtext parser shares one parse cache.

    Matplotlib's ``MathTextParser._parse_cached`` is an ``lru_cache`` on a method: its key
    holds the parser object, and each renderer makes its own parser, so no parse is reused
    from one saved file to the next. The block replaces that method by one whose cache key
    is the parser's output type instead of the object (a parse depends on nothing else of
    the parser: its font-set table and pyparsing grammar are class attributes), and
    restores it on exit. With another Matplotlib that lacks this method the block does
    nothing.

    Yields
    ------
    None

    Examples
    --------
    >>> from matplotlib.mathtext import MathTextParser
    >>> a, b = MathTextParser("path"), MathTextParser("path")
    >>> with shared_mathtext_parses():
    ...     a.parse("$l = 1$", 72) is b.parse("$l = 1$", 72)
    True
    >>> a.parse("$l = 3$", 72) is b.parse("$l = 3$", 72)  # outside: one cache per parser
    False
    """
    from matplotlib.mathtext import MathTextParser

    original = MathTextParser.__dict__.get("_parse_cached")
    inner = getattr(original, "__wrapped__", None)
    if inner is None:
        yield
        return

    def _parse_cached(self, s, dpi, prop, *rest):
        kind = self._output_type
        if kind not in _PARSERS:
            _PARSERS[kind] = functools.partial(inner, self)
        return _parse(kind, s, dpi, prop, *rest)

    MathTextParser._parse_cached = _parse_cached
    try:
        yield
    finally:
        MathTextParser._parse_cached = original


def save_png_pdf(fig, stem) -> list[Path]:
    """Write ``fig`` to ``stem.png`` (300 dpi, run-length zlib) and ``stem.pdf``, laid out
    once.

    The figure's layout engine (constrained layout) runs while the PDF is drawn; it is then
    removed, so the PNG keeps the same positions and is drawn once (no layout pre-draw).
    The PDF carries no creation date (byte-identical run to run). Mathtext parses are
    shared between the two files and with every other figure saved through this function
    (:func:`shared_mathtext_parses`).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure (its layout engine is off afterwards).
    stem : str or pathlib.Path
        Output path without suffix.

    Returns
    -------
    list of pathlib.Path
        The PNG and the PDF.

    Examples
    --------
    >>> import tempfile
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots(figsize=(2, 1.5), layout="constrained")
    >>> _ = ax.plot([0, 1], [0, 1], label="$l = 1$")
    >>> with tempfile.TemporaryDirectory() as d:
    ...     [p.name for p in save_png_pdf(fig, Path(d, "line"))]
    ['line.png', 'line.pdf']
    >>> plt.close(fig)
    """
    from matplotlib import rc_context

    stem = Path(stem)
    png, pdf = stem.with_name(stem.name + ".png"), stem.with_name(stem.name + ".pdf")
    with shared_mathtext_parses():
        fig.savefig(pdf, metadata={"CreationDate": None})
        # no layout engine at all (not "none", which leaves a placeholder engine that
        # makes savefig draw the figure once more before the PNG, for nothing)
        with rc_context({"figure.autolayout": False,
                         "figure.constrained_layout.use": False}):
            fig.set_layout_engine(None)
        fig.savefig(png, dpi=PNG_DPI, pil_kwargs=dict(PNG_PIL_KWARGS))
    return [png, pdf]


#: where :func:`label_line_clear` tries a label, in turn: (x in axes fraction, horizontal
#: alignment), each above then below its line
_LABEL_SPOTS = ((0.02, "left"), (0.98, "right"), (0.25, "left"), (0.5, "center"),
                (0.75, "right"))


def label_line_clear(ax, y: float, text: str, *, own=None, pad_pt: float = 1.5, **kw):
    """Write ``text`` on the horizontal line at data height ``y`` of ``ax``, at the first
    spot where its box covers no other line, marker or legend of the axes.

    Spots are tried left, right, then across the middle, each just above then just below
    the line (:data:`_LABEL_SPOTS`); if none is clear the first is kept. Call it once the
    axes are complete and laid out (curves, scales, limits, legend), as the boxes are
    measured as drawn.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The axes.
    y : float
        Height of the line, in data units.
    text : str
        The label.
    own : matplotlib.lines.Line2D, optional
        The line being labelled: the label may touch it.
    pad_pt : float
        Gap between the label and the line, and kept around the label, in points.
    **kw
        Text properties (``fontsize``, ``color``, ...).

    Returns
    -------
    matplotlib.text.Annotation
        The label.

    Examples
    --------
    A curve through the left end of the line at y = 1 pushes the label off that spot:

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> _ = ax.plot([0, 1], [1, 3])
    >>> ref = ax.axhline(1.0, ls=":")
    >>> label_line_clear(ax, 1.0, "1 day", own=ref).get_horizontalalignment()
    'right'
    >>> plt.close(fig)
    """
    from matplotlib.path import Path as MplPath

    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    pad_px = pad_pt * fig.dpi / 72.0
    obstacles = []
    for line in ax.get_lines():
        if line is own or not line.get_visible():
            continue
        xy = line.get_transform().transform(np.asarray(line.get_xydata(), dtype=float))
        xy = xy[np.all(np.isfinite(xy), axis=1)]
        if len(xy) == 0:
            continue
        grow = 0.0 if line.get_marker() in (None, "None", "", " ") else (
            line.get_markersize() * fig.dpi / 72.0 / 2.0)
        obstacles.append((MplPath(xy) if line.get_linestyle() not in ("None", "", " ")
                          else None, xy, grow))
    legend = ax.get_legend()
    boxes = [legend.get_window_extent(renderer)] if legend is not None else []

    def clear(box) -> bool:
        if any(box.overlaps(b) for b in boxes):
            return False
        for path, xy, grow in obstacles:
            near = box.padded(grow)
            if path is not None and path.intersects_bbox(near, filled=False):
                return False
            if np.any((xy[:, 0] >= near.x0) & (xy[:, 0] <= near.x1)
                      & (xy[:, 1] >= near.y0) & (xy[:, 1] <= near.y1)):
                return False
        return True

    first = None
    for x, ha in _LABEL_SPOTS:
        for va, dy in (("bottom", pad_pt), ("top", -pad_pt)):
            label = ax.annotate(text, (x, y), xycoords=("axes fraction", "data"),
                                xytext=(0, dy), textcoords="offset points", ha=ha, va=va,
                                **kw)
            if clear(label.get_window_extent(renderer).padded(pad_px)):
                if first is not None:
                    first.remove()
                return label
            if first is None:
                first = label
            else:
                label.remove()
    return first
