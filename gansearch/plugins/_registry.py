"""Plugin discovery and the registry of blocks and datasets they provide.

Built-ins come through the same hooks as third-party plugins: ``DEFAULT_PLUGINS`` are registered
by the plugin manager like any other module. Discovery order: entry points (group ``gansearch``,
unless ``GANSEARCH_DISABLE_PLUGIN_AUTOLOAD`` is set), then the study's ``plugins:`` list, then
the defaults. An installed plugin that fails to import is a warning, not an error: studies that do
not use it go on, and an unknown block or dataset name mentions it.
"""

import importlib
import importlib.metadata
import importlib.util
import os
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from gansearch._version import __version__
from gansearch.errors import GansearchWarning, PluginError
from gansearch.plugins import _hookspecs as hookspecs
from gansearch.plugins._augmentation import Augmentation
from gansearch.plugins._block import Block
from gansearch.plugins._dataset import Dataset
from gansearch.plugins._metric import Extractor, Metric

DEFAULT_PLUGINS = ("gansearch.builtin.blocks", "gansearch.builtin.datasets", "gansearch.builtin.metrics",
                   "gansearch.builtin.spectral", "gansearch.builtin.augment")
ENTRY_POINT_GROUP = "gansearch"
AUTOLOAD_ENV = "GANSEARCH_DISABLE_PLUGIN_AUTOLOAD"


def get_plugin_manager(plugins=(), base_dir=None, entry_points: bool | None = None) -> pluggy.PluginManager:
    """A fresh plugin manager: entry points, then ``plugins`` (module names, ``.py`` paths relative
    to ``base_dir``, or plugin objects), then the built-ins."""
    pm = pluggy.PluginManager("gansearch")
    pm.add_hookspecs(hookspecs)
    pm.gansearch_versions = {}  # plugin name -> "dist version" for the `plugins` listing
    pm.gansearch_broken = {}  # installed plugin name -> why it failed to import
    pm.gansearch_entry_modules = {}  # module of each loaded entry point -> its plugin name
    if entry_points is None:
        entry_points = not os.environ.get(AUTOLOAD_ENV)
    if entry_points:
        _load_entry_points(pm)
    for plugin in plugins:
        _load_one(pm, plugin, Path(base_dir or "."))
    for name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
        pm.gansearch_versions[name] = f"gansearch {__version__}"
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {exc.plugin!r}: {exc}") from exc
    return pm


def _load_entry_points(pm):
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        origin = f"{dist.name} {dist.version}" if dist else ep.value
        if pm.get_plugin(ep.name) is not None or ep.name in pm.gansearch_broken:
            raise PluginError(f"two installed packages declare the gansearch plugin {ep.name!r}: "
                              f"{pm.gansearch_versions.get(ep.name)} and {origin}")
        pm.gansearch_versions[ep.name] = origin
        try:
            module = ep.load()
        except Exception as exc:  # noqa: BLE001 - any import failure is reported the same way
            lines = str(exc).splitlines()
            reason = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
            pm.gansearch_broken[ep.name] = reason
            warnings.warn(f"installed plugin {ep.name!r} (entry point {ep.value}, {origin}) failed to import: "
                          f"{reason}; studies that do not use it go on "
                          f"(set {AUTOLOAD_ENV}=1 to skip installed plugins)", GansearchWarning, stacklevel=2)
            continue
        _register(pm, module, ep.name)
        pm.gansearch_entry_modules[ep.module] = ep.name


def _load_one(pm, plugin, base_dir: Path):
    if not isinstance(plugin, str):  # a module or plugin object, named for messages by what it is
        name = getattr(plugin, "__name__", None) or type(plugin).__qualname__
        _register(pm, plugin, name if pm.get_plugin(name) is None else f"{name}#{id(plugin):x}")
        return
    if plugin.endswith(".py") or "/" in plugin or os.sep in plugin:
        path = (base_dir / plugin).resolve()
        if not path.is_file():
            raise PluginError(f"plugin {plugin!r}: no such file {path}")
        # the same file loaded already (an installed entry point's module, say): use that one
        for loaded in (*pm.get_plugins(), *map(sys.modules.get, pm.gansearch_entry_modules)):
            if getattr(loaded, "__file__", None) and Path(loaded.__file__).resolve() == path:
                return
        module_name = f"gansearch_local_plugin_{path.stem}_{abs(hash(str(path))):x}"
        try:
            spec = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
        except Exception as exc:  # noqa: BLE001
            sys.modules.pop(module_name, None)
            raise PluginError(f"plugin {plugin!r} failed to import: {type(exc).__name__}: {exc}") from exc
        _register(pm, module, plugin)
        pm.gansearch_versions[plugin] = str(path)
        return
    if pm.get_plugin(plugin) is not None or plugin in pm.gansearch_entry_modules:  # installed, loaded already
        return
    try:
        module = importlib.import_module(plugin)
    except Exception as exc:  # noqa: BLE001
        raise PluginError(f"plugin {plugin!r} failed to import: {type(exc).__name__}: {exc}") from exc
    if pm.is_registered(module):  # also installed, and already loaded through its entry point
        return
    _register(pm, module, plugin)
    pm.gansearch_versions[plugin] = getattr(module, "__version__", None) or "local module"


def _register(pm, plugin, name):
    try:
        pm.register(plugin, name=name)
    except ValueError as exc:  # pluggy: the same plugin or name twice
        raise PluginError(f"plugin {name or plugin!r} registered twice: {exc}") from exc
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {name or plugin!r}: {exc}") from exc


@dataclass(frozen=True)
class Provided:
    """One registered object and who provided it."""

    obj: Any
    plugin: str
    version: str | None


@dataclass
class Registry:
    """Blocks, datasets, extractors, metrics and augmentations by name, each with the plugin that provided it."""

    blocks: dict[str, Provided] = field(default_factory=dict)
    datasets: dict[str, Provided] = field(default_factory=dict)
    extractors: dict[str, Provided] = field(default_factory=dict)
    metrics: dict[str, Provided] = field(default_factory=dict)
    augmentations: dict[str, Provided] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)  # installed plugin that failed to import -> why

    def block(self, name: str) -> Block:
        return self.blocks[name].obj

    def dataset(self, name: str) -> Dataset:
        return self.datasets[name].obj

    def extractor(self, name: str) -> Extractor:
        return self.extractors[name].obj

    def metric(self, name: str) -> Metric:
        return self.metrics[name].obj

    def augmentation(self, name: str) -> Augmentation:
        return self.augmentations[name].obj

    def plugin_of(self, block_name: str) -> str:
        return self.blocks[block_name].plugin

    def broken_note(self) -> str:
        """For an unknown-name error: ``; installed plugin 'x' failed to import (why), it may provide it``."""
        return "".join(f"; installed plugin {name!r} failed to import ({why}), it may provide it"
                       for name, why in self.broken.items())


_KINDS = (  # hook, what its register callback accepts: (type, registry table, noun)
    ("register_blocks", ((Block, "blocks", "block"),)),
    ("register_datasets", ((Dataset, "datasets", "dataset"),)),
    ("register_metrics", ((Extractor, "extractors", "extractor"), (Metric, "metrics", "metric"))),
    ("register_augmentations", ((Augmentation, "augmentations", "augmentation"),)),
)


def collect(pm: pluggy.PluginManager) -> Registry:
    """Call every ``register_*`` hook and validate what each plugin registers."""
    registry = Registry(broken=dict(getattr(pm, "gansearch_broken", {})))
    versions = getattr(pm, "gansearch_versions", {})
    for hook_name, kinds in _KINDS:
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            register = _register_callback(registry, impl.plugin_name, kinds, versions.get(impl.plugin_name))
            try:
                impl.function(register)
            except PluginError:
                raise
            except Exception as exc:  # noqa: BLE001 - a plugin's own bug, reported with its name
                raise PluginError(f"plugin {impl.plugin_name!r} failed in {hook_name}: "
                                  f"{type(exc).__name__}: {exc}") from exc
    return registry


def _register_callback(registry: Registry, plugin: str, kinds, version):
    """The ``register`` a plugin's hook calls: checks the type and the name of each object as it arrives."""

    def register(obj):
        for cls, attr, noun in kinds:
            if isinstance(obj, cls):
                table = getattr(registry, attr)
                if obj.name in table:
                    raise PluginError(f"duplicate {noun} name {obj.name!r}: registered by plugin "
                                      f"{table[obj.name].plugin!r} and by plugin {plugin!r}")
                table[obj.name] = Provided(obj, plugin, version)
                return
        expected = " or ".join(f"a gansearch.{cls.__name__}" for cls, _, _ in kinds)
        raise PluginError(f"plugin {plugin!r} registered {obj!r}: expected {expected}")

    return register


def load_registry(plugins=(), base_dir=None, entry_points: bool | None = None) -> Registry:
    """Plugin manager and registry in one call."""
    return collect(get_plugin_manager(plugins, base_dir=base_dir, entry_points=entry_points))
