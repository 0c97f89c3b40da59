"""Parameter flags shared by the subcommands: preset < --config file < individual flags."""

from __future__ import annotations

import argparse
import math
import re

from .._checks import ParameterError, SourceError, check_out_dir
from ..params import PARAM_INFO, PRESETS, ProtocolParams, load_toml, preset, resolve_params

__all__ = ["check_out_dir", "positive_int", "add_param_flags", "params_from_args",
           "FLAG_TO_FIELD", "cli_message", "cli_text", "parser_flags"]

#: command-line flag destination -> ProtocolParams field (generated from PARAM_INFO)
FLAG_TO_FIELD = {info.flag[2:].replace("-", "_"): name for name, info in PARAM_INFO.items()}

#: fields that only a single-point command takes as flags (sweeps make them axes)
POINT_FIELDS = ("loss_order", "alpha")


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (workers, processes, counts)."""
    n = _int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {n}")
    return n


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def _help(name: str, shown: dict) -> str:
    info = PARAM_INFO[name]
    unit = "" if info.unit == "1" else f", in {info.unit}"
    if name in shown:
        text = shown[name]
    else:
        default = ProtocolParams.__dataclass_fields__[name].default
        text = "" if default is None or name in POINT_FIELDS else f" (default {default})"
    return f"{info.help}{unit}{text}"


def _shown_defaults(defaults, defaults_from, preset_fields) -> dict:
    """field -> the " (default ...)" text of its help, for a command's own defaults."""
    shown = {}
    if defaults_from is not None:
        values = preset(defaults_from)
        for name in preset_fields if preset_fields is not None else values:
            if name in values:
                shown[name] = f" (default: preset {defaults_from}: {values[name]})"
            else:  # the preset leaves it to ProtocolParams
                default = ProtocolParams.__dataclass_fields__[name].default
                shown[name] = f" (default: preset {defaults_from}: {default})"
    for name, value in (defaults or {}).items():
        shown[name] = f" (default {value})"
    return shown


def add_param_flags(p: argparse.ArgumentParser, *, point: bool = True, exclude=(),
                    defaults: dict | None = None, defaults_from: str | None = None,
                    preset_fields=None) -> None:
    """Add --preset, --config and one flag per protocol parameter (defaults: unset).

    The flags, their types, choices and help texts come from
    :data:`catbell_qutip.params.PARAM_INFO`; ``point=False`` leaves out ``--loss-order``
    and ``--alpha`` (commands that scan or solve for them), ``exclude`` hides from
    ``--help`` further fields a command refuses (``exclude=("length_km",)``). The help
    shows each field's :class:`~catbell_qutip.params.ProtocolParams` default unless the
    command has its own:
    ``defaults`` (field -> value, e.g. ``{"length_km": 5.0}``) and ``defaults_from`` (a
    preset the command starts from, shown as "(default: preset repro-base: lumped)";
    ``preset_fields`` restricts it to the fields the command takes from it).
    """
    shown = _shown_defaults(defaults, defaults_from, preset_fields)
    g = p.add_argument_group("protocol parameters (flag beats --config beats --preset)")
    g.add_argument("--preset", action="append", metavar="NAME",
                   help=f"named preset: {', '.join(PRESETS())}; repeat to layer presets "
                        "(a later --preset beats an earlier one)")
    g.add_argument("--config", metavar="FILE.toml", help="TOML file of parameter = value lines")
    for name, info in PARAM_INFO.items():
        if name in POINT_FIELDS and not point:
            continue
        # an excluded flag is still parsed (hidden from --help), so that the command's
        # refusal can say what to give instead
        kw = {"help": argparse.SUPPRESS if name in exclude else _help(name, shown)}
        if info.kind == "choice":
            kw["choices"] = list(info.choices)
        else:
            kw["type"] = _int if info.kind == "loss_order" else _float
        g.add_argument(info.flag, dest=info.flag[2:].replace("-", "_"), **kw)


def layers_from_args(args) -> list[dict]:
    """The parameter layers (presets in the order given, config file, flags) in increasing
    priority, merged by :func:`catbell_qutip.params.merge_layers` (later beats earlier).

    Records on ``args._sources`` where each field's value comes from ("flag", "config file
    'c.toml'", "preset 'table1'"), so that an error about it names that origin
    (:func:`cli_message`); fields set nowhere map to None.
    """
    layers = []
    sources: dict = dict.fromkeys(PARAM_INFO)
    for name in getattr(args, "preset", None) or ():
        layers.append(preset(name))
        sources.update(dict.fromkeys(layers[-1], f"preset {name!r}"))
    if getattr(args, "config", None):
        layers.append(load_toml(args.config))
        sources.update(dict.fromkeys(layers[-1], f"config file {str(args.config)!r}"))
    flags = {}
    for dest, field in FLAG_TO_FIELD.items():
        v = getattr(args, dest, None)
        if v is not None:
            flags[field] = v
    if "t_c_s" in flags and math.isinf(flags["t_c_s"]):
        flags["t_c_s"] = math.inf
    layers.append(flags)
    sources.update(dict.fromkeys(flags, "flag"))
    args._sources = sources
    return layers


def params_from_args(args, **defaults):
    """Resolve ProtocolParams from ``defaults`` < preset < config < flags."""
    return resolve_params(defaults, *layers_from_args(args))


# -- API messages in command-line terms: the one place this happens ------------------------
#
# The package validates every argument once, in the API (catbell_qutip._checks and the
# functions that own each argument), and writes its messages in the API's own terms:
# argument names (``key_alpha_max = 1e4 is outside ...``, a ParameterError whose ``field``
# names the argument) and ``name=value`` advice (``use engine='coherent'``). A command only
# translates those words with :func:`cli_message`; it never re-checks a value.

#: API phrases the command line spells differently, for every command
_API_WORDS = {"cutoff=None": "no --cutoff"}
#: per-command phrases: an API argument whose flag has another name, or advice that only
#: makes sense in one command
_COMMAND_WORDS = {
    "simulate": {"evaluate fewer points per call, a lower loss_order or a smaller alpha":
                 "give a lower --loss-order or a smaller --alpha",
                 "simulate() takes one parameter point; use evaluate() for arrays":
                 "simulate takes one value per parameter"},
    "sweep": {"store=PATH": "--out STORE.zarr", "force=True": "--force"},
    "repeater": {"fewer distances": "fewer --num-lengths"},
}
#: per-command API arguments whose flag has another name
_COMMAND_FLAGS = {"sweep": {"store": "--out"}, "thresholds": {"n_grid": "--grid"}}
#: ``name=value`` advice: a quoted string, a number, None, or a placeholder in capitals
_API_ARG = re.compile(r"\b([a-z][a-z0-9_]*)=(?:'([^']*)'|([-+0-9.e]+|None|[A-Z]+)"
                      r"(?![-+0-9.e:,\w]))")


def parser_flags(parser) -> dict:
    """{destination: long flag} of a command's parser, subgroups included."""
    out = {}
    for action in getattr(parser, "_actions", ()):
        longs = [o for o in action.option_strings if o.startswith("--")]
        if longs:
            out[action.dest] = longs[0]
    return out


def _flag(name: str, flags: dict | None) -> str:
    if name.startswith("-"):  # already a flag (check_out_dir(path, "--out"))
        return name
    if flags and name in flags:
        return flags[name]
    info = PARAM_INFO.get(name)
    return info.flag if info is not None else "--" + name.replace("_", "-")


def cli_text(text: str, command: str | None = None, *, flags: dict | None = None) -> str:
    """A message or note written in API terms, in command-line terms, on one line.

    ``engine='coherent'`` becomes ``--engine coherent``, ``workers=N`` ``--workers N``,
    ``use cutoff >= 12`` ``use --cutoff >= 12``; an underscored argument name that this
    command has as a flag (``key_alpha_max``, ``length_km``) becomes that flag, unless it is
    quoted or part of ``name=value`` text: then it is a value (an axis ``'eta_int'``), not
    an argument. Names
    without an underscore (``alpha``, ``usd``) are ordinary words in running text and stay.
    ``flags``: the command's {destination: flag} (:func:`parser_flags`).
    """
    flags = {**(flags or {}), **_COMMAND_FLAGS.get(command, {})}
    msg = " ".join(str(text).split())
    for api, cli in [*_COMMAND_WORDS.get(command, {}).items(), *_API_WORDS.items()]:
        msg = msg.replace(api, cli)
    msg = _API_ARG.sub(lambda m: f"{_flag(m[1], flags)} "
                                 f"{m[2] if m[2] is not None else m[3]}", msg)
    msg = re.sub(r"\buse (cutoff|tol) ", lambda m: f"use {_flag(m[1], flags)} ", msg)
    given = set(flags.values())
    names = {d: f for d, f in flags.items() if "_" in d}
    names.update({n: i.flag for n, i in PARAM_INFO.items() if "_" in n and i.flag in given})
    for name, flag in names.items():
        msg = re.sub(rf"(?<![\w'\-=]){name}(?![\w'=])", flag, msg)
    return msg


def cli_message(exc: ValueError, command: str | None = None, *, flags: dict | None = None,
                sources: dict | None = None) -> str:
    """An API error message in command-line terms (:func:`cli_text`), on one line.

    A message about one argument (:class:`~catbell_qutip._checks.ParameterError` with a
    ``field``) starts with that argument's name; it is replaced by where the value came
    from: its flag (``--alpha = -1 is outside ...``), or, for a protocol parameter set by a
    preset or a config file and not by a flag, that file and key
    (``config file 'c.toml': loss_order ...``). ``sources`` maps fields to their origin
    (:func:`layers_from_args` records it); without it, a field is named by its flag. A
    :class:`~catbell_qutip._checks.SourceError` (a bad value in a file) is shown as it is.
    """
    msg = " ".join(str(exc).split())
    if isinstance(exc, SourceError):  # about a file's key: said in the file's terms
        return msg
    field = getattr(exc, "field", None) if isinstance(exc, ParameterError) else None
    flags = {**(flags or {}), **_COMMAND_FLAGS.get(command, {})}
    if field and re.match(rf"{re.escape(field)}\b", msg):
        origin = (sources or {}).get(field, "flag") if field in PARAM_INFO else "flag"
        if origin == "flag":
            head = _flag(field, flags)
        elif origin is None:  # a default nobody set: keep the parameter's name
            head = field
        else:
            head = f"{origin}: {field}"
        rest = msg[len(field):]
        return head + (" " if rest.startswith(" ") else "") + cli_text(rest, command,
                                                                        flags=flags)
    return cli_text(msg, command, flags=flags)
