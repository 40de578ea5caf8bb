"""gansearch: plugin-based architecture search for GAN generator/discriminator pairs."""

__version__ = "0.1.0"

from .analysis import best_trial, load_generator, trials_dataframe  # noqa: E402
from .block import Block, BlockArgs  # noqa: E402
from .config import StudyConfig, load_config  # noqa: E402
from .dataset import REQUIRED, DataRequest, Dataset  # noqa: E402
from .errors import (  # noqa: E402
    BlockShapeError, DatasetError, GansearchError, PluginError, StudyConfigError, StudyNotFound, TrialDiverged,
)
from .hookspecs import hookimpl  # noqa: E402
from .layers import ACTIVATIONS, NORMS, exact_conv, make_activation, make_norm  # noqa: E402
from .runner import run_study  # noqa: E402
from .spec import ArchSpec, LayerSpec, NetSpec, TrainSpec  # noqa: E402
from .study import prepare  # noqa: E402

__all__ = [
    "ACTIVATIONS", "ArchSpec", "Block", "BlockArgs", "BlockShapeError", "DataRequest", "Dataset", "DatasetError",
    "GansearchError", "LayerSpec", "NORMS", "NetSpec", "PluginError", "REQUIRED", "StudyConfig", "StudyConfigError",
    "StudyNotFound", "TrainSpec", "TrialDiverged", "best_trial", "exact_conv", "hookimpl", "load_config",
    "load_generator", "make_activation", "make_norm", "prepare", "run_study", "trials_dataframe",
]
