"""From a study file to everything a run needs: config, plugins, search space, data, Optuna study.

``prepare`` does every check before anything is written, so bad input creates no study.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna
import torch

from .builder import preflight_blocks
from .config import StudyConfig, load_config
from .dataset import REQUIRED, DataRequest
from .errors import DatasetError, PluginError, StudyConfigError, StudyNotFound
from .plugins import Registry, load_registry
from .space import SearchSpace


@dataclass
class Prepared:
    config: StudyConfig
    registry: Registry
    space: SearchSpace | None = None
    data: torch.Tensor | None = None


def prepare(path, *, load_data: bool = True, entry_points: bool | None = None) -> Prepared:
    """Read, validate and resolve a study file. Raises ``StudyConfigError``/``PluginError``; writes nothing."""
    config = load_config(path)
    try:
        registry = load_registry(config.plugins, base_dir=config.base_dir, entry_points=entry_points)
    except PluginError as exc:
        raise PluginError(f"{config.file}: {exc}") from exc
    file = config.file
    if config.data.name not in registry.datasets:
        raise StudyConfigError(f"unknown dataset {config.data.name!r}; available: "
                               f"{', '.join(sorted(registry.datasets))}", file=file, key="data.name")
    dataset = registry.dataset(config.data.name)
    for key in config.data.options:
        if key not in dataset.options:
            allowed = ", ".join(["name", "resolution", "channels", *dataset.options])
            raise StudyConfigError(f"unknown key for dataset {dataset.name!r}; allowed: {allowed}",
                                   file=file, key=f"data.{key}")
    options = {**dataset.options, **config.data.options}
    missing = [k for k, v in options.items() if v is REQUIRED]
    if missing:
        raise StudyConfigError(f"dataset {dataset.name!r} needs this key", file=file, key=f"data.{missing[0]}")
    channels = config.data.channels or dataset.channels
    space = SearchSpace(config, registry, channels)
    preflight_blocks(space)
    prepared = Prepared(config, registry, space)
    if load_data:
        request = DataRequest(config.data.resolution, channels, config.seed, options, config.base_dir)
        try:
            data = dataset.load(request)
        except DatasetError as exc:
            key = f"data.{exc.option}" if exc.option else "data"
            raise StudyConfigError(str(exc), file=file, key=key) from None
        prepared.data = check_data(data, request, dataset.name, registry.datasets[dataset.name].plugin)
    return prepared


def check_data(data, request: DataRequest, name: str, plugin: str) -> torch.Tensor:
    """A dataset plugin must return float (N, C, R, R) in [-1, 1]."""
    expected = (request.channels, request.resolution, request.resolution)
    if not isinstance(data, torch.Tensor) or data.dim() != 4 or tuple(data.shape[1:]) != expected:
        got = tuple(data.shape) if isinstance(data, torch.Tensor) else type(data).__name__
        raise DatasetError(f"dataset {name!r} (plugin {plugin!r}) returned {got}; expected (N, *{expected})")
    if not data.is_floating_point() or data.shape[0] < 2:
        raise DatasetError(f"dataset {name!r} (plugin {plugin!r}) must return >= 2 float images")
    if not torch.isfinite(data).all() or data.min() < -1.0001 or data.max() > 1.0001:
        raise DatasetError(f"dataset {name!r} (plugin {plugin!r}) must return finite values in [-1, 1]")
    return data.float().contiguous()


def trial_seed(study_seed: int, number: int) -> int:
    """A per-trial seed derived from the study seed and the trial number."""
    return int(np.random.SeedSequence([study_seed, number]).generate_state(1)[0])


def make_sampler(config: StudyConfig) -> optuna.samplers.BaseSampler:
    seed = config.seed
    if config.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if config.sampler == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    if config.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def make_pruner(config: StudyConfig) -> optuna.pruners.BasePruner:
    t = config.train
    if config.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=t.eval_every, max_resource=t.steps)
    if config.pruner == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=t.eval_every)
    if config.pruner == "none":
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=0)


def make_storage(config: StudyConfig):
    url = config.storage_url
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})
    return url


def open_study(config: StudyConfig, *, create: bool) -> optuna.Study:
    """The study's Optuna object: created (or resumed) for a run, or loaded for analysis."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if not create:
        url = config.storage_url
        if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
            raise StudyNotFound(f"{config.file}: no results yet at {url[len('sqlite:///'):]}; "
                                f"run `gansearch run {config.file}` first")
        try:
            return optuna.load_study(study_name=config.name, storage=make_storage(config),
                                     sampler=make_sampler(config), pruner=make_pruner(config))
        except KeyError:
            raise StudyNotFound(f"{config.file}: study {config.name!r} not found in {url}") from None
    try:
        storage = make_storage(config)
        return optuna.create_study(storage=storage, study_name=config.name, direction="minimize",
                                   sampler=make_sampler(config), pruner=make_pruner(config), load_if_exists=True)
    except (ValueError, ImportError, ArithmeticError) as exc:
        raise StudyConfigError(f"cannot open storage {config.storage_url!r}: {type(exc).__name__}: "
                               f"{str(exc).splitlines()[0]}", file=config.file, key="storage") from None
