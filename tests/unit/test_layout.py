"""The package's shape: imports run one way between layers and never in a circle, every module
holds code of its own (none only re-exports another), and one name has one definition."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import resnetlab

PACKAGE = Path(resnetlab.__file__).parent
# Lower layers never import higher ones. A module's layer is that of its longest prefix here.
# analysis (measurements and the one plotting module) needs nothing from train, and the
# training loop draws its curves with it, so it sits below train. Same-layer imports are allowed
# (train and inference never import each other; the circle test keeps them honest).
# data.sets.download fetches any URL (resume, checksum, atomic placement) and needs only io:
# the data sets and the published weights both use it, so it sits with the foundation.
# Published weights (resnetlab.weights) sit with the models: create_model(pretrained=...)
# loads them.
LAYERS = [
    ("resnetlab.io", "resnetlab.provenance", "resnetlab.paper",
     "resnetlab.distributed", "resnetlab.data.sets.download"),
    ("resnetlab.models", "resnetlab.checkpoint", "resnetlab.weights", "resnetlab"),
    ("resnetlab.data.sets",),  # getting data sets, below ...
    ("resnetlab.data",),  # ... the input pipeline (data.pipeline) and data's public API
    ("resnetlab.analysis",),
    ("resnetlab.train", "resnetlab.inference"),
    ("resnetlab.reproduce", "resnetlab.bench"),
    ("resnetlab.cli", "resnetlab.__main__"),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(name: str) -> int:
    best = max(((len(p), i) for i, prefixes in enumerate(LAYERS) for p in prefixes
                if name == p or name.startswith(p + ".")), default=None)
    assert best is not None, f"{name} is in no layer: add it to LAYERS"
    return best[1]


def imports(path: Path, modules: set[str]) -> set[str]:
    """The package's own modules that path imports, anywhere in the file."""
    me = module_name(path)
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = me.split(".")
                pkg = parts[: len(parts) - node.level + (path.name == "__init__.py")]
                base = ".".join(pkg + ([base] if base else []))
            subs = [f"{base}.{a.name}" for a in node.names]
            # `from pkg import submodule` depends on the submodule, not on pkg's __init__
            names = subs if all(n in modules for n in subs) else [base, *subs]
        else:
            continue
        for n in names:
            while n and n not in modules:
                n = n.rpartition(".")[0]
            if n and n != me and n != "resnetlab":
                found.add(n)
    return found


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: imports(path, set(files)) for name, path in files.items()}


def test_imports_never_go_up_a_layer():
    wrong = [f"{a} (layer {layer(a)}) imports {b} (layer {layer(b)})"
             for a, deps in graph().items() for b in deps if layer(b) > layer(a)]
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_circles():
    g = graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(g[node]):
            if state.get(dep) == 1:
                cycles.append(" -> ".join(stack[stack.index(dep):] + [node, dep]))
            elif dep not in state:
                visit(dep, stack + [node])
        state[node] = 2

    for node in sorted(g):
        if node not in state:
            visit(node, [])
    assert not cycles, "\n".join(cycles)


def only_reexports(tree: ast.Module) -> bool:
    """A module body of nothing but a docstring, imports, `__all__` and `sys.modules` swaps:
    a door to code that lives elsewhere."""
    def door(node: ast.stmt) -> bool:
        if isinstance(node, ast.Import | ast.ImportFrom):
            return True
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            return True  # the docstring
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            return all(ast.unparse(t) == "__all__" or ast.unparse(t).startswith("sys.modules")
                       for t in targets)
        return False

    return all(door(node) for node in tree.body)


def old_name_aliases(tree: ast.Module) -> list[str]:
    """Top-level `NEW = OLD` lines between two of the module's own names (an old name kept
    beside the new one), e.g. `parse_set = parse_sets`."""
    own = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    own |= {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets
            if isinstance(t, ast.Name)}
    own |= {a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom)
            for a in n.names}
    return [ast.unparse(n) for n in tree.body
            if isinstance(n, ast.Assign) and isinstance(n.value, ast.Name)
            and n.value.id in own and all(isinstance(t, ast.Name) for t in n.targets)]


def test_no_module_only_reexports_another():
    doors = [module_name(p) for p in PACKAGE.rglob("*.py") if p.name != "__init__.py"
             and only_reexports(ast.parse(p.read_text()))]
    assert not doors, f"modules that only re-export another (import the real home): {doors}"


def test_no_alias_of_an_old_name():
    found = [f"{module_name(p)}: {line}" for p in PACKAGE.rglob("*.py")
             for line in old_name_aliases(ast.parse(p.read_text()))]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("source, door", [
    ('"""Moved."""\nfrom resnetlab.inference.fold import fold_bn\n__all__ = ["fold_bn"]\n', True),
    ('"""Moved."""\nimport importlib\nimport sys\n\n'
     'sys.modules[__name__] = importlib.import_module("resnetlab.analysis.plots")\n', True),
    ('"""Real."""\nfrom torch import nn\nLIMIT = 3\n', False),
    ('"""Real."""\nimport math\n\ndef area(r):\n    return math.pi * r * r\n', False),
])
def test_the_door_detector_tells_a_door_from_a_module(source, door):
    assert only_reexports(ast.parse(source)) is door


def test_the_alias_detector_finds_an_old_name():
    assert old_name_aliases(ast.parse("def parse_sets(x): ...\nparse_set = parse_sets\n")) == \
        ["parse_set = parse_sets"]
    assert old_name_aliases(ast.parse("from x import A\nB = 1\nC = (A, B)\n")) == []


def test_no_dispatch_by_module_name_strings():
    """Modules are imported by name in code (or listed in an explicit table), so a reader and
    the layer check can follow them; only the optional onnx packages are imported lazily, by
    name, in inference.onnx_tools."""
    found = [module_name(p) for p in PACKAGE.rglob("*.py")
             for node in ast.walk(ast.parse(p.read_text()))
             if isinstance(node, ast.Attribute) and node.attr == "import_module"
             or isinstance(node, ast.Name) and node.id == "__import__"]
    assert sorted(set(found)) == ["resnetlab.inference.onnx_tools"], found


def test_no_source_file_over_400_lines():
    long = {module_name(p): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 400}
    assert not long, f"split these by idea: {long}"


def test_one_create_model():
    """One public model factory: resnetlab.create_model, with weights on request."""
    defs = [module_name(p) for p in PACKAGE.rglob("*.py")
            for node in ast.walk(ast.parse(p.read_text()))
            if isinstance(node, ast.FunctionDef) and node.name == "create_model"]
    assert defs == ["resnetlab.weights.pretrained"], defs


def test_no_module_imports_matplotlib_at_the_top():
    """matplotlib may become an optional extra: every import of it stays inside a function."""
    top = [module_name(p) for p in PACKAGE.rglob("*.py")
           for node in ast.parse(p.read_text()).body
           if isinstance(node, ast.Import | ast.ImportFrom)
           and any((getattr(node, "module", None) or a.name).startswith("matplotlib")
                   for a in node.names)]
    assert not top, top
