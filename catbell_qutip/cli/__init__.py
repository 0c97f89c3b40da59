"""The ``catbell`` command. Each subcommand lives in its own module of this package and
exposes ``add_parser(subparsers)`` and ``run(args) -> int``.

Only the module of the subcommand being run is imported (with the engines, SciPy and
QuTiP it needs): ``catbell --help`` lists every subcommand from :data:`SUBCOMMANDS`, and
``catbell --version`` imports nothing more, so both answer at once.

Exit codes of every subcommand: 0 done, 2 bad input (one line on stderr, in the command
line's terms), 130 interrupted (Ctrl-C: one line on stderr; files being written are
removed, see :func:`catbell_qutip.cli._common.staged_output`), 141 the reader closed the
pipe; ``sweep`` and ``bench`` add 1 for a failed check.
"""

from __future__ import annotations

import argparse
import importlib
import multiprocessing
import os
import re
import signal
import sys
import textwrap
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from .._threads import limited_blas
from ._common import cli_message, did_you_mean, parser_flags, remove_partial_output

__all__ = ["main", "console_main", "SUBCOMMANDS", "EXIT_INTERRUPTED"]

#: subcommand name -> (module of this package, one-line help: the subcommand's own)
SUBCOMMANDS = {
    "simulate": ("simulate", "simulate one protocol point"),
    "sweep": ("sweep", "parameter sweep into a resumable Zarr store"),
    "thresholds": ("thresholds", "efficiency thresholds where S_l = S_0 (docs/model.md 6)"),
    "reproduce": ("reproduce", "reproduce every figure panel of the paper and answer its "
                               "claims"),
    "bench": ("bench", "truncation-convergence and speed benchmarks"),
    "repeater": ("repeater", "repeater chains: key rate and S vs total distance"),
    "advantage": ("advantage", "which loss order wins over a grid of two parameters"),
    "finite-key": ("finite_key", "finite-size DI-QKD: key length, rounds and time to a "
                                 "first key"),
    "presets": ("presets", "list the named presets, or show what one sets"),
    "codes": ("codes", "which rotation-symmetric code (cat, squeezed cat, binomial) wins"),
}


def summary(name: str) -> str:
    """The one-line help of subcommand ``name`` (one home: ``catbell --help`` and the
    subcommand's own parser both read it)."""
    return SUBCOMMANDS[name][1]


#: the glossary every --help points to (in a source checkout)
ROOT_GLOSSARY = Path(__file__).resolve().parents[2] / "docs" / "glossary.md"

#: the last paragraph of every --help: where the terms are defined
EPILOG = ("Terms (USD, TUB, CHSH, DI-QKD, PLOB, Pauli frame, loss order, h(Q), chi(S), R_eg, "
          "...): docs/glossary.md, or the Glossary section of README.md.")

#: exit code of a command stopped by Ctrl-C (128 + SIGINT, as shells report it)
EXIT_INTERRUPTED = 130

#: seconds a command has, after Ctrl-C, to unwind (remove its partial files, stop its
#: workers) before :func:`console_main` stops it at once
UNWIND_S = 5.0


class _HelpFormatter(argparse.HelpFormatter):
    """Help text wrapped at spaces only: ``repro-fig4b`` and ``--eta-int`` are never
    broken at their hyphens."""

    def _split_lines(self, text, width):
        text = self._whitespace_matcher.sub(" ", text).strip()
        return textwrap.wrap(text, width, break_on_hyphens=False, break_long_words=False)

    def _fill_text(self, text, width, indent):
        text = self._whitespace_matcher.sub(" ", text).strip()
        return textwrap.fill(text, width, initial_indent=indent, subsequent_indent=indent,
                             break_on_hyphens=False, break_long_words=False)


_INVALID_CHOICE = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``catbell CMD: error: MSG (see catbell CMD --help)``
    and exit 2, without the usage block, with a "did you mean" for a mistyped choice,
    subcommand or flag; help wrapped at spaces only, ending with :data:`EPILOG` (the
    subcommands' parsers are of this class too)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        kwargs.setdefault("epilog", EPILOG)
        super().__init__(*args, **kwargs)

    def error(self, message):
        message = " ".join(message.split())
        m = _INVALID_CHOICE.search(message)
        if m:
            message += did_you_mean(m[1], re.findall(r"'([^']*)'", m[2]))
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    #: flags this command does not take -> what it does instead (a subcommand sets it:
    #: ``catbell codes --loss-orders`` is no typo of any of its flags)
    not_taken: dict = {}

    def unrecognized(self, extra: list[str]):
        """Refuse arguments no option took, suggesting the closest flag for a mistyped one,
        or saying what the command does instead of a flag it does not take
        (:attr:`not_taken`)."""
        flags = [f for f in self._option_string_actions if f.startswith("--")]
        hint = ""
        for word in extra:
            if word.startswith("-"):
                flag = word.split("=", 1)[0]
                hint = (f"; {self.prog} takes no {flag}: {self.not_taken[flag]}"
                        if flag in self.not_taken else did_you_mean(flag, flags))
                if hint:
                    break
        self.error(f"unrecognized arguments: {' '.join(extra)}{hint}")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``catbell`` parser; only ``command``'s own parser is built in full (its module
    imported), the others are listed by name and summary."""
    parser = _Parser(
        prog="catbell",
        description="Bell tests and DI-QKD between cavity atoms entangled through cat-code "
                    "light pulses (docs/model.md).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, text) in SUBCOMMANDS.items():
        if name != command:
            sub.add_parser(name, help=text, add_help=False)
            continue
        mod = importlib.import_module(f"{__name__}.{module}")
        p = mod.add_parser(sub)
        p.set_defaults(_run=mod.run, _parser=p)
    return parser


def _command(argv) -> str | None:
    """The subcommand named in ``argv`` (the first word that is one), or None."""
    for word in argv:
        if word in SUBCOMMANDS:
            return word
        if not word.startswith("-"):
            return None
    return None


def _version() -> str:
    try:
        return version("catbell_qutip")
    except PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
        return "unknown"


def _prog(args, command: str | None) -> str:
    """The command as its messages name it: the parser's own name once the arguments are
    parsed (``catbell bench convergence``, as argparse's errors say), else ``catbell CMD``."""
    parser = getattr(args, "_parser", None)
    if parser is not None:
        return parser.prog
    return f"catbell{' ' + command if command else ''}"


def main(argv=None) -> int:
    """Entry point. Bad input exits with code 2 and a one-line message on stderr, in the
    command line's own terms (:func:`~catbell_qutip.cli._common.cli_message`); Ctrl-C
    exits with code 130 and one line (:data:`EXIT_INTERRUPTED`)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    command = _command(argv)
    args = None
    try:
        parser = build_parser(command)
        args, extra = parser.parse_known_args(argv)
        if extra:  # named by the subcommand that refuses them, not by the top-level parser
            args._parser.unrecognized(extra)
        with limited_blas():  # one BLAS thread (catbell_qutip/_threads.py)
            return int(args._run(args) or 0)
    except ValueError as exc:
        flags = parser_flags(args._parser) if args is not None else None
        msg = cli_message(exc, command, flags=flags,
                          sources=getattr(args, "_sources", None))
        print(f"{_prog(args, command)}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        _close_progress_bars()
        note = f"; {exc.args[0]}" if exc.args else ""
        print(f"{_prog(args, command)}: interrupted (Ctrl-C){note}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader closed the pipe (catbell ... | head): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush error
        return 141  # 128 + SIGPIPE, what a shell reports for a program killed by it


_interrupt = {"reported": False, "received": False}


def _child_pids() -> list[int]:
    """The processes this one forked, from Linux's /proc (every thread's children); empty
    where /proc does not list them."""
    pids = []
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:  # pragma: no cover - not Linux
        return pids
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/children") as fh:
                pids += [int(p) for p in fh.read().split()]
        except (OSError, ValueError):
            continue
    return pids


def _kill_children() -> None:
    """Kill the command's worker processes: multiprocessing's, and any other child (a
    worker forked just as the Ctrl-C arrived is not registered with multiprocessing yet; it
    ignores Ctrl-C and would hold the terminal's output open forever)."""
    for child in multiprocessing.active_children():
        child.kill()
    for pid in _child_pids():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _close_progress_bars() -> None:
    """Close every live tqdm progress bar before the interrupted line is printed: its last
    redraw and newline then come before the line, not after it (a bar left open is
    closed by its finaliser once the traceback is freed, and redraws itself then).
    Nothing to do when no command imported tqdm."""
    std = sys.modules.get("tqdm.std")
    for bar in list(getattr(getattr(std, "tqdm", None), "_instances", ())):
        try:
            bar.close()
        except Exception:  # noqa: BLE001 - a bar that cannot redraw must not hide the line
            pass


def _stop_now(command: str | None) -> None:
    """Stop the process at once after Ctrl-C: one line (unless already printed), partial
    output and worker processes removed, exit code 130, no interpreter shutdown."""
    removed = remove_partial_output()
    _close_progress_bars()
    if not _interrupt["reported"]:
        _interrupt["reported"] = True
        note = "; partial files removed" if removed else ""
        print(f"catbell{' ' + command if command else ''}: interrupted (Ctrl-C){note}",
              file=sys.stderr)
    _kill_children()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(EXIT_INTERRUPTED)


def console_main() -> None:
    """The ``catbell`` executable (and ``python -m catbell_qutip``): :func:`main`, with
    Ctrl-C made dependable.

    The first Ctrl-C raises :class:`KeyboardInterrupt`, so the command unwinds (partial
    files removed, worker pools stopped) and :func:`main` prints its one line; if the
    command has not stopped :data:`UNWIND_S` seconds later (a library lock left held, as
    xarray's netCDF lock can be), or at a second Ctrl-C, or when the interrupt lands where
    Python swallows it (a ``__del__``, an at-fork hook: :func:`sys.unraisablehook`), it is
    stopped at once by :func:`_stop_now`; so is any other error that follows a Ctrl-C (an
    extension module whose import it interrupts raises ``ImportError``). Forked worker
    processes inherit a handler that ignores Ctrl-C: the command stops them (no traceback
    from a worker). After an interrupt the process
    leaves with ``os._exit(130)``, skipping interpreter shutdown, where a lock left held
    would hang it. ``main`` itself never exits the process, so tests call it in-process.
    """
    command = _command(sys.argv[1:])
    main_pid = os.getpid()

    def on_sigint(signum, frame):
        if os.getpid() != main_pid:  # a forked worker: the command stops it
            return
        _interrupt["received"] = True
        signal.signal(signal.SIGINT, lambda *_: _stop_now(command))
        if hasattr(signal, "setitimer"):
            signal.signal(signal.SIGALRM, lambda *_: _stop_now(command))
            signal.setitimer(signal.ITIMER_REAL, UNWIND_S)
        raise KeyboardInterrupt

    def on_unraisable(info):
        # a Ctrl-C that landed in a finaliser or an at-fork hook is swallowed there
        # ("Exception ignored in ..." and a traceback): stop now, with the one line
        if info.exc_type is not None and issubclass(info.exc_type, KeyboardInterrupt):
            _stop_now(command)
        sys.__unraisablehook__(info)

    signal.signal(signal.SIGINT, on_sigint)
    sys.unraisablehook = on_unraisable
    try:
        code = main()
    except BaseException:
        # a Ctrl-C can come out as another error: an extension module whose
        # initialisation it interrupts reports "ImportError: initialization failed"
        if _interrupt["received"]:
            _stop_now(command)
        raise
    if code == EXIT_INTERRUPTED:
        _interrupt["reported"] = True  # main printed the line
        _stop_now(command)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    console_main()
