"""The ``catbell-cli`` directive: the command-line reference, read from the parsers.

``.. catbell-cli::`` renders, for ``catbell`` and then every subcommand of
:data:`catbell_qutip.cli.SUBCOMMANDS`, the usage line, the description, every option (an
``option`` entry, so ``:option:`catbell simulate --alpha``` links to it) with its help
text, choices and default, and the closing paragraph, all from the parser that
:func:`catbell_qutip.cli.build_parser` builds for that subcommand. The page therefore says
what ``catbell SUBCOMMAND --help`` says.
"""

from __future__ import annotations

import argparse
import re

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

from catbell_qutip.cli import SUBCOMMANDS, build_parser

_SPECIAL = re.compile(r"([\\`*_|\[\]<>:])")


def escape(text: str) -> str:
    """Plain text as reStructuredText that shows exactly that text."""
    return _SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name]
    raise LookupError(name)


def _literal(lines: list[str], text: str) -> None:
    lines += ["::", ""] + ["   " + ln for ln in text.rstrip().splitlines()] + [""]


def _options(parser: argparse.ArgumentParser, program: str, lines: list[str]) -> None:
    formatter = parser._get_formatter()
    lines += [f".. program:: {program}", ""]
    for group in parser._action_groups:
        actions = [a for a in group._group_actions if a.help != argparse.SUPPRESS
                   and not isinstance(a, argparse._SubParsersAction)]
        if not actions:
            continue
        lines += [f".. rubric:: {escape(group.title or 'options')}", ""]
        if group.description:
            lines += [escape(group.description), ""]
        for action in actions:
            if action.option_strings:
                metavar = formatter._format_args(action, action.dest.upper()) \
                    if action.nargs != 0 else ""
                sig = ", ".join(f"{flag} {metavar}".strip() for flag in action.option_strings)
            else:
                sig = formatter._format_args(action, action.dest)
            lines += [f".. option:: {sig}", ""]
            body = formatter._expand_help(action) if action.help else ""
            lines += ["   " + escape(body), ""] if body else []
            extra = []
            if action.choices is not None and not isinstance(action.choices, dict):
                extra.append("choices: " + ", ".join(f"``{c}``" for c in action.choices))
            default = action.default
            if (action.option_strings and action.nargs != 0 and default is not None
                    and default != argparse.SUPPRESS and "default" not in body):
                extra.append(f"default: ``{default}``")
            if extra:
                lines += ["   " + "; ".join(extra), ""]


def reference_rst() -> list[str]:
    """reStructuredText lines of the whole command-line reference."""
    top = build_parser()
    lines = ["Usage of ``catbell`` itself:", ""]
    _literal(lines, top.format_usage())
    lines += [escape(top.description), "", ".. list-table::", "   :header-rows: 1", "",
              "   * - command", "     - what it does"]
    for name, (_, text) in SUBCOMMANDS.items():
        lines += [f"   * - :ref:`catbell {name} <cli-{name}>`", f"     - {escape(text)}"]
    lines.append("")
    _options(top, "catbell", lines)
    for name in SUBCOMMANDS:
        sub = _subparser(build_parser(name), name)
        title = f"catbell {name}"
        lines += [f".. _cli-{name}:", "", title, "-" * len(title), ""]
        _literal(lines, sub.format_usage())
        if sub.description:
            lines += [escape(sub.description), ""]
        _options(sub, title, lines)
        if sub.epilog:
            lines += [escape(sub.epilog), ""]
    return lines


class CatbellCli(SphinxDirective):
    """``.. catbell-cli::``: the reference of every ``catbell`` subcommand."""

    has_content = False

    def run(self):
        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(self.state, StringList(reference_rst(), "catbell-cli"),
                                 container)
        return container.children


def setup(app):
    app.add_directive("catbell-cli", CatbellCli)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
