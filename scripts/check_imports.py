"""The architecture's import rules, checked on the source (``make lint``).

Reads every module of the ``adapter`` package with :mod:`ast` (imports under
``TYPE_CHECKING`` and inside functions count: a cycle hidden in a function is still a
cycle) and fails when

* two modules import each other, directly or round a longer loop;
* a part imports a part it may not (:data:`MAY_IMPORT`): the arrows point inward, from
  the faces (CLI, tools, bootstrap) through the runtime and the service layer to the
  domain, and the parts beside each other (messages, store, transport, registry,
  crypto) do not lean on one another except as listed.

Usage: ``python scripts/check_imports.py [package_dir]``; exit 1 with one line per
broken rule.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

#: The parts of ``adapter`` each part may import (besides itself and the standard
#: library or third-party packages). ``adapter`` is the package root (its version).
MAY_IMPORT: Mapping[str, frozenset[str]] = {
    "adapter": frozenset(),
    "clock": frozenset(),
    "systemd": frozenset(),
    "privacy": frozenset(),
    "logs": frozenset({"privacy"}),
    "domain": frozenset(),
    "crypto": frozenset(),
    "messages": frozenset({"adapter", "domain"}),
    "store": frozenset({"adapter", "domain", "privacy"}),
    "transport": frozenset({"adapter", "crypto", "logs"}),
    "registry": frozenset({"crypto", "messages", "domain"}),
    "config": frozenset({"domain", "registry"}),
    "jobs": frozenset({"logs"}),
    "ics": frozenset({"domain"}),
    "preview": frozenset({"config", "domain"}),
    "service": frozenset(
        {"adapter", "domain", "messages", "store", "transport", "registry", "crypto", "logs"}
    ),
    "api": frozenset({"domain", "ics", "service", "store"}),
    "runtime": frozenset(
        {"api", "config", "jobs", "logs", "messages", "service", "store", "transport"}
    ),
    # Prometheus metrics: counted from the pipeline's observer, read from the store,
    # the transport and the certificates at each scrape (a runtime only as a protocol).
    "metrics": frozenset({"config", "crypto", "logs", "registry", "service", "store", "transport"}),
    "daemon": frozenset({"jobs", "logs", "runtime", "store", "systemd"}),
    "bootstrap": frozenset(
        {
            "api",
            "clock",
            "config",
            "crypto",
            "messages",
            "metrics",
            "registry",
            "runtime",
            "service",
            "store",
            "transport",
        }
    ),
    "doctor": frozenset({"bootstrap", "config", "crypto", "registry", "store", "transport"}),
    # adapter.testing.clinics builds a whole adapter for vendors' tests, as a face does.
    "testing": frozenset(
        {
            "bootstrap",
            "clock",
            "config",
            "crypto",
            "domain",
            "logs",
            "messages",
            "runtime",
            "tools",
            "transport",
        }
    ),
    "tools": frozenset(
        {
            "api",
            "bootstrap",
            "clock",
            "config",
            "daemon",
            "domain",
            "logs",
            "messages",
            "runtime",
            "service",
            "transport",
        }
    ),
    # The HTTP API and the admin page are a face over the runtime's facade (store: its
    # records only; preview: the portal's month grid and day list).
    "http": frozenset(
        {
            "adapter",
            "api",
            "config",
            "domain",
            "logs",
            "metrics",
            "preview",
            "runtime",
            "service",
            "store",
        }
    ),
    "cli": frozenset(
        {
            "adapter",
            "api",
            "bootstrap",
            "clock",
            "config",
            "daemon",
            "doctor",
            "domain",
            "http",
            "logs",
            "messages",
            "metrics",
            "preview",
            "runtime",
            "store",
            "systemd",
            "tools",
            "transport",
        }
    ),
}


def module_names(package: Path) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    found: dict[str, Path] = {}
    for path in sorted(package.rglob("*.py")):
        parts = (package.name, *path.relative_to(package).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, modules: Mapping[str, Path]) -> Iterator[tuple[int, str]]:
    """(line, module) for each module of the package that ``name`` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            targets = [module, *(f"{module}.{alias.name}" for alias in node.names)]
        else:
            continue
        for target in targets:
            if target in modules and target != name:
                yield node.lineno, target


def part(module: str) -> str:
    """The part a module belongs to: ``adapter.service.handlers`` -> ``service``."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else pieces[0]


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def problems(package: Path) -> list[str]:
    """Every broken rule, one line each (``file:line: what``)."""
    modules = module_names(package)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    found: list[str] = []
    for name, path in modules.items():
        mine = part(name)
        allowed = MAY_IMPORT.get(mine)
        if allowed is None:
            found.append(f"{path}: part {mine!r} has no rule in MAY_IMPORT")
            allowed = frozenset()
        for line, target in imports_of(name, path, modules):
            graph[name].add(target)
            theirs = part(target)
            if theirs != mine and theirs not in allowed:
                found.append(f"{path}:{line}: {mine} may not import {theirs} ({target})")
    for component in cycles(graph):
        found.append(f"import cycle: {' <-> '.join(component)}")
    return found


def main(argv: list[str]) -> int:
    """Check the package (default: ``adapter`` beside this script's folder)."""
    package = Path(argv[0]) if argv else Path(__file__).resolve().parents[1] / "adapter"
    found = problems(package)
    for line in found:
        print(line)
    if found:
        print(f"{len(found)} import rule(s) broken; see scripts/check_imports.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
