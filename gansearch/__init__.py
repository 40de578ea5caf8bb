"""gansearch: plugin-based architecture search for GAN generator/discriminator pairs.

What plugin authors need (``hookimpl``, ``Block``, ``Dataset``, the layer helpers, the errors) is
imported eagerly and cheaply; the search machinery (Optuna, pandas) loads on first use.
"""

import importlib

__version__ = "0.1.0"

from .augment import Augmentation  # noqa: E402
from .block import Block, BlockArgs  # noqa: E402
from .dataset import REQUIRED, DataRequest, Dataset, Paired  # noqa: E402
from .errors import (  # noqa: E402
    BlockShapeError, DatasetError, GansearchError, GansearchWarning, PluginError, StudyConfigError, StudyNotFound, TrialDiverged,
)
from .hookspecs import hookimpl  # noqa: E402
from .metric import Extractor, ExtractorRequest, Features, Metric  # noqa: E402
from .layers import ACTIVATIONS, NORMS, exact_conv, make_activation, make_norm  # noqa: E402
from .spec import ArchSpec, LayerSpec, NetSpec, TrainSpec  # noqa: E402

_LAZY = {  # public name -> module that defines it
    "trials_dataframe": "analysis", "best_trial": "analysis", "pareto_trials": "analysis",
    "load_generator": "analysis",
    "run_study": "runner", "prepare": "study", "load_config": "config", "StudyConfig": "config",
    "load_registry": "plugins", "get_plugin_manager": "plugins", "Registry": "plugins",
    "build_pair": "builder", "Generator": "builder", "Discriminator": "builder",
    "Scorer": "scoring", "evaluate": "evaluation", "held_out_conditions": "evaluation", "train": "trainer", "study_schema": "schema",
}


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gansearch' has no attribute {name!r}")


__all__ = [
    "ACTIVATIONS", "ArchSpec", "Augmentation", "Block", "BlockArgs", "BlockShapeError", "DataRequest", "Dataset", "DatasetError",
    "Extractor", "ExtractorRequest", "Features", "GansearchError", "GansearchWarning", "Metric", "LayerSpec", "NORMS", "NetSpec", "Paired", "PluginError", "REQUIRED", "StudyConfigError",
    "StudyNotFound", "TrainSpec", "TrialDiverged", "exact_conv", "hookimpl", "make_activation", "make_norm",
    *_LAZY,
]
