"""Every command shown in the documentation runs as written.

Extracts each ``catbell ...`` and ``python -c ...`` command from the fenced shell blocks
(```bash, ```sh, ```shell, ```console, or no language) of README.md, REPRODUCTION.md and
docs/*.md: continuation lines (trailing backslash) are joined, a ``$ `` prompt and shell
comments are dropped, and ``a && b`` chains are split. Every ``catbell`` command is parsed
by the real argument parser (so a misspelt flag or a bad value fails here); the cheap ones
run in-process from the repository root and must exit 0; ``python -c`` lines run in a
subprocess. Commands that take minutes are only parsed, by :data:`SKIP` (what, and why).
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from catbell_qutip.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "REPRODUCTION.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_LANGS = {"", "bash", "sh", "shell", "console", "zsh"}

#: command prefix (after ``catbell``) -> why it is only parsed, not run
SKIP = {
    "reproduce": "minutes on the full grids (tests/test_reproduce.py runs --quick end to end)",
    "sweep": "starts a process pool or needs a Dask scheduler and writes a store "
             "(tests/test_sweep.py runs sweeps end to end)",
    "bench": "the benchmarks take minutes and write docs/bench/",
    "codes": "minutes on the default grids (tests/test_codecompare.py runs --quick end to end)",
    "thresholds": "root finding on the default 25-point grids takes ~15 s "
                  "(tests/test_thresholds.py checks the thresholds); run with --grid <= 8",
}


def _blocks(text: str):
    """Bodies of the fenced blocks whose language is a shell (or unspecified)."""
    for m in re.finditer(r"^(`{3,}|~{3,})[ \t]*([^\n`]*)\n(.*?)^\1[ \t]*$", text, re.S | re.M):
        lang = m.group(2).strip().split()[0].lower() if m.group(2).strip() else ""
        if lang in SHELL_LANGS:
            yield m.group(3)


def _commands(body: str):
    """Shell commands of one block: continuations joined, prompts and comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", body)
    for line in joined.splitlines():
        line = line.strip()
        if line.startswith("$ "):
            line = line[2:]
        if not line or line.startswith("#"):
            continue
        try:
            words = shlex.split(line, comments=True)
        except ValueError:  # an unbalanced quote: a heredoc body or prose, not a command
            continue
        cmd: list[str] = []
        for w in [*words, "&&"]:
            if w in ("&&", "||", ";"):
                if cmd:
                    yield cmd
                cmd = []
            else:
                cmd.append(w)


def documented_commands() -> list[tuple[str, list[str]]]:
    found = []
    for path in DOCS:
        if not path.is_file():
            continue
        for body in _blocks(path.read_text(encoding="utf-8")):
            for cmd in _commands(body):
                if cmd[0] == "catbell" or cmd[:2] == ["python", "-c"]:
                    found.append((path.name, cmd))
    return found


COMMANDS = documented_commands()


def _small_thresholds(args) -> bool:
    """``catbell thresholds`` on a grid of at most 8 points runs in seconds: run it."""
    return args.command == "thresholds" and args.grid is not None and args.grid <= 8


def test_the_docs_show_commands():
    """The extraction finds the README's commands (a broken extractor would test nothing)."""
    assert sum(c[0] == "catbell" for _, c in COMMANDS) >= 5
    assert any(c[1] == "simulate" for _, c in COMMANDS)


@pytest.mark.parametrize("doc,cmd", COMMANDS,
                         ids=[f"{d}:{' '.join(c)[:70]}" for d, c in COMMANDS])
def test_documented_command_runs(doc, cmd, monkeypatch):
    monkeypatch.chdir(ROOT)
    if cmd[0] == "python":
        proc = subprocess.run([sys.executable, *cmd[1:]], capture_output=True, text=True,
                              timeout=120, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr
        return
    argv = cmd[1:]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as exc:  # --help, --version, or a parse error (code 2)
            assert exc.code == 0, err.getvalue()
            return
    for path in (getattr(args, "spec", None), getattr(args, "config", None)):
        if path is not None:
            assert (ROOT / path).is_file(), f"{path} (named in {doc}) does not exist"
    if argv and argv[0] in SKIP and "--help" not in argv and not _small_thresholds(args):
        return
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    assert code == 0, err.getvalue()


def test_package_speaks_only_of_itself():
    """No issue numbers, "the issue", or a MODEL.md that does not exist in the product's
    code, benchmarks and documentation (the specification is docs/model.md)."""
    pattern = re.compile(r"MODEL\.md|(?i:\bissues? ?#?\d|\bthe issue\b|\bissue's\b)")
    files = [*ROOT.joinpath("catbell_qutip").rglob("*.py"),
             *ROOT.joinpath("catbell_qutip").rglob("*.toml"),
             *ROOT.joinpath("benchmarks").glob("*.py"),
             *ROOT.joinpath("notebooks").glob("*.ipynb"),
             ROOT / "README.md", *ROOT.joinpath("docs").glob("*.md")]
    hits = []
    for f in files:
        if f.name == "model.md":  # the specification itself may cite its sources
            continue
        for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                hits.append(f"{f.relative_to(ROOT)}:{i}: {line.strip()[:80]}")
    assert not hits, "\n".join(hits)
