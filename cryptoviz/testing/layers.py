"""The layering contract of the `cryptoviz` package, checked over its import graph (`make lint`
runs `python -m cryptoviz.testing.layers`; tests/unit/testing/test_layers.py shows it failing on
purpose).

From the bottom up; a module may import its own layer and those below, never one above. A module
is in the first layer one of whose prefixes it matches (so `dashboard.readers` is plumbing, the
rest of `dashboard` top):

- pure: the models and the scoring (no I/O), the coin list
- contracts: names, the quote schema, the contracts, settings, interfaces, provenance
- plumbing: logs, retries, telemetry and metrics, health, SIGTERM, the Kafka bus, clients, the
  real servers, the all-symbols tables in Redis (`row_tables`), the dashboard's Redis reader
  (`dashboard.readers`)
- services: the scraper, the ML processor, the lake, the monitor; a service never imports another
- top: the backtest, the local stack, the CLI, the rest of `dashboard` (its tables, figures,
  candles and KPIs), the Plotly pieces it shares with the backtest (`charts`), test support

And no module is part of an import cycle. Every import counts, inside functions and under
`TYPE_CHECKING` too: a dependency is a dependency.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("pure", ("cryptoviz.models", "cryptoviz.scoring", "cryptoviz.coins")),
    (
        "contracts",
        (
            "cryptoviz.names",
            "cryptoviz.schema",
            "cryptoviz.contracts",
            "cryptoviz.settings",
            "cryptoviz.interfaces",
            "cryptoviz.provenance",
        ),
    ),
    (
        "plumbing",
        (
            "cryptoviz.logs",
            "cryptoviz.retry",
            "cryptoviz.telemetry",
            "cryptoviz.metrics",
            "cryptoviz.health",
            "cryptoviz.service",
            "cryptoviz.bus",
            "cryptoviz.clients",
            "cryptoviz.servers",
            "cryptoviz.row_tables",
            "cryptoviz.dashboard.readers",
        ),
    ),
    ("services", ("cryptoviz.scraper", "cryptoviz.ml", "cryptoviz.lake", "cryptoviz.monitor")),
    (
        "top",
        (
            "cryptoviz.backtest",
            "cryptoviz.stack",
            "cryptoviz.cli",
            "cryptoviz.cli_args",
            "cryptoviz.dashboard",
            "cryptoviz.charts",
            "cryptoviz.testing",
        ),
    ),
)
SERVICES = dict(LAYERS)["services"]


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (a `from pkg import name` counts pkg.name when that
    is a module, else pkg)."""
    files = {module_name(p, package): p for p in package.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                wanted = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = here.split(".")[: len(here.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                wanted = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            else:
                continue
            graph[name] |= {w for w in wanted if w in files and w != name}
    return graph


def layer_of(module: str, layers: Iterable[tuple[str, tuple[str, ...]]] = LAYERS) -> int | None:
    for i, (_, prefixes) in enumerate(layers):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return i
    return None


def service_of(module: str) -> str | None:
    return next((s for s in SERVICES if module == s or module.startswith(s + ".")), None)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def violations(graph: dict[str, set[str]], layers=LAYERS) -> list[str]:
    """Every broken rule, one line each (empty: the contract holds)."""
    names = [name for name, _ in layers]
    out = []
    for module in sorted(graph):
        mine = layer_of(module, layers)
        if mine is None:
            if module != "cryptoviz":
                out.append(f"{module}: in no layer (add it to cryptoviz/testing/layers.py)")
            continue
        for target in sorted(graph[module]):
            theirs = layer_of(target, layers)
            if theirs is not None and theirs > mine:
                out.append(f"{module} ({names[mine]}) imports {target} ({names[theirs]}): an upward import")
            a, b = service_of(module), service_of(target)
            if a and b and a != b:
                out.append(f"{module} imports {target}: a service imports another")
    out += [f"import cycle: {' -> '.join(c)}" for c in cycles(graph)]
    return out


def main() -> int:
    broken = violations(import_graph())
    for line in broken:
        print(line)
    print(f"layers: {len(broken)} violation(s)" if broken else "layers: the contract holds")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
