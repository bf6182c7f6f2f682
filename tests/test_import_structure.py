"""The package's import structure, read from the source (no imports run), and what
``import barenet`` loads (in a fresh interpreter).

The kernels are their own folders: ``barenet.reference`` (the textbook functions) and
``barenet.fast`` (what exists only for speed) depend on ``barenet.core`` alone; the
layers depend on both; nothing below the layers depends back on them; no module of the
package imports, however indirectly, a module that imports it while loading; and
``import barenet`` loads NumPy and no other third-party package.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import barenet

ROOT = Path(barenet.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in ROOT.rglob("*.py")}


MODULES = _modules()


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    base = module.split(".")
    if level:
        base = base[: len(base) - level + (1 if is_package else 0)]
        return ".".join(base + ([target] if target else []))
    return target or ""


def _is_type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return isinstance(test, (ast.Name, ast.Attribute)) and ast.unparse(test).endswith(
        "TYPE_CHECKING"
    )


def _run_on_load(node: ast.AST):
    """The statements under ``node`` that run when the module loads: everything but the
    bodies of functions and of ``if TYPE_CHECKING:`` blocks (class bodies do run)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if _is_type_checking(child):
            yield from (n for stmt in child.orelse for n in [stmt, *_run_on_load(stmt)])
            continue
        yield child
        yield from _run_on_load(child)


def _imports(name: str, top_level_only: bool) -> set[str]:
    """The barenet modules ``name`` imports (``from . import x`` counts as x when x is a
    module); with ``top_level_only``, those imported when it loads (not inside functions)."""
    path = MODULES[name]
    tree = ast.parse(path.read_text())
    is_package = path.name == "__init__.py"
    nodes = list(_run_on_load(tree)) if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(name, is_package, node.level, node.module)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in MODULES else base)
    return {m for m in found if m in MODULES and m != name}


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_kernels_are_folders_of_their_own():
    for package in ("barenet.reference", "barenet.fast", "barenet.fast.cpu", "barenet.layers"):
        assert (ROOT.parent / package.replace(".", "/") / "__init__.py").is_file(), package


def test_reference_and_fast_kernels_depend_on_core_alone():
    for name in MODULES:
        if not (_in(name, "barenet.reference") or _in(name, "barenet.fast")):
            continue
        own = "barenet.reference" if _in(name, "barenet.reference") else "barenet.fast"
        for dep in _imports(name, top_level_only=False):
            allowed = _in(dep, own) or _in(dep, "barenet.core") or dep == "barenet.runtime"
            assert allowed, f"{name} imports {dep}"


def test_core_depends_on_nothing_above_it():
    for name in MODULES:
        if _in(name, "barenet.core"):
            for dep in _imports(name, top_level_only=False):
                assert _in(dep, "barenet.core") or dep == "barenet.runtime", f"{name} -> {dep}"
    assert _imports("barenet.runtime", top_level_only=False) == set()


def test_layers_use_both_kernel_sets_and_nothing_depends_back_on_them():
    deps = set().union(*(_imports(n, False) for n in MODULES if _in(n, "barenet.layers")))
    assert any(_in(d, "barenet.reference") for d in deps)
    assert any(_in(d, "barenet.fast") for d in deps)
    below = ("barenet.core", "barenet.reference", "barenet.fast", "barenet.runtime")
    for name in MODULES:
        if any(_in(name, b) for b in below):
            bad = [d for d in _imports(name, False) if _in(d, "barenet.layers")]
            assert not bad, f"{name} imports {bad}"


def _cycles(names, top_level_only: bool) -> list[list[str]]:
    graph = {n: sorted(_imports(n, top_level_only) & set(names)) for n in names}
    cycles, state = [], {}

    def visit(n, stack):
        state[n] = "open"
        stack.append(n)
        for m in graph[n]:
            if state.get(m) == "open":
                cycles.append(stack[stack.index(m) :] + [m])
            elif m not in state:
                visit(m, stack)
        stack.pop()
        state[n] = "done"

    for n in sorted(graph):
        if n not in state:
            visit(n, [])
    return cycles


def test_no_module_imports_itself_through_others_when_loading():
    assert _cycles(MODULES, top_level_only=True) == []


def test_no_import_circles_below_the_training_code_even_inside_functions():
    engine = ("barenet.core", "barenet.reference", "barenet.fast", "barenet.layers")
    names = [n for n in MODULES if any(_in(n, p) for p in engine)]
    names += ["barenet.runtime", "barenet.testing", "barenet.init", "barenet.gradcheck"]
    names += ["barenet.losses", "barenet.profiler", "barenet.models", "barenet.io"]
    assert _cycles(names, top_level_only=False) == []


def test_the_walk_sees_imports_that_run_on_load_and_only_those():
    tree = ast.parse(
        "import a\n"
        "try:\n    import b\nexcept ImportError:\n    import c\n"
        "class K:\n    import d\n"
        "def f():\n    import e\n"
        "if TYPE_CHECKING:\n    import g\nelse:\n    import h\n"
    )
    seen = {a.name for n in _run_on_load(tree) if isinstance(n, ast.Import) for a in n.names}
    assert seen == {"a", "b", "c", "d", "h"}


_LOADED_BY_IMPORT = """
import json, sys, sysconfig
from pathlib import Path
before = set(sys.modules)  # what the interpreter's start-up (.pth files) loaded
import barenet
site = {Path(sysconfig.get_paths()[k]).resolve() for k in ("purelib", "platlib")}
found = {}
for name, module in list(sys.modules.items()):
    file = getattr(module, "__file__", None) if name not in before else None
    if file and any(p in Path(file).resolve().parents for p in site):
        found[name.partition(".")[0]] = file
print(json.dumps({"site_packages": sorted(found), "modules": sorted(set(sys.modules) - before)}))
"""


def test_import_barenet_loads_numpy_and_no_other_third_party_package():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT.parent), sys.path[0]])}
    out = subprocess.run(
        [sys.executable, "-c", _LOADED_BY_IMPORT], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stdout)
    optional = ("torch", "onnx", "onnxruntime", "ray", "mpi4py", "cupy", "matplotlib")
    optional += ("PIL", "scipy", "sklearn", "safetensors", "hypothesis", "tomli")
    tops = {m.partition(".")[0] for m in loaded["modules"]}
    assert sorted(tops & set(optional)) == []
    assert set(loaded["site_packages"]) <= {"numpy", "barenet"}, loaded["site_packages"]
    assert "numpy" in tops
