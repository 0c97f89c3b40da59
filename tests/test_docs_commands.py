"""Every command shown in the documentation runs as written, and leaves the checkout and
the machine as they were.

Extracts each ``catbell ...`` and ``python -c ...`` command from the fenced shell blocks
(```bash, ```sh, ```shell, ```console, or no language) of README.md, REPRODUCTION.md and
docs/*.md: continuation lines (trailing backslash) are joined, a ``$ `` prompt and shell
comments are dropped, and ``a && b`` chains are split. Every ``catbell`` command is parsed
by the real argument parser (so a misspelt flag or a bad value fails here); the cheap ones
run in-process and must exit 0; ``python -c`` lines run in a subprocess. Commands that take
minutes are only parsed, by :data:`SKIP` (what, and why), and so are those shown only in
README's maintainers' refresh section (:data:`REFRESH_ONLY`); a command shown twice runs once.

They run in a sandbox, a temporary folder that stands for the repository root (a copy of
``examples/``, the inputs the commands name): relative outputs such as ``results/`` land
there, and an absolute output path (``--out /tmp/r``) is rewritten into it
(``SANDBOX/tmp/r``), so neither the checkout nor the machine is written to.
:func:`test_documented_commands_leave_checkout_and_machine_clean` checks that with
``git status --porcelain --ignored``.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from catbell_qutip.cli import _command, build_parser, main

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "REPRODUCTION.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_LANGS = {"", "bash", "sh", "shell", "console", "zsh"}

#: command prefix (after ``catbell``) -> why it is only parsed, not run
SKIP = {
    "reproduce": "minutes on the full grids (tests/test_reproduce.py runs --quick end to end)",
    "sweep": "starts a process pool or needs a Dask scheduler and writes a store "
             "(tests/test_sweep.py runs sweeps end to end)",
    "bench": "the benchmarks take minutes (tests/test_cli_bench.py checks where they write)",
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


def _refresh_only() -> set[str]:
    """Commands shown only in README's maintainers' refresh section: they remake the
    committed figures on the full grids (a minute each) and are parsed, not run."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- section:refresh -->(.*?)<!-- /section:refresh -->", text, re.S)
    if not m:
        return set()
    inside = {" ".join(c) for body in _blocks(m.group(1)) for c in _commands(body)
              if c[0] == "catbell"}
    rest = text[:m.start()] + text[m.end():]
    outside = {" ".join(c) for body in _blocks(rest) for c in _commands(body)}
    for path in DOCS[1:]:
        if path.is_file():
            outside |= {" ".join(c) for body in _blocks(path.read_text(encoding="utf-8"))
                        for c in _commands(body)}
    return inside - outside


REFRESH_ONLY = _refresh_only()

#: inputs the documented commands read, copied into the sandbox (read-only use): spec
#: files, and the benchmarks a `python -c` line imports from the repository root
INPUTS = ("examples", "benchmarks")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """A folder that stands for the repository root: the commands run there."""
    root = tmp_path_factory.mktemp("docs-sandbox")
    for name in INPUTS:
        shutil.copytree(ROOT / name, root / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    return root


def in_sandbox(argv: list[str], sandbox: Path) -> list[str]:
    """``argv`` with every absolute path (``/tmp/r``, ``--out=/x``) moved into the sandbox.

    >>> in_sandbox(["repeater", "--out", "/tmp/r", "--x=/a/b"], Path("/S"))
    ['repeater', '--out', '/S/tmp/r', '--x=/S/a/b']
    """
    out = []
    for word in argv:
        flag, eq, value = word.partition("=") if word.startswith("--") else ("", "", word)
        if value.startswith("/") and not value.startswith(str(sandbox)):
            value = str(sandbox / value.lstrip("/"))
        out.append(f"{flag}{eq}{value}")
    return out


def _small_thresholds(args) -> bool:
    """``catbell thresholds`` on a grid of at most 8 points runs in seconds: run it."""
    return args.command == "thresholds" and args.grid is not None and args.grid <= 8


def _finite_key_figures(args) -> bool:
    """``catbell finite-key --out`` computes every Fig. 4 curve (minutes): parse only
    (tests/test_cli_finite_key.py runs it end to end on a small grid)."""
    return args.command == "finite-key" and args.out is not None


def run_documented(doc: str, cmd: list[str], sandbox: Path) -> None:
    """Run one documented command in ``sandbox`` (in-process for ``catbell``); assert exit 0."""
    if cmd[0] == "python":
        for path in re.findall(r"'(results/[^']+)'", " ".join(cmd[2:])):
            if not (sandbox / path).exists():  # run alone (-k): make what it reads first
                run_documented(doc, _producer(path), sandbox)
        proc = subprocess.run([sys.executable, *cmd[1:]], capture_output=True, text=True,
                              timeout=120, cwd=sandbox)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip(), f"{' '.join(cmd)}: printed nothing"
        return
    argv = in_sandbox(cmd[1:], sandbox)
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(sandbox)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                args = build_parser(_command(argv)).parse_args(argv)
            except SystemExit as exc:  # --help, --version, or a parse error (code 2)
                assert exc.code == 0, err.getvalue()
                return
        for path in (getattr(args, "spec", None), getattr(args, "config", None)):
            if path is not None:
                assert (sandbox / path).is_file(), f"{path} (named in {doc}) does not exist"
        if argv and argv[0] in SKIP and "--help" not in argv and not _small_thresholds(args):
            return
        if " ".join(cmd) in REFRESH_ONLY or _finite_key_figures(args):
            return
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
        assert code == 0, err.getvalue()
        _check_output(argv, out.getvalue(), sandbox)
    finally:
        os.chdir(cwd)


def _check_physical(obj, where):
    """Every number is finite JSON, and S, F, P values lie in their ranges."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "S" and isinstance(v, float):
                assert 0.0 <= v <= 2 * math.sqrt(2) + 1e-12, (where, k, v)
            if k in ("F", "P") and isinstance(v, float):
                assert 0.0 <= v <= 1.0 + 1e-12, (where, k, v)
            _check_physical(v, where)
    elif isinstance(obj, list):
        for v in obj:
            _check_physical(v, where)


def _check_output(argv: list[str], stdout: str, cwd: Path) -> None:
    """What a documented command must leave: text on stdout; with ``--json`` a JSON
    document (no NaN or Infinity) with physical S, F, P; with ``--out`` a folder holding at
    least one non-empty file."""
    where = " ".join(argv)
    assert stdout.strip(), f"{where}: printed nothing"
    if "--json" in argv:
        def refuse(token):
            raise AssertionError(f"{where}: JSON holds {token}")

        _check_physical(json.loads(stdout, parse_constant=refuse), where)
    if "--out" in argv:
        out = cwd / argv[argv.index("--out") + 1]
        assert out.is_dir(), f"{where}: wrote no {out}"
        assert any(f.is_file() and f.stat().st_size > 0 for f in out.rglob("*")), where


def _out_of(cmd: list[str]) -> str | None:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            return getattr(build_parser(_command(cmd[1:])).parse_args(cmd[1:]), "out",
                           None)
        except SystemExit:
            return None


def _producer(path: str) -> list[str]:
    """The documented ``catbell`` command whose output folder holds ``path`` (the most
    specific one: ``results/advantage`` before ``results``)."""
    found = []
    for _, cmd in COMMANDS:
        out = _out_of(cmd) if cmd[0] == "catbell" else None
        if out is not None and path.startswith(out.rstrip("/") + "/"):
            found.append((len(out), cmd))
    assert found, f"no documented command writes {path}"
    return max(found, key=lambda f: f[0])[1]


def test_the_docs_show_commands():
    """The extraction finds the README's commands (a broken extractor would test nothing)."""
    assert sum(c[0] == "catbell" for _, c in COMMANDS) >= 5
    assert any(c[1] == "simulate" for _, c in COMMANDS)
    assert REFRESH_ONLY and all(c.startswith("catbell ") for c in REFRESH_ONLY)
    assert "catbell advantage" not in REFRESH_ONLY  # also in its own section: it runs


_UNIQUE: list = []
for _d, _c in COMMANDS:  # first occurrence of each command, in the docs' order
    if _c not in [c for _, c in _UNIQUE]:
        _UNIQUE.append((_d, _c))


@pytest.mark.parametrize("doc,cmd", _UNIQUE, ids=[f"{d}:{' '.join(c)[:70]}" for d, c in _UNIQUE])
def test_documented_command_runs(doc, cmd, sandbox):
    run_documented(doc, cmd, sandbox)


def _git_state() -> list[str]:
    """``git status --porcelain --ignored`` of the checkout, Python's caches aside."""
    proc = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--ignored",
                           "--untracked-files=all"], capture_output=True, text=True, check=True)
    return sorted(line for line in proc.stdout.splitlines()
                  if "__pycache__" not in line and ".egg-info" not in line)


def _absolute_outputs() -> list[Path]:
    """The absolute output paths the documentation names (``--out /tmp/r``)."""
    paths = set()
    for _, cmd in COMMANDS:
        for flag, value in zip(cmd, cmd[1:], strict=False):
            if flag in ("--out", "--verify") and value.startswith("/"):
                paths.add(Path(value))
    return sorted(paths)


def _stamp(path: Path):
    return (path.stat().st_mtime_ns, sorted(p.name for p in path.iterdir())
            if path.is_dir() else None) if path.exists() else None


#: a representative set: an output folder relative to the root, an absolute one, a
#: computation that writes nothing, and a `python -c` line that reads an output
REPRESENTATIVE = (
    ["catbell", "simulate", "--loss-order", "1", "--alpha", "1.2", "--eta", "0.7", "--json"],
    ["catbell", "repeater", "--out", "results/repeater", "--segments", "1", "2",
     "--loss-orders", "0", "--num-lengths", "4", "--length-max-km", "40", "--n-alpha", "12"],
    ["catbell", "repeater", "--preset", "table1", "--objective", "S", "--rate-hz", "1",
     "--out", "/tmp/r", "--segments", "1", "--loss-orders", "0", "--num-lengths", "3",
     "--length-max-km", "30", "--n-alpha", "12"],
    ["catbell", "presets", "table1"],
    ["python", "-c", "import json; print(json.load(open('results/repeater/summary.json'))"
                     "['grid_step_km'])"],
)


def test_documented_commands_leave_checkout_and_machine_clean(sandbox):
    """The documented commands wrote results/ into the checkout and /tmp/r onto the
    machine; run the way :func:`run_documented` runs them, they write into the sandbox
    only: the checkout's git status (ignored files included) and the absolute paths the
    docs name are unchanged, and the outputs are in the sandbox."""
    absolute = [*_absolute_outputs(), Path("/tmp/r")]
    before, stamps = _git_state(), {p: _stamp(p) for p in absolute}
    for cmd in REPRESENTATIVE:
        run_documented("test", cmd, sandbox)
    assert _git_state() == before
    assert {p: _stamp(p) for p in absolute} == stamps
    assert (sandbox / "results" / "repeater" / "summary.json").is_file()
    assert (sandbox / "tmp" / "r" / "summary.json").is_file()


def test_every_default_output_is_ignored_or_outside():
    """A newcomer following the README keeps `git status` clean: every documented command's
    output folder (its --out, or its default) is git-ignored or outside the checkout,
    except the maintainers' refresh of the committed copies (README, its own section)."""
    refresh = _section(ROOT / "README.md", "refresh")
    for doc, cmd in COMMANDS:
        if cmd[0] != "catbell" or " ".join(cmd) in refresh:
            continue
        out = _out_of(cmd)
        if out is None:
            continue
        path = Path(out)
        if path.is_absolute():
            assert ROOT not in path.parents, (doc, cmd)
            continue
        proc = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q",
                               str(ROOT / path / "x")])
        assert proc.returncode == 0, f"{doc}: {' '.join(cmd)} writes into tracked {out}/"


def _section(path: Path, name: str) -> str:
    text = path.read_text(encoding="utf-8")
    m = re.search(rf"<!-- section:{name} -->(.*?)<!-- /section:{name} -->", text, re.S)
    assert m, f"{path.name} has no section {name}"
    return " ".join(m.group(1).split())


def test_panel_point_is_one_command_and_its_numbers_are_printed():
    """README and REPRODUCTION.md give the 5 km point of Fig. 3(d) as one command with the
    alpha and S it prints; the numbers quoted are what the command prints (rounded), and
    what the rate solver gives independently of the command line."""
    from catbell_qutip.params import preset
    from catbell_qutip.rates import solve_at_rate

    cmd = "catbell simulate --preset repro-fig3d --loss-order 1 --rate-hz 3000 --length-km 5"
    ref = solve_at_rate(1, 3000.0, engine="coherent", **{**preset("repro-fig3d"),
                                                         "length_km": 5.0})
    for doc in ("README.md", "REPRODUCTION.md"):
        text = " ".join((ROOT / doc).read_text(encoding="utf-8").split())
        assert cmd in text, doc
        m = re.search(r"alpha = (\d\.\d+),? (?:and )?S = (\d\.\d+)", text.split(cmd, 1)[1])
        assert m, doc
        quoted_alpha, quoted_S = m.group(1), m.group(2)
        digits = len(quoted_alpha.split(".")[1])
        assert quoted_alpha == f"{float(ref['alpha']):.{digits}f}", doc
        assert quoted_S == f"{float(ref['S']):.{len(quoted_S.split('.')[1])}f}", doc
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(cmd.split()[1:]) == 0
    printed = dict(re.findall(r"^(alpha|S \(CHSH, Horodecki\))\s+([0-9.]+)", out.getvalue(),
                              re.M))
    assert float(printed["alpha"]) == pytest.approx(float(ref["alpha"]), rel=1e-9)
    assert float(printed["S (CHSH, Horodecki)"]) == pytest.approx(float(ref["S"]), abs=1e-9)


def test_reproduction_check_line_says_what_it_prints(sandbox):
    """REPRODUCTION.md's closed-form check said it "prints two numbers equal to 3e-16"; the
    two numbers are P and 2 (1 - F), about 3.7e-5 each, whose difference is 3e-16. The text
    now says what the command prints, and this test runs the command and compares."""
    text = " ".join((ROOT / "REPRODUCTION.md").read_text(encoding="utf-8").split())
    m = re.search(r'`(python -c "from catbell_qutip\.closed_forms[^`]*")` prints (.{0,200})',
                  text)
    assert m, "the closed-form check line is gone"
    proc = subprocess.run(shlex.split(m.group(1)), capture_output=True, text=True, cwd=sandbox,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    a, b = (float(v) for v in proc.stdout.split())
    claim = m.group(2)
    both = re.search(r"both ([0-9.]+e-?\d+)", claim)
    diff = re.search(r"difference is ([0-9.]+e-?\d+)", claim)
    assert both and diff, claim
    digits = len(both.group(1).split("e")[0].split(".")[1])
    assert f"{a:.{digits}e}".replace("e-0", "e-") == both.group(1)
    assert f"{b:.{digits}e}".replace("e-0", "e-") == both.group(1)
    assert abs(a - b) == pytest.approx(float(diff.group(1)), rel=0.5)


#: the terms a reader meets without the paper, and a word each definition must use
GLOSSARY = {"USD": "unambiguous", "TUB": "upper bound", "PLOB": "Pirandola", "CHSH": "Bell",
            "DI-QKD": "device-independent", "Pauli frame": "correction",
            "loss order": "photons", "h(Q)": "entropy", "chi(S)": "eavesdropper",
            "R_eg": "rate"}


@pytest.mark.parametrize("where", ["docs/glossary.md", "README.md"])
def test_glossary_defines_every_term(where):
    """Each term is there, and what follows it is its definition (it uses the word)."""
    text = (_section(ROOT / where, "glossary") if where == "README.md"
            else " ".join((ROOT / where).read_text(encoding="utf-8").split()))
    for term, word in GLOSSARY.items():
        assert term in text, f"{where}: {term} not defined"
        after = text.split(term, 1)[1][:400].lower()
        assert word.lower() in after, f"{where}: {term}'s definition lacks '{word}'"


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
