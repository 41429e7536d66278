"""The package's shape: imports run one way between layers and never in a circle, and the
modules that moved keep their old import paths for one release."""

from __future__ import annotations

import ast
import importlib
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
    ("resnetlab.io", "resnetlab.provenance", "resnetlab.machine", "resnetlab.paper",
     "resnetlab.distributed", "resnetlab.data.sets.download"),
    ("resnetlab.models", "resnetlab.checkpoint", "resnetlab.weights", "resnetlab"),
    ("resnetlab.data.sets",),  # getting data sets, below ...
    ("resnetlab.data",),  # ... the input pipeline (data.pipeline) and data's public API
    ("resnetlab.analysis",),
    ("resnetlab.train", "resnetlab.inference", "resnetlab.export", "resnetlab.predict",
     "resnetlab.fold"),
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


@pytest.mark.parametrize("old, new, names", [
    ("resnetlab.predict", "resnetlab.inference.predict", ["Predictor", "predict", "SCHEMA"]),
    ("resnetlab.predict", "resnetlab.inference.preprocessing",
     ["Preprocessing", "expand_inputs", "class_names"]),
    ("resnetlab.fold", "resnetlab.inference.fold", ["fold_bn", "count_bn"]),
    ("resnetlab.export", "resnetlab.inference.export", ["export_model", "ExportReport"]),
    ("resnetlab.export", "resnetlab.inference.formats", ["read_export_meta", "FORMATS"]),
    ("resnetlab.export.formats", "resnetlab.inference.formats", ["WRITERS", "read_export_meta"]),
    ("resnetlab.export.runtime", "resnetlab.inference.runtime", ["MissingDependency", "require"]),
    ("resnetlab.export.verify", "resnetlab.inference.verify", ["DEFAULT_TOLERANCE", "Check"]),
    ("resnetlab.checkpoint", "resnetlab.io", ["atomic_write", "atomic_write_text"]),
    ("resnetlab.checkpoint", "resnetlab.provenance", ["versions"]),
    ("resnetlab.machine", "resnetlab.provenance", ["machine", "cpu_name"]),
    ("resnetlab.data.transforms", "resnetlab.data.pipeline.normalization",
     ["IMAGENET_MEAN", "IMAGENET_STD"]),
    ("resnetlab.predict", "resnetlab.data.pipeline.normalization",
     ["IMAGENET_MEAN", "IMAGENET_STD"]),
    ("resnetlab.data.folder", "resnetlab.data.sets.folders", ["FolderSet", "scan_folder"]),
    ("resnetlab.data.folder", "resnetlab.data.pipeline.folder_loader", ["FolderLoader"]),
])


def test_moved_names_keep_their_old_import_path(old, new, names):
    old_mod, new_mod = importlib.import_module(old), importlib.import_module(new)
    for name in names:
        assert getattr(old_mod, name) is getattr(new_mod, name), f"{old}.{name}"


@pytest.mark.parametrize("old, new", [
    ("sources", "sets.sources"), ("download", "sets.download"), ("formats", "sets.formats"),
    ("datasets", "sets.datasets"), ("loaders", "pipeline.loaders"),
    ("augment", "pipeline.batch_augment"), ("transforms", "pipeline.image_transforms"),
])
def test_moved_data_modules_are_the_same_module_under_the_old_name(old, new):
    assert (importlib.import_module(f"resnetlab.data.{old}")
            is importlib.import_module(f"resnetlab.data.{new}"))


@pytest.mark.parametrize("old", ["records", "state"])
def test_run_folder_modules_keep_their_old_names(old):
    assert (importlib.import_module(f"resnetlab.train.{old}")
            is importlib.import_module("resnetlab.train.run_folder"))


def test_figures_is_the_one_plotting_module_under_its_old_name():
    assert (importlib.import_module("resnetlab.analysis.figures")
            is importlib.import_module("resnetlab.analysis.plots"))


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


@pytest.mark.parametrize("old, new", [
    ("resnetlab.reproduce.gradients", "resnetlab.analysis.gradients"),
    ("resnetlab.reproduce.report", "resnetlab.analysis.report"),
])
def test_measurements_moved_out_of_reproduce_keep_their_old_names(old, new):
    assert importlib.import_module(old) is importlib.import_module(new)
