"""gansearch: plugin-based architecture search for GAN generator/discriminator pairs.

The public front. For plugin authors: ``hookimpl`` and the contracts of what a plugin registers (blocks,
datasets, extractors and metrics, augmentations) with the layer helpers blocks use, the errors, and
``testing``. For notebooks: ``trials_dataframe``, ``best``, ``pareto_trials``, ``evaluate``,
``load_generator``, ``open_study`` and ``export_generator``. Everything else lives in the packages by
concern (``gansearch.run``, ``gansearch.score``, ...); the plugin contracts load eagerly and cheaply, the
search machinery (Optuna, pandas) on first use.
"""

import importlib

from gansearch import _compat
from gansearch._version import __version__
from gansearch.errors import (
    BlockShapeError, DatasetError, GansearchError, GansearchWarning, PluginError, StudyConfigError, StudyNotFound,
    TrialDiverged,
)
from gansearch.plugins import (
    ACTIVATIONS, NORMS, REQUIRED, Augmentation, Block, BlockArgs, DataRequest, Dataset, Extractor, ExtractorRequest,
    Features, Metric, Paired, exact_conv, hookimpl, make_activation, make_norm,
)

_compat.install()  # gansearch 0.1's module paths (gansearch.builder, ...) keep working, with a DeprecationWarning

_LAZY = {  # public name -> the module that defines it, imported on first use
    "testing": "gansearch.testing",
    "trials_dataframe": "gansearch.results", "best": "gansearch.results", "pareto_trials": "gansearch.results",
    "evaluate": "gansearch.results", "load_generator": "gansearch.results",
    "open_study": "gansearch.store", "export_generator": "gansearch.nets",
}


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        value = module if name == "testing" else getattr(module, name)
    else:
        from gansearch._compat import moved_name

        value = moved_name(name)  # an older front's name: works, with a DeprecationWarning
    globals()[name] = value
    return value


__all__ = [
    "ACTIVATIONS", "Augmentation", "Block", "BlockArgs", "BlockShapeError", "DataRequest", "Dataset", "DatasetError",
    "Extractor", "ExtractorRequest", "Features", "GansearchError", "GansearchWarning", "Metric", "NORMS", "Paired",
    "PluginError", "REQUIRED", "StudyConfigError", "StudyNotFound", "TrialDiverged", "__version__", "exact_conv",
    "hookimpl", "make_activation", "make_norm", *_LAZY,
]
