"""API reference pages of catbell_qutip, written before Sphinx reads its sources.

Every public module of the package (no component of its dotted name starts with ``_``,
except :mod:`catbell_qutip._checks`, which holds the error and warning classes users catch;
not the subcommand modules of :mod:`catbell_qutip.cli`, whose interface is the command line
and its reference page) gets one page, ``_generated/api/<module>.rst``: the module
docstring, a summary table of its ``__all__`` (or, without ``__all__``, of the functions
and classes it defines) and of the other names it defines without a leading underscore,
and the full documentation of each name *defined* there. A name the module only re-exports is in
the table and links to the module that defines it, so each object is documented once and
every cross-reference has one target.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

from sphinx.pycode import ModuleAnalyzer

PACKAGE = "catbell_qutip"
#: private modules whose names are nevertheless public (users catch these errors)
PUBLIC_PRIVATE = {"catbell_qutip._checks"}
#: data whose value is shown on the page (short, and a number or a string)
SHOWN_TYPES = (int, float, str)


#: the modules that implement one ``catbell`` subcommand each: their interface is the
#: command line (the CLI reference, read from their parsers), and their two functions are
#: the protocol :mod:`catbell_qutip.cli` describes (``add_parser``, ``run``)
CLI_COMMANDS = PACKAGE + ".cli."


def public_modules() -> list[str]:
    """Dotted names of the package's public modules, sorted, the package first."""
    pkg = importlib.import_module(PACKAGE)
    names = [PACKAGE]
    for info in pkgutil.walk_packages(pkg.__path__, prefix=PACKAGE + "."):
        parts = info.name.split(".")[1:]
        if info.name.startswith(CLI_COMMANDS):
            continue
        if info.name in PUBLIC_PRIVATE or not any(p.startswith("_") for p in parts):
            names.append(info.name)
    return sorted(names, key=lambda n: (n != PACKAGE, n))


def _assigned(module) -> set[str]:
    """Names a module assigns at its top level (its own data, not imports)."""
    path = getattr(module, "__file__", None)
    if not path:
        return set()
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        for t in targets:
            for n in ast.walk(t):
                if isinstance(n, ast.Name):
                    names.add(n.id)
    return names


def public_names(module) -> list[str]:
    """``__all__``, or the public functions and classes the module defines."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [n for n, v in vars(module).items() if not n.startswith("_")
            and (inspect.isfunction(v) or inspect.isclass(v))
            and v.__module__ == module.__name__]


def other_names(module) -> list[str]:
    """Names the module defines outside ``__all__`` without a leading underscore: its
    functions and classes, and its data that carry a ``#:`` comment (module constants the
    docstrings and README name, such as ``params.ALPHA_MAX``)."""
    if not hasattr(module, "__all__"):
        return []
    exported = set(module.__all__)
    documented = {name for (cls, name) in ModuleAnalyzer.for_module(
        module.__name__).find_attr_docs() if not cls}
    out = []
    for n, v in vars(module).items():
        if n.startswith("_") or n in exported:
            continue
        if inspect.isfunction(v) or inspect.isclass(v):
            if v.__module__ == module.__name__:
                out.append(n)
        elif n in documented and not inspect.ismodule(v):
            out.append(n)
    return out


def _kind(obj) -> str:
    if inspect.isclass(obj):
        return "exception" if issubclass(obj, BaseException) else "class"
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return "function"
    return "data"


def homes(modules: list[str]) -> dict[tuple[str, str], str]:
    """(module, name) -> the module that defines that name."""
    loaded = {m: importlib.import_module(m) for m in modules}
    assigned = {m: _assigned(mod) for m, mod in loaded.items()}
    out = {}
    for m, mod in loaded.items():
        for name in public_names(mod):
            obj = getattr(mod, name)
            if _kind(obj) != "data":
                home = getattr(obj, "__module__", m)
            elif name in assigned[m]:
                home = m
            else:  # a re-exported constant: the public module that assigns it
                home = next((h for h in modules if name in assigned[h]
                             and getattr(loaded[h], name, None) is obj), m)
            out[(m, name)] = home
        for name in other_names(mod):
            out[(m, name)] = m
    return out


def module_page(modname: str, where: dict[tuple[str, str], str]) -> str:
    """The reStructuredText of one module's page."""
    mod = importlib.import_module(modname)
    title = f"``{modname}``"
    lines = [title, "=" * len(title), "", f".. automodule:: {modname}", "   :no-members:", ""]
    names = public_names(mod)
    others = other_names(mod)
    for rubric, group in (("Public names (``__all__``)" if hasattr(mod, "__all__")
                           else "Public names", names),
                          ("Also defined here (not in ``__all__``)", others)):
        if not group:
            continue
        lines += [f".. rubric:: {rubric}", "", ".. autosummary::", "   :nosignatures:", ""]
        for n in group:  # autosummary wants names inside this module relative to it
            home = where[(modname, n)]
            rel = home[len(modname) + 1:] if home.startswith(modname + ".") else None
            lines.append(f"   {n}" if home == modname else f"   ~{rel}.{n}" if rel
                         else f"   ~{home}.{n}")
        lines.append("")
    names = names + others
    for name in names:
        if where[(modname, name)] != modname:
            continue
        obj = getattr(mod, name)
        kind = _kind(obj)
        full = f"{modname}.{name}"
        if kind in ("class", "exception"):
            lines += [f".. auto{kind}:: {full}", "   :members:", "   :show-inheritance:", ""]
        elif kind == "function":
            lines += [f".. autofunction:: {full}", ""]
        else:
            shown = isinstance(obj, SHOWN_TYPES) and not isinstance(obj, bool) \
                and len(repr(obj)) <= 60
            lines += [f".. autodata:: {full}"] + ([] if shown else ["   :no-value:"]) + [""]
    return "\n".join(lines)


def write_pages(outdir: Path) -> list[str]:
    """Write every module page and ``index.rst`` into ``outdir``; return the modules."""
    modules = public_modules()
    where = homes(modules)
    outdir.mkdir(parents=True, exist_ok=True)
    for old in outdir.glob("*.rst"):
        old.unlink()
    for m in modules:
        (outdir / f"{m}.rst").write_text(module_page(m, where), encoding="utf-8")
    index = ["API reference", "=============", "",
             "Every public module of ``catbell_qutip``; a page documents the names the "
             "module defines and links the ones it re-exports to their home. The entry "
             "points are :func:`catbell_qutip.api.simulate` (one point) and "
             ":func:`catbell_qutip.api.evaluate` (vectorised grids); the errors and warnings "
             "they raise are in :mod:`catbell_qutip._checks`.", "",
             ".. toctree::", "   :maxdepth: 1", ""]
    # short titles in the navigation (the page itself has the full dotted name)
    index += [f"   {m.removeprefix(PACKAGE + '.') if m != PACKAGE else m} <{m}>"
              for m in modules]
    (outdir / "index.rst").write_text("\n".join(index) + "\n", encoding="utf-8")
    return modules


#: public re-exported name -> the name of the object where it is documented (filled when
#: the pages are written)
ALIASES: dict[str, str] = {}


def _on_builder_inited(app) -> None:
    modules = write_pages(Path(app.srcdir) / "_generated" / "api")
    ALIASES.clear()
    ALIASES.update({f"{m}.{n}": f"{h}.{n}" for (m, n), h in homes(modules).items() if h != m})


def _resolve_alias(app, env, node, contnode):
    """Resolve a Python reference the domain could not: a re-export (``catbell_qutip.simulate``,
    or ``scan`` written inside :mod:`catbell_qutip.repeater`) goes to the object's home; an
    unqualified name (``optimise`` written in ``repeater.distance_scan``) goes to the one
    documented object of that name, the one nearest the referring module if several."""
    if node.get("refdomain") != "py":
        return None
    domain = env.get_domain("py")
    target = node["reftarget"].lstrip(".~")
    module = node.get("py:module") or ""
    for name in (target, f"{module}.{target}"):
        for alias, home in ALIASES.items():  # the name itself, or an attribute of it
            if name == alias or name.startswith(alias + "."):
                return domain.resolve_xref(env, node["refdoc"], app.builder,
                                           node["reftype"], home + name[len(alias):], node,
                                           contnode)
    if target.startswith("_") or "._" in target.replace("._checks", ""):
        return None
    types = domain.objtypes_for_role(node["reftype"]) or []
    found = [full for full, entry in domain.objects.items()
             if (full == target or full.endswith("." + target))
             and entry.objtype in types and not entry.aliased]
    if not found:
        return None

    def shared(full: str) -> int:
        a, b = full.split("."), module.split(".")
        return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
                    min(len(a), len(b)))

    best = max(shared(f) for f in found)
    nearest = [f for f in found if shared(f) == best]
    if len(nearest) != 1:
        return None
    return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"],
                               nearest[0], node, contnode)


_LITERAL = re.compile(r"(``.*?``|`[^`]*`)")
_BAR = re.compile(r"(?<!\\)\|")
_STAR = re.compile(r"(?<![\\*])\*(?!\*)")


def escape_bars(text: str) -> str:
    """``|`` of plain-text kets (``|alpha>``, ``<0|1>``) escaped, so reStructuredText shows
    it instead of starting a substitution; literals and roles are left alone.

    >>> print(escape_bars("the state |0_N> and ``|x>`` and :math:`|a|`"))
    the state \\|0_N> and ``|x>`` and :math:`|a|`
    """
    parts = _LITERAL.split(text)
    if sum(len(_STAR.findall(p)) for p in parts[::2]) % 2:  # an unpaired * (``(*batch, L)``)
        parts = [p if i % 2 else _STAR.sub(r"\\*", p) for i, p in enumerate(parts)]
    return "".join(p if i % 2 else _BAR.sub(r"\\|", p) for i, p in enumerate(parts))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def escape_docstring(lines: list[str]) -> list[str]:
    """:func:`escape_bars` on every line of a docstring outside doctests, literal blocks
    (after ``::``) and directive bodies (``.. math::``), which show text as written."""
    out, verbatim_above, doctest = [], None, False
    for line in lines:
        stripped = line.strip()
        if verbatim_above is not None and stripped and _indent(line) <= verbatim_above:
            verbatim_above = None
        if not stripped:
            doctest = False
        elif stripped.startswith(">>>"):
            doctest = True
        keep = doctest or (verbatim_above is not None and stripped)
        out.append(line if keep else escape_bars(line))
        if verbatim_above is None and not doctest and (
                stripped.endswith("::") or re.match(r"\.\. [\w:-]+::", stripped)):
            verbatim_above = _indent(line)
    return out


def _escape_docstring(app, what, name, obj, options, lines) -> None:
    if what == "data":  # a module constant's doc is its ``#:`` comment, never its value's
        modname, attr = name.rsplit(".", 1)
        if ("", attr) not in ModuleAnalyzer.for_module(modname).find_attr_docs():
            lines[:] = []
    lines[:] = escape_docstring(lines)


def setup(app):
    app.connect("builder-inited", _on_builder_inited)
    app.connect("missing-reference", _resolve_alias)
    app.connect("autodoc-process-docstring", _escape_docstring, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
