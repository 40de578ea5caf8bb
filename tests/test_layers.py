"""The package layout shows the architecture: packages by concern, in layers; no module imports from a
higher layer, and no module imports itself back through a chain of others (issue 16)."""

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "gansearch"
LAYERS = [  # lowest first: a module may import from its own layer and the ones below it, never above
    ("gansearch.errors", "gansearch._version", "gansearch._cache", "gansearch._seeds", "gansearch._compat"),
    ("gansearch.config",),  # the study file's schema
    ("gansearch.plugins",),  # hooks, contracts, the registry
    ("gansearch.nets",),  # specs, builder, costs, export
    ("gansearch.testing",),  # the conformance kit for plugin authors
    ("gansearch.data",),  # translate pairs, sample grids
    ("gansearch.score",),  # metric arithmetic, scorers, calibration
    ("gansearch.builtin",),  # built-in plugins (the registry loads them by name, like any plugin)
    ("gansearch.search",),  # space, baseline, objectives, samplers
    ("gansearch.train",),  # trainer, random state, interleaving, devices
    ("gansearch.store",),  # storage, journal, artifacts, recovery
    ("gansearch.study",),  # the validation pass: prepare
    ("gansearch.run",),  # run_study, trials, workers, signals
    ("gansearch.confirm",),  # winners retrained longer with several seeds, and the statistics of it
    ("gansearch.results",),  # dataframe, summaries, report, evaluation
    ("gansearch.bench",),
    ("gansearch.cli", "gansearch.__main__"),
    ("gansearch",),  # the public front
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def layer_of(module: str) -> int:
    best, found = -1, None
    for i, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best:
                best, found = len(name), i
    assert found is not None, f"{module} belongs to no layer: add its package to LAYERS"
    return found


def imports_of(module: str) -> set[str]:
    """Every gansearch module ``module`` imports, at the top or inside a function (not under TYPE_CHECKING)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text())
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            names = [stem] + [f"{stem}.{a.name}" for a in node.names]
        for name in names:
            while name and name not in MODULES:  # a name inside a module: the module itself
                name = name.rpartition(".")[0]
            if name and name != module and not module.startswith(name + "."):  # (its own packages are imported anyway)
                found.add(name)
    return found


GRAPH = {m: imports_of(m) for m in MODULES}


def test_every_module_belongs_to_a_layer_and_every_package_says_what_it_is_for():
    for module, path in MODULES.items():
        layer_of(module)
        if path.name == "__init__.py":
            doc = ast.get_docstring(ast.parse(path.read_text()))
            assert doc and len(doc) > 40, f"{module}: its __init__ needs a docstring saying what the package is for"


def test_no_module_imports_from_a_higher_layer():
    upward = sorted(f"{m} -> {i}" for m, deps in GRAPH.items() for i in deps if layer_of(i) > layer_of(m))
    assert upward == []


def test_there_are_no_import_cycles():
    cycles, index, low, stack, on_stack = [], {}, {}, [], set()

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
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
                cycles.append(sorted(component))

    for v in GRAPH:
        if v not in index:
            visit(v)
    assert cycles == []


def test_the_layer_check_sees_lazy_imports_and_upward_ones(tmp_path):
    tree = "def f():\n    from gansearch.run._runner import run_study\n"
    module = ast.parse(tree)
    lazy = [n for n in ast.walk(module) if isinstance(n, ast.ImportFrom)]
    assert lazy and layer_of("gansearch.run._runner") > layer_of("gansearch.score._scorer")
