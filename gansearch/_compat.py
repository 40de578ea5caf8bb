"""Import paths of gansearch 0.1's flat layout, kept working for one release, each with a DeprecationWarning.

``gansearch.builder`` (a module that moved into ``gansearch.nets``), ``gansearch.build_pair`` (a name the
front no longer exports): both still resolve, to the same objects, and say where they live now. Paths that
only changed from a module into a package of the same name (``gansearch.bench``, ``gansearch.config``,
``gansearch.plugins``, ``gansearch.study``) need nothing here, except for names that moved to another package.
"""

import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings

REMOVED_IN = "gansearch 0.3"
MODULES = {  # old module -> new module
    "gansearch.analysis": "gansearch.results._dataframe", "gansearch.artifacts": "gansearch.store._artifacts",
    "gansearch.augment": "gansearch.plugins._augmentation", "gansearch.baseline": "gansearch.search._baseline",
    "gansearch.block": "gansearch.plugins._block",
    "gansearch.builder": "gansearch.nets._builder", "gansearch.calibration": "gansearch.score._calibration",
    "gansearch.costs": "gansearch.nets._costs", "gansearch.dataset": "gansearch.plugins._dataset",
    "gansearch.devices": "gansearch.train._devices", "gansearch.evaluation": "gansearch.results._evaluation",
    "gansearch.export": "gansearch.nets._export", "gansearch.hookspecs": "gansearch.plugins._hookspecs",
    "gansearch.images": "gansearch.data._images", "gansearch.interleave": "gansearch.train._interleave",
    "gansearch.journal": "gansearch.store._journal", "gansearch.layers": "gansearch.plugins._layers",
    "gansearch.metric": "gansearch.plugins._metric", "gansearch.metrics": "gansearch.score._arithmetic",
    "gansearch.objectives": "gansearch.search._objectives", "gansearch.pairs": "gansearch.data._pairs",
    "gansearch.randomness": "gansearch.train._randomness", "gansearch.recovery": "gansearch.store._recovery",
    "gansearch.report": "gansearch.results._report", "gansearch.runner": "gansearch.run._runner",
    "gansearch.schema": "gansearch.config._schema", "gansearch.scoring": "gansearch.score._scorer",
    "gansearch.searchbench": "gansearch.bench._search_bench", "gansearch.space": "gansearch.search._space",
    "gansearch.spec": "gansearch.nets._spec", "gansearch.timeline": "gansearch.run._timeline",
    "gansearch.trainer": "gansearch.train._trainer", "gansearch.translation": "gansearch.score._translate",
    "gansearch.workers": "gansearch.run._supervisor",
}
# old modules whose names went to several places: every place is searched, the first listed first
SPLIT = {
    "gansearch.runner": ("gansearch.run._objective", "gansearch.run._worker", "gansearch.run._progress",
                         "gansearch.store._open", "gansearch.score._translate"),
    "gansearch.scoring": ("gansearch._cache",), "gansearch.randomness": ("gansearch._seeds",),
    "gansearch.translation": ("gansearch.nets._builder", "gansearch.data._images"),
    "gansearch.workers": ("gansearch.run._signals",),
}
PACKAGE_NAMES = {  # names a package-of-the-same-name no longer defines: "package.name" -> new module
    "gansearch.study.load_config": "gansearch.config._load", "gansearch.study.open_study": "gansearch.store._open",
    "gansearch.study.make_storage": "gansearch.store._storage", "gansearch.study.sqlite_path": "gansearch.store._storage",
    "gansearch.study.fingerprint": "gansearch.store._fingerprint",
    "gansearch.study.check_unchanged": "gansearch.store._fingerprint",
    "gansearch.study.make_sampler": "gansearch.search._samplers", "gansearch.study.make_pruner": "gansearch.search._samplers",
    "gansearch.study.trial_seed": "gansearch.search._samplers", "gansearch.study.derive_seed": "gansearch._seeds",
    "gansearch.plugins.hookspecs": "gansearch.plugins._hookspecs",
}
FRONT = {  # names the 0.1 front exported and this one does not -> where they live now
    "run_study": "gansearch.run", "prepare": "gansearch.study", "load_config": "gansearch.config",
    "StudyConfig": "gansearch.config", "load_registry": "gansearch.plugins", "get_plugin_manager": "gansearch.plugins",
    "Registry": "gansearch.plugins", "build_pair": "gansearch.nets", "Generator": "gansearch.nets",
    "Discriminator": "gansearch.nets", "Scorer": "gansearch.score", "held_out_conditions": "gansearch.results",
    "study_schema": "gansearch.config", "best_trial": "gansearch.results",
    "ArchSpec": "gansearch.nets", "LayerSpec": "gansearch.nets", "NetSpec": "gansearch.nets", "TrainSpec": "gansearch.nets",
}


def _warn(old: str, new: str) -> None:
    warnings.warn(f"{old} moved to {new}; the old path works until {REMOVED_IN}", DeprecationWarning, stacklevel=4)


def moved_name(name: str):
    """``gansearch.<name>`` for a name the front no longer exports."""
    if name not in FRONT:
        raise AttributeError(f"module 'gansearch' has no attribute {name!r}")
    _warn(f"gansearch.{name}", f"{FRONT[name]}.{name}")
    return getattr(importlib.import_module(FRONT[name]), name)


def package_name(package: str, name: str):
    """``<package>.<name>`` for a name that moved out of a package whose path did not change."""
    key = f"{package}.{name}"
    if key not in PACKAGE_NAMES:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    where = PACKAGE_NAMES[key]
    module = importlib.import_module(where)
    is_module = where.rsplit(".", 1)[-1] == f"_{name}"  # the name was a module (gansearch.plugins.hookspecs)
    _warn(key, where if is_module else f"{where.replace('._', '.').rsplit('.', 1)[0]}.{name}")
    value = module if is_module else getattr(module, name)
    setattr(sys.modules[package], name, value)  # warned once
    return value


class _OldModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``gansearch.<old module>``: a module whose names are those of the new module(s)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname in MODULES:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return types.ModuleType(spec.name)

    def exec_module(self, module):
        name = module.__name__
        _warn(name, MODULES[name].replace("._", ".").rsplit(".", 1)[0] if "._" in MODULES[name] else MODULES[name])
        sources = [importlib.import_module(m) for m in (MODULES[name], *SPLIT.get(name, ()))]
        for source in reversed(sources):  # the first listed wins
            module.__dict__.update({k: v for k, v in vars(source).items() if not k.startswith("__")})
        module.__doc__ = f"Moved: see {MODULES[name]}."


def install() -> None:
    if not any(isinstance(f, _OldModules) for f in sys.meta_path):
        sys.meta_path.append(_OldModules())
