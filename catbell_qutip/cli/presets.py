"""``catbell presets``: the named parameter sets, one line each; ``catbell presets NAME``:
every value a preset sets, as TOML (the preset's own file, comments included, then the
values it leaves to the defaults as comments), ready to save and edit for ``--config``.
"""

from __future__ import annotations

import math
import re
from importlib import resources

from ..params import PARAM_INFO, PRESETS, ProtocolParams, preset
from . import summary
from ._common import did_you_mean

__all__ = ["add_parser", "run", "describe", "preset_text"]

#: the sentence end that ends a description (not the dot of "Fig." or "Figs.")
_SENTENCE_END = re.compile(r"(?<!Fig)(?<!Figs)\.(?:\s|$)|;")


def add_parser(sub):
    p = sub.add_parser(
        "presets", help=summary("presets"),
        description="Without NAME: every preset of --preset NAME, one line each. With NAME: "
                    "every value that preset sets, as TOML (its file, comments included), "
                    "then the values it leaves to the defaults; save it, edit it and pass "
                    "it with --config FILE.toml.")
    p.add_argument("name", nargs="?", metavar="NAME", help="a preset to show")
    return p


def _file_text(name: str) -> str:
    return (resources.files("catbell_qutip") / "presets" / f"{name}.toml").read_text(
        encoding="utf-8")


def describe(name: str) -> str:
    """One line about a preset: the first sentence of its file's leading comment.

    >>> describe("table1")
    "The paper's Table I (state of the art), docs/model.md section 6"
    """
    lines = []
    for line in _file_text(name).splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    text = " ".join(lines)
    m = _SENTENCE_END.search(text)
    return (text[:m.start()] if m else text).strip() or "(no description)"


def _toml_value(v) -> str:
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    return repr(v)


def preset_text(name: str) -> str:
    """The TOML text ``catbell presets NAME`` prints: the preset's file, then every other
    parameter's default as a comment. Parsed with :mod:`tomllib` it gives exactly the
    values of :func:`catbell_qutip.params.preset`."""
    values = preset(name)  # raises ValueError for an unknown name
    body = _file_text(name).rstrip("\n")
    rest = []
    for field, info in PARAM_INFO.items():
        if field in values or field in ("loss_order", "alpha"):
            continue
        default = ProtocolParams.__dataclass_fields__[field].default
        shown = "unset" if default is None else _toml_value(default)
        rest.append(f"#   {field} = {shown}    ({info.long_name})")
    head = (f"# preset {name}: use it with --preset {name}, or save this text and pass it "
            "with --config FILE.toml")
    tail = ["", "# not set by this preset (ProtocolParams defaults; loss_order and alpha are "
                "always given):", *rest]
    return "\n".join([head, body, *tail])


def run(args) -> int:
    if args.name is None:
        names = PRESETS()
        width = max(len(n) for n in names)
        for n in names:
            print(f"{n:<{width}}  {describe(n)}")
        print(f"\n{len(names)} presets; 'catbell presets NAME' shows every value one sets, "
              "'--preset NAME' (repeatable, later wins) uses it")
        return 0
    if args.name not in PRESETS():
        raise ValueError(f"unknown preset {args.name!r}{did_you_mean(args.name, PRESETS())} "
                         f"(available: {', '.join(PRESETS())}; 'catbell presets' lists them)")
    print(preset_text(args.name))
    return 0
