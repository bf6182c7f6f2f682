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


def _run_ever(node: ast.AST):
    """The statements under ``node`` that may ever run: everything but the bodies of
    ``if TYPE_CHECKING:`` blocks (function bodies included)."""
    for child in ast.iter_child_nodes(node):
        if _is_type_checking(child):
            yield from (n for stmt in child.orelse for n in [stmt, *_run_ever(stmt)])
            continue
        yield child
        yield from _run_ever(child)


def _imports(name: str, top_level_only: bool, type_only: bool = True) -> set[str]:
    """The barenet modules ``name`` imports (``from . import x`` counts as x when x is a
    module); with ``top_level_only``, those imported when it loads (not inside functions);
    without ``type_only``, not those under ``if TYPE_CHECKING:`` (which never run)."""
    path = MODULES[name]
    tree = ast.parse(path.read_text())
    is_package = path.name == "__init__.py"
    if top_level_only:
        nodes = list(_run_on_load(tree))
    else:
        nodes = list(ast.walk(tree)) if type_only else list(_run_ever(tree))
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
    """The circles among ``names``' imports that run (a type annotation's import under
    ``if TYPE_CHECKING:`` never does, so it closes none)."""
    graph = {n: sorted(_imports(n, top_level_only, type_only=False) & set(names)) for n in names}
    return _cycles_in(graph)


def _cycles_in(graph: dict[str, list[str]]) -> list[list[str]]:
    """The circles a depth-first walk of ``graph`` (module -> the modules it imports)
    closes, each as a path that starts and ends at the same module."""
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


def test_no_import_circles_anywhere_even_inside_functions():
    assert _cycles(MODULES, top_level_only=False) == []


def test_the_circle_walk_finds_a_circle_that_goes_through_three_modules():
    graph = {"a": ["b"], "b": ["c"], "c": ["a", "d"], "d": []}
    assert _cycles_in(graph) == [["a", "b", "c", "a"]]
    assert _cycles_in({"a": ["b"], "b": [], "c": ["a"]}) == []


# -- imports inside functions -------------------------------------------------------------
#: What may justify an import inside a function, as its comment says (on its line, or on
#: the line that opens the block of imports it stands in).
WHY_LAZY = ("optional engine", "CLI start")


def in_function_imports() -> list[tuple[str, int, str, str]]:
    """Every ``import``/``from ... import`` statement inside a function body (at any
    depth: nested functions, try blocks) in the package, as (module, line, statement,
    its comment): the count reported for the code base is ``len`` of this."""
    found = []
    for name, path in sorted(MODULES.items()):
        text = path.read_text()
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, (ast.Import, ast.ImportFrom)) and inner is not node:
                    found.append((name, inner.lineno, ast.unparse(inner), _why(lines, inner)))
    # a nested function's imports are seen from each enclosing function: count them once
    return sorted(set(found))


def _why(lines: list[str], node: ast.AST) -> str:
    """The comment on the import's line, or the comment lines (or the comment that ends
    the opening line of a block) right above the run of import lines it stands in."""
    i = node.lineno - 1
    if "#" in lines[i]:
        return lines[i].split("#", 1)[1].strip()
    while i > 0 and lines[i - 1].strip().startswith(("import ", "from ")):
        i -= 1
    comments = []
    while i > 0 and "#" in lines[i - 1]:
        code, _, comment = lines[i - 1].partition("#")
        comments.insert(0, comment.strip())
        i -= 1
        if code.strip():  # a `try:  # ...` line ends the block of comments
            break
    return " ".join(comments)


def test_every_import_inside_a_function_says_why_it_is_there():
    unexplained = [
        f"{module}:{line}: {stmt}"
        for module, line, stmt, why in in_function_imports()
        if not any(reason in why for reason in WHY_LAZY)
    ]
    assert unexplained == []


def test_only_the_command_line_defers_barenet_modules_for_its_start():
    for module, line, stmt, why in in_function_imports():
        if "CLI start" in why:
            assert _in(module, "barenet.cli"), f"{module}:{line}: {stmt}"


def test_the_count_sees_imports_in_nested_functions_and_try_blocks_once():
    # the walk over a function and the functions inside it must not count twice
    tree = ast.parse(
        "def f():\n    def g():\n        import a\n    try:\n        import b\n"
        "    except ImportError:\n        pass\n"
    )
    seen = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            seen |= {
                (i.lineno, ast.unparse(i)) for i in ast.walk(node) if isinstance(i, ast.Import)
            }
    assert seen == {(3, "import a"), (5, "import b")}


# -- the experiments package: each file imports only the ones below it --------------------
EXPERIMENTS_ORDER = [
    "grid",
    "executors.task",
    "executors.pool",
    "executors.ray_cluster",
    "executors",
    "sweep",
    "table",
    "metrics",
    "reported",
    "results",
    "imageplots",
    "plots",
    "figures",
    "studies",
    "report",
    "",
]


def test_each_experiments_file_imports_only_below_itself():
    order = [f"barenet.experiments.{m}".rstrip(".") for m in EXPERIMENTS_ORDER]
    ours = sorted(n for n in MODULES if _in(n, "barenet.experiments"))
    assert sorted(order) == ours, "a new experiments module needs its place in the order"
    for i, name in enumerate(order):
        above = [d for d in _imports(name, False) if _in(d, "barenet.experiments")]
        bad = [d for d in above if order.index(d) >= i]
        assert bad == [], f"{name} imports {bad}, which are not below it"


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
    ever = {a.name for n in _run_ever(tree) if isinstance(n, ast.Import) for a in n.names}
    assert ever == {"a", "b", "c", "d", "e", "h"}


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


if __name__ == "__main__":  # python tests/test_import_structure.py: the counts
    found = in_function_imports()
    print(f"imports inside functions in src/barenet: {len(found)}")
    for reason in WHY_LAZY:
        print(f"  {reason}: {sum(reason in why for *_, why in found)}")
    for module, line, stmt, why in found:
        print(f"    {module}:{line}: {stmt}  # {why}")
    print(f"import circles (imports inside functions included): {_cycles(MODULES, False)}")
