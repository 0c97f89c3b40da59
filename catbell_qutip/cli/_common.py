"""Parameter flags shared by the subcommands: preset < --config file < individual flags."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import math
import os
import re
import shutil
import signal
import tempfile
import threading
from pathlib import Path

from .._checks import ParameterError, SourceError, check_out_dir
from ..params import (
    ALPHA_CODES,
    PARAM_INFO,
    PRESETS,
    ProtocolParams,
    load_toml,
    preset,
)

__all__ = ["check_out_dir", "positive_int", "add_param_flags", "FLAG_TO_FIELD",
           "code_engine", "did_you_mean", "staged_output", "remove_partial_output",
           "cli_message", "cli_text", "parser_flags"]

#: command-line flag destination -> ProtocolParams field (generated from PARAM_INFO)
FLAG_TO_FIELD = {info.flag[2:].replace("-", "_"): name for name, info in PARAM_INFO.items()}

#: fields that only a single-point command takes as flags (sweeps make them axes)
POINT_FIELDS = ("loss_order", "alpha")

#: the default of a field whose ProtocolParams default is None (unset), in words
_UNSET_DEFAULTS = {
    "eta_c": "1, or eta_dc x eta_uc when those are given",
    "eta_dc": "1; give it with --eta-uc instead of --eta-c: eta_c = eta_dc x eta_uc",
    "eta_uc": "1; give it with --eta-dc instead of --eta-c: eta_c = eta_dc x eta_uc",
}


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
        if name in POINT_FIELDS:
            text = ""
        elif default is None:
            text = f" (default {_UNSET_DEFAULTS[name]})" if name in _UNSET_DEFAULTS else ""
        else:
            text = f" (default {default})"
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
                if default is None:
                    default = _UNSET_DEFAULTS.get(name, "unset")
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
            kw["type"] = _int if info.kind in ("loss_order", "int") else _float
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
    # the codes it compares are --loss-orders; one of them is "l" in its messages
    "thresholds": {"loss_order = ": "l = "},
}
#: per-command API arguments whose flag has another name
_COMMAND_FLAGS = {"sweep": {"store": "--out"}, "thresholds": {"n_grid": "--grid"},
                  "finite-key": {"n": "--rounds"}}
#: ``name=value`` advice: a quoted string, a number, None, or a placeholder in capitals
_API_ARG = re.compile(r"\b([a-z][a-z0-9_]*)=(?:'([^']*)'|([-+0-9.e]+|None|[A-Z]+)"
                      r"(?![-+0-9.e:,\w]))")


#: advice to change a value: "a smaller alpha", "a lower loss_order", "fewer workers",
#: "a smaller alpha or squeezing"; a word that names one of the command's flags (its
#: destination) is that flag
_ADVICE = re.compile(r"\b((?:a |an )?(?:smaller|lower|larger|higher|shorter|longer|fewer|more) )"
                     r"([a-z][a-z0-9_]*(?: or [a-z][a-z0-9_]*)*)\b(?![=\w'])")


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
    without an underscore (``alpha``, ``usd``) are ordinary words in running text and stay,
    except in advice to change them (``use a smaller alpha or squeezing``), where a name
    this command has as a flag becomes it (``use a smaller --alpha or --squeezing``).
    ``flags``: the command's {destination: flag} (:func:`parser_flags`).

    >>> cli_text("use a smaller alpha or squeezing", flags={"alpha": "--alpha",
    ...                                                      "squeezing": "--squeezing"})
    'use a smaller --alpha or --squeezing'
    >>> cli_text("--x eta_c: give NAME=START:STOP:NUM", flags={"eta_c": "--eta-c"})
    '--x eta_c: give NAME=START:STOP:NUM'
    >>> cli_text("use a smaller alpha or squeezing")  # no such flags: words
    'use a smaller alpha or squeezing'
    """
    flags = {**(flags or {}), **_COMMAND_FLAGS.get(command, {})}
    msg = " ".join(str(text).split())
    for api, cli in [*_COMMAND_WORDS.get(command, {}).items(), *_API_WORDS.items()]:
        msg = msg.replace(api, cli)
    msg = _API_ARG.sub(lambda m: f"{_flag(m[1], flags)} "
                                 f"{m[2] if m[2] is not None else m[3]}", msg)
    msg = re.sub(r"\buse (cutoff|tol) ", lambda m: f"use {_flag(m[1], flags)} ", msg)
    if flags:  # advice on a value: "a smaller alpha or squeezing" -> "--alpha or --squeezing"
        msg = _ADVICE.sub(lambda m: m[1] + " or ".join(flags.get(w, w) for w in
                                                       m[2].split(" or ")), msg)
    given = set(flags.values())
    names = {d: f for d, f in flags.items() if "_" in d}
    names.update({n: i.flag for n, i in PARAM_INFO.items() if "_" in n and i.flag in given})
    for name, flag in names.items():  # not a flag's value: "--x eta_c" names an axis
        msg = re.sub(rf"(--[\w-]+ )?(?<![\w'\-=]){name}(?![\w'=])",
                     lambda m, flag=flag: m[0] if m[1] else flag, msg)
    return msg


def cli_message(exc: ValueError, command: str | None = None, *, flags: dict | None = None,
                sources: dict | None = None) -> str:
    """An API error message in command-line terms
    (:func:`~catbell_qutip.cli._common.cli_text`), on one line.

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
    if field and re.match(rf"{re.escape(field)}\b(?!=)", msg):  # not name=value advice
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


def code_engine(engine, fields: dict, *, command: str, solves: str | None = None) -> str:
    """The engine a command runs for the code of ``fields`` (docs/model.md 7), or a
    one-line refusal in flags.

    ``engine`` is the command's --engine (None: not given). Cat codes default to the
    coherent engine, the other families run on the Fock engine only. ``solves`` names what
    the command solves the amplitude alpha for ("a common --rate-hz", ...): codes without
    an amplitude (binomial) are then refused, since they have nothing to solve.
    """
    code = fields.get("code", "cat")
    if code == "cat":
        return engine or "coherent"
    if solves and code not in ALPHA_CODES:
        raise ValueError(f"--code {code}: catbell {command} solves the amplitude --alpha for "
                         f"{solves}, and a {code} code has none (its P is fixed); compare "
                         "codes with catbell codes, or give --code squeezed-cat")
    if engine == "coherent":
        raise ValueError(f"--engine coherent computes cat codes only; --code {code} runs on "
                         "--engine fock")
    return "fock"


def did_you_mean(word: str, candidates) -> str:
    """``"; did you mean X?"`` for the closest candidate (:func:`difflib.get_close_matches`),
    or ``""`` when none is close.

    >>> did_you_mean("simulat", ["simulate", "sweep"])
    '; did you mean simulate?'
    >>> did_you_mean("--alpah", ["--alpha", "--eta"])
    '; did you mean --alpha?'
    >>> did_you_mean("xyz", ["simulate"])
    ''

    Flags are compared without their leading dashes, which every flag shares: with them,
    ``--loss-orders`` was "close" to ``--workers`` (0.64 against 0.56 without).

    >>> did_you_mean("--loss-orders", ["--workers", "--quick"])
    ''
    """
    names = {c.lstrip("-"): c for c in candidates}
    close = difflib.get_close_matches(word.lstrip("-"), list(names), n=1, cutoff=0.6)
    return f"; did you mean {names[close[0]]}?" if close else ""


#: staging folder -> the folders made for it, while a :func:`staged_output` block runs
#: (what :func:`remove_partial_output` removes when the command must stop at once)
_ACTIVE_STAGES: dict[Path, list[Path]] = {}


def _remove_stage(stage: Path, created: list[Path]) -> None:
    shutil.rmtree(stage, ignore_errors=True)
    for folder in created:  # deepest first
        with contextlib.suppress(OSError):
            folder.rmdir()


def remove_partial_output() -> int:
    """Remove the staging folders of every :func:`staged_output` block still open (and the
    folders made for them): the last act of a command stopped without unwinding. Returns
    how many were removed."""
    stages = list(_ACTIVE_STAGES.items())
    for stage, created in stages:
        _remove_stage(stage, created)
        _ACTIVE_STAGES.pop(stage, None)
    return len(stages)


@contextlib.contextmanager
def _sigint_deferred():
    """Hold Ctrl-C back for the duration (main thread only); raise it afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda *_: caught.append(True))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt("the output was complete and is kept")


@contextlib.contextmanager
def staged_output(out):
    """A command's output folder, written all at once: yields a hidden staging folder
    inside ``out`` to write into, and moves its files into ``out`` when the block ends.

    If the block raises (Ctrl-C included), the staging folder is removed, and so are the
    folders this call created for ``out`` if they are empty: ``out`` never holds a partial
    set of files that looks complete, and the files of an earlier run stay as they were.
    The final move runs with Ctrl-C held back. A Ctrl-C inside the block is re-raised as
    :class:`KeyboardInterrupt` whose message says what was left (``catbell`` prints it
    on its one line, exit code 130).

    Parameters
    ----------
    out : str or Path
        The output folder (created with its parents if missing).

    Yields
    ------
    Path
        The staging folder, ``out/.partial-*``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> with staged_output(root / "res") as stage:
    ...     _ = (stage / "a.txt").write_text("done")
    >>> sorted(p.name for p in (root / "res").iterdir())
    ['a.txt']
    >>> try:
    ...     with staged_output(root / "res2") as stage:
    ...         _ = (stage / "b.txt").write_text("half")
    ...         raise KeyboardInterrupt
    ... except KeyboardInterrupt as exc:
    ...     print(exc)
    ...     print((root / "res2").exists())
    nothing written to ... (partial files removed)
    False
    """
    out = Path(out)
    created = []
    d = out
    while not d.exists() and d != d.parent:
        created.append(d)
        d = d.parent
    out.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".partial-", dir=out))
    _ACTIVE_STAGES[stage] = created
    try:
        yield stage
    except BaseException as exc:
        _ACTIVE_STAGES.pop(stage, None)
        _remove_stage(stage, created)
        if isinstance(exc, KeyboardInterrupt):
            what = (f"nothing written to {out}" if created else f"{out} left as it was")
            raise KeyboardInterrupt(f"{what} (partial files removed)") from None
        raise
    with _sigint_deferred():
        for path in sorted(stage.rglob("*")):
            target = out / path.relative_to(stage)
            if path.is_dir():
                target.mkdir(exist_ok=True)
            else:
                os.replace(path, target)
        _ACTIVE_STAGES.pop(stage, None)
        shutil.rmtree(stage, ignore_errors=True)
