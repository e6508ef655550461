"""The dependency rule of services/__init__.py, checked on the source.

    messages + settings basics <- common (the stream kernel) <- fetcher, extractor, stories, sink
        <- ops, local run (up, demo) <- cli

Also: no import cycle between modules; project imports inside functions are few and
each carries a reason; no module over 500 lines (word lists excepted) and no function
over 60 lines. Imports of a module by its name are few (``BY_NAME``); the ``newsflow`` command's
table of lazily loaded sub-commands (``COMMANDS`` in services/cli/__init__.py) counts as imports
of ``services.cli`` here, under the same rules (tests/test_cli_lazy.py checks that each resolves).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "services"

LAYERS = {  # a module may import its own layer and the layers below it
    "services": 0,  # the package itself: the version
    "services.common": 1,
    "services.fetcher": 2, "services.extractor": 2, "services.stories": 2, "services.sink": 2,
    "services.ops": 3, "services.up": 3, "services.demo": 3,
    "services.cli": 4, "services.__main__": 4,
}
STAGES = ("services.fetcher", "services.extractor", "services.stories", "services.sink")
WORD_LISTS = {"services/extractor/tagging/lexicon.py"}  # data, not logic
MAX_INNER_IMPORTS = 10


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    in_function: bool
    type_only: bool
    text: str


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def resolve(target: str) -> str | None:
    """The project module an import names (``from a.b import c`` may name module a.b.c)."""
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def imports_of(name: str, path: Path) -> Iterator[Import]:
    source = path.read_text()
    tree = ast.parse(source)
    lines = source.splitlines()
    in_function: set[int] = set()
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            in_function.update(id(n) for n in ast.walk(node))
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only.update(id(n) for n in ast.walk(node))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            targets = [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for target in targets:
            module = resolve(target) if target.startswith("services") else None
            if module is not None:
                yield Import(name, module, node.lineno, id(node) in in_function, id(node) in type_only,
                             lines[node.lineno - 1])


LAZY_TABLE = ("services.cli", "COMMANDS")  # the module and the name of the lazy sub-command table


def lazy_imports() -> Iterator[Import]:
    """The modules that ``newsflow``'s lazy sub-command table names, as imports of ``services.cli``."""
    name, table = LAZY_TABLE
    source = MODULES[name].read_text()
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and [ast.unparse(t) for t in node.targets] == [table]:
            for entry in ast.literal_eval(node.value).values():
                module = resolve(entry.partition(":")[0])
                assert module is not None, f"{name}.{table}: {entry} names no module of the project"
                yield Import(name, module, node.lineno, False, False, source.splitlines()[node.lineno - 1])
            return
    raise AssertionError(f"{name} has no {table} table")


ALL = [imp for name, path in MODULES.items() for imp in imports_of(name, path)] + list(lazy_imports())


def layer(module: str) -> tuple[str, int]:
    for prefix in sorted(LAYERS, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return prefix, LAYERS[prefix]
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def test_every_module_has_a_layer() -> None:
    for name in MODULES:
        layer(name)


def test_imports_follow_the_dependency_rule() -> None:
    wrong = []
    for imp in ALL:
        (src_group, src), (dst_group, dst) = layer(imp.source), layer(imp.target)
        if dst > src:
            wrong.append(f"{imp.source}:{imp.line} imports {imp.target} (a higher layer)")
        elif src_group in STAGES and dst_group in STAGES and src_group != dst_group:
            wrong.append(f"{imp.source}:{imp.line} imports {imp.target} (another stage)")
    assert not wrong, "\n".join(wrong)


def test_common_imports_no_service() -> None:
    assert not [imp for imp in ALL if imp.source.startswith("services.common")
                and not imp.target.startswith("services.common") and imp.target != "services"]


def test_no_import_cycles() -> None:
    graph: dict[str, set[str]] = {}
    for imp in ALL:
        if not imp.type_only and imp.target != imp.source:
            graph.setdefault(imp.source, set()).add(imp.target)
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*trail[trail.index(nxt):], nxt]))
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    # a package's __init__ importing its own submodule is not a cycle of logic
    cycles = [c for c in cycles if not all(part.startswith(c.split(" -> ")[0]) for part in c.split(" -> "))]
    assert not cycles, "\n".join(cycles)


def test_few_imports_inside_functions_and_each_says_why() -> None:
    inner = [imp for imp in ALL if imp.in_function]
    assert len(inner) <= MAX_INNER_IMPORTS, "\n".join(f"{i.source}:{i.line}" for i in inner)
    unexplained = [f"{i.source}:{i.line}" for i in inner if "#" not in i.text]
    assert not unexplained, f"say why in a comment on the import line: {unexplained}"


#: the modules that may import a module by its name (importlib), and why; each is checked elsewhere
BY_NAME = {
    LAZY_TABLE[0]: "newsflow's lazy sub-commands: counted as imports above; tests/test_cli_lazy.py resolves each",
    "services.extractor.task": "a worker's task pickles as module and name, imported in the worker",
}


def test_imports_by_name_are_few_and_known() -> None:
    """``importlib.import_module`` / ``__import__`` hide an import from these checks: only the
    modules in :data:`BY_NAME` may use them."""
    by_name = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            called = ast.unparse(node.func) if isinstance(node, ast.Call) else ""
            if called.endswith(("import_module", "__import__")) and name not in BY_NAME:
                by_name.append(f"{name}:{node.lineno} {called}")
    assert not by_name, "\n".join(by_name)


def test_modules_and_functions_stay_small() -> None:
    too_long = []
    for path in MODULES.values():
        rel = str(path.relative_to(ROOT))
        lines = path.read_text().splitlines()
        if len(lines) > 500 and rel not in WORD_LISTS:
            too_long.append(f"{rel}: {len(lines)} lines")
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 60:
                    too_long.append(f"{rel}:{node.lineno} {node.name}: {length} lines")
    assert not too_long, "\n".join(too_long)


@pytest.mark.parametrize("doc", ["services/__init__.py"])
def test_the_rule_is_written_down(doc: str) -> None:
    text = (ROOT / doc).read_text()
    assert "common (the stream kernel)" in text and "<-  cli" in text.replace("<- cli", "<-  cli")
