"""Plugins: the hooks (``register_blocks``, ``register_datasets``, ``register_metrics``,
``register_augmentations``), the contracts of what they register (``Block``, ``Dataset``, ``Extractor``,
``Metric``, ``Augmentation``, with the layer helpers blocks use), and the registry: a fresh plugin
manager per run that loads entry points, a study's own plugin files, and the built-ins, through the same
hooks.
"""
from gansearch.plugins._augmentation import Augmentation, accepts_generator, make_policy, policy_names
from gansearch.plugins._block import NAME_RE, RESAMPLES, SCALES, Block, BlockArgs, check_block_args
from gansearch.plugins._dataset import REQUIRED, DataRequest, Dataset, Paired, Required
from gansearch.plugins._hookspecs import hookimpl, hookspec
from gansearch.plugins._layers import ACTIVATIONS, NORMS, exact_conv, make_activation, make_norm
from gansearch.plugins._metric import Extractor, ExtractorRequest, Features, Metric
from gansearch.plugins._registry import (
    AUTOLOAD_ENV, DEFAULT_PLUGINS, ENTRY_POINT_GROUP, Provided, Registry, collect, get_plugin_manager, load_registry,
)


def __getattr__(name):  # names that moved to another package keep working for one release
    from gansearch._compat import package_name

    return package_name(__name__, name)


__all__ = ['ACTIVATIONS', 'AUTOLOAD_ENV', 'Augmentation', 'Block', 'BlockArgs', 'DEFAULT_PLUGINS', 'DataRequest', 'Dataset', 'ENTRY_POINT_GROUP', 'Extractor', 'ExtractorRequest', 'Features', 'Metric', 'NAME_RE', 'NORMS', 'Paired', 'Provided', 'REQUIRED', 'RESAMPLES', 'Registry', 'Required', 'SCALES', 'accepts_generator', 'check_block_args', 'collect', 'exact_conv', 'get_plugin_manager', 'hookimpl', 'hookspec', 'load_registry', 'make_activation', 'make_norm', 'make_policy', 'policy_names']
