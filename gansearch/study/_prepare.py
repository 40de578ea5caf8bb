"""From a study file to everything a run needs: config, plugins, search space, data, Optuna study.

``prepare`` does every check before anything is written, so bad input creates no study.
"""

import contextlib
import dataclasses
import json
import os
import random
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna
import torch
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from .baseline import Baseline, make_baseline
from .builder import preflight_blocks
from .config import StudyConfig, load_config
from .dataset import REQUIRED, DataRequest, Paired
from .devices import cuda_count, host_cores, max_workers, resolve_devices
from . import journal
from .recovery import finish_recorded_trials, recover_storage
from .errors import DatasetError, GansearchWarning, PluginError, StudyConfigError, StudyNotFound
from .plugins import Registry, load_registry
from .randomness import derive_seed
from .augment import policy_names
from .objectives import directions
from .pairs import Pairs, make_pairs
from .scoring import Plan, resolve_plan
from .translation import translate_plan
from .space import SearchSpace


HEARTBEAT_S = 30
STORAGE_ATTEMPTS = 5


@dataclass
class Prepared:
    config: StudyConfig
    registry: Registry
    space: SearchSpace | None = None
    data: torch.Tensor | None = None  # (N, C, R, R) in [-1, 1]
    labels: torch.Tensor | None = None  # (N,) int64 class indices, for a labelled dataset
    classes: tuple[str, ...] = ()  # the labelled dataset's class names
    plan: Plan | None = None  # what trials are scored on (a TranslatePlan for task: translate)
    baseline: Baseline | None = None  # the hand design run as trial 0
    pairs: Pairs | None = None  # task: translate: (condition, target) pairs and the held-out split
    extractors: dict = dataclasses.field(default_factory=dict)  # feature extractors built in this process


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
                               f"{', '.join(sorted(registry.datasets))}{registry.broken_note()}",
                               file=file, key="data.name")
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
    check_augmentations(config, registry)
    if config.task == "translate":
        plan = translate_plan(config, registry, labelled=bool(dataset.classes))
    else:
        plan = resolve_plan(config, registry, labelled=bool(dataset.classes))
    baseline = None if config.baseline in (None, "none") else make_baseline(config.baseline, config, space)
    check_device(config)
    check_storage(config)
    prepared = Prepared(config, registry, space, plan=plan, baseline=baseline)
    if load_data:
        request = DataRequest(config.data.resolution, channels, config.seed, options, config.base_dir)
        plugin = registry.datasets[dataset.name].plugin
        conditions = None
        try:
            loaded = dataset.load(request)
            if isinstance(loaded, Paired):
                if config.task != "translate" or config.translate.condition != "paired":
                    raise StudyConfigError(f"dataset {dataset.name!r} gives (condition, target) pairs: use it in a "
                                           "translate study with translate.condition: paired", file=file, key="data.name")
                conditions, _ = check_data(loaded.condition, request, dataset, plugin, what="conditions")
                loaded = loaded.target
                if len(conditions) != len(loaded):
                    raise DatasetError(f"dataset {dataset.name!r} (plugin {plugin!r}) returned {len(conditions)} "
                                       f"conditions for {len(loaded)} targets")
            prepared.data, prepared.labels = check_data(loaded, request, dataset, plugin)
            prepared.classes = tuple(dataset.classes) if prepared.labels is not None else ()
        except DatasetError as exc:
            key = f"data.{exc.option}" if exc.option else "data"
            raise StudyConfigError(str(exc), file=file, key=key) from None
        except Exception as exc:  # noqa: BLE001 - a bad option type or a plugin bug: still one line
            raise StudyConfigError(f"dataset {dataset.name!r} (plugin {plugin!r}) failed to load: "
                                   f"{type(exc).__name__}: {exc}", file=file, key="data") from None
        n = len(prepared.data)
        if config.task == "translate":
            if config.translate.condition == "paired" and conditions is None:
                raise StudyConfigError(f"dataset {dataset.name!r} gives images, not pairs; use a named condition "
                                       "(grayscale, downsample, blur, noise, mask, edges) or a paired dataset "
                                       "(paired_folder)", file=file, key="translate.condition")
            if n < 2:
                raise StudyConfigError(f"a translate study needs at least 2 images (one held out); dataset "
                                       f"{dataset.name!r} has {n}", file=file, key="data")
            prepared.pairs = make_pairs(prepared.data, config.translate, config.seed, conditions)
        elif n < config.score.samples:
            warnings.warn(f"{file}: the dataset has {n} images, fewer than score.samples ({config.score.samples}): "
                          "every score compares against these few, so scores are noisy (standard errors show how "
                          "much); KID suits small sets best (score.objective: kid)", GansearchWarning, stacklevel=2)
    return prepared


def check_augmentations(config: StudyConfig, registry: Registry) -> None:
    """Every name in ``train.augment`` (a fixed policy or each choice) must be a registered augmentation."""
    value = config.train.augment
    for i, policy in enumerate(value if isinstance(value, list) else [value]):
        for name in policy_names(policy):
            if name not in registry.augmentations:
                key = f"train.augment.{i}" if isinstance(value, list) else "train.augment"
                raise StudyConfigError(f"unknown augmentation {name!r}; available: none, "
                                       f"{', '.join(sorted(registry.augmentations))}", file=config.file, key=key)


def check_device(config: StudyConfig) -> None:
    """Every device in ``devices`` must exist on this machine."""
    count = cuda_count()
    for name in resolve_devices(config.devices):
        if name != "cpu" and int(name.partition(":")[2]) >= count:
            raise StudyConfigError(f"{name!r} is not available here ({count} CUDA device(s)); use auto or cpu",
                                   file=config.file, key="devices")


def check_workers(config: StudyConfig, workers) -> None:
    """``workers`` (per device) must fit this machine: one per CPU core, a bounded number per GPU."""
    if workers == "auto":
        return
    devices = resolve_devices(config.devices)
    most = max_workers(devices)
    if workers > most:
        raise StudyConfigError(f"{workers} is more than this machine runs at once on {', '.join(devices)}: at most "
                               f"{most} per device ({host_cores()} CPU cores); use auto", file=config.file,
                               key="workers")


def sqlite_path(url: str) -> Path | None:
    """The database file of a ``sqlite:///`` URL, else None."""
    return Path(url[len("sqlite:///"):]) if url.startswith("sqlite:///") else None


def check_storage(config: StudyConfig) -> None:
    """The storage URL must parse and its driver must be installed (nothing is connected or written)."""
    if config.storage is None:
        return
    url = config.storage
    if url.startswith(("sqlite", "postgresql", "mysql")):
        try:
            import sqlalchemy

            sqlalchemy.make_url(url).get_dialect().import_dbapi()  # the driver, e.g. psycopg for postgresql://
            return
        except Exception as exc:  # noqa: BLE001 - sqlalchemy's ArgumentError, a missing driver, ...
            why = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    else:
        why = "expected an Optuna storage URL such as sqlite:///study.db or postgresql://user@host/db"
    raise StudyConfigError(f"cannot use {url!r}: {why}", file=config.file, key="storage")


def check_output(config: StudyConfig) -> None:
    """The output folder (and a SQLite database's folder) must be creatable and writable: checked before
    anything trains, so a run never trains for nothing. A probe file is created and removed at once."""
    folder = config.output_dir
    key = "output" if config.output else "name"
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise StudyConfigError(f"cannot create the output folder {folder}: {existing} is not a folder",
                               file=config.file, key=key)
    for probe_in in (existing, *[p for p in (folder / "trials",) if p.is_dir()]):
        try:
            with tempfile.TemporaryFile(dir=probe_in):
                pass
        except OSError as exc:
            what = f"write in {probe_in}" if probe_in == folder or folder in probe_in.parents else \
                f"create the output folder {folder} in {probe_in}"
            raise StudyConfigError(f"cannot {what}: {exc.strerror or exc}", file=config.file, key=key) from None
    db = sqlite_path(config.storage) if config.storage else None
    if db is not None and not db.resolve().parent.is_dir():
        raise StudyConfigError(f"the SQLite database's folder {db.resolve().parent} does not exist; create it "
                               "first", file=config.file, key="storage")


def check_data(loaded, request: DataRequest, dataset, plugin: str, what: str = "images"
               ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A dataset plugin must return float (N, C, R, R) in [-1, 1]; a labelled one (its ``classes`` set)
    a pair ``(images, labels)`` with int64 (N,) labels in ``range(len(classes))``."""
    name = dataset.name
    labels = None
    if dataset.classes and what == "images":
        if not (isinstance(loaded, tuple) and len(loaded) == 2):
            raise DatasetError(f"dataset {name!r} (plugin {plugin!r}) declares classes, so it must return "
                               f"(images, labels); got {type(loaded).__name__}")
        loaded, labels = loaded
    data = loaded
    expected = (request.channels, request.resolution, request.resolution)
    if not isinstance(data, torch.Tensor) or data.dim() != 4 or tuple(data.shape[1:]) != expected:
        got = tuple(data.shape) if isinstance(data, torch.Tensor) else type(data).__name__
        raise DatasetError(f"dataset {name!r} (plugin {plugin!r}) returned {what} {got}; expected (N, *{expected})")
    if not data.is_floating_point() or data.shape[0] < 2:
        raise DatasetError(f"dataset {name!r} (plugin {plugin!r}) must return >= 2 float images")
    if not torch.isfinite(data).all() or data.min() < -1.0001 or data.max() > 1.0001:
        raise DatasetError(f"dataset {name!r} (plugin {plugin!r}) must return finite values in [-1, 1]")
    if labels is not None:
        ok = (isinstance(labels, torch.Tensor) and labels.shape == (data.shape[0],) and not labels.is_floating_point()
              and not labels.is_complex() and bool(((labels >= 0) & (labels < len(dataset.classes))).all()))
        if not ok:
            raise DatasetError(f"dataset {name!r} (plugin {plugin!r}) must return ({data.shape[0]},) integer labels "
                               f"in 0..{len(dataset.classes) - 1}")
        labels = labels.long().cpu()
    return data.float().contiguous(), labels


def trial_seed(study_seed: int, number: int) -> int:
    """A per-trial seed derived from the study seed and the trial number."""
    return derive_seed(study_seed, number)


def make_sampler(config: StudyConfig, n_existing: int = 0, worker: int = 0) -> optuna.samplers.BaseSampler:
    """The study's sampler. A resumed run, and every worker but the first, reseeds it from the trials
    so far and the worker index, so no two samplers replay the same proposals. With a shared ``storage:``
    (several runs, maybe on several machines, at once) every process also mixes in a random number: runs
    never duplicate each other's trials, and such studies are not bit-for-bit reproducible.

    TPE defaults suit short studies of a conditional space: ``startup_trials(n_trials)`` random trials,
    multivariate TPE with ``group=True`` (parameters that appear together are modelled together), and
    ``constant_liar`` so parallel workers (and machines) avoid proposing what another is training."""
    seed = config.seed if n_existing == worker == 0 else derive_seed(config.seed, n_existing, worker + 1)
    if config.storage is not None:  # runs on several machines share it: every process proposes its own trials
        seed = derive_seed(seed, *np.frombuffer(os.urandom(8), dtype=np.uint32).tolist())
    if config.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if config.sampler == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    if config.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # multivariate, group, constant_liar
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup_trials(config.n_trials),
                                          multivariate=True, group=True, constant_liar=True)


def startup_trials(n_trials: int) -> int:
    """Random trials before TPE models the space: a fifth of the study, between 3 and 10 (Optuna's
    default of 10 would leave a 12-trial study almost all random)."""
    return min(10, max(3, round(n_trials / 5)))


def make_pruner(config: StudyConfig) -> optuna.pruners.BasePruner:
    t = config.train
    if config.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=t.eval_every, max_resource=t.steps)
    if config.pruner == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=t.eval_every)
    if config.pruner == "none":
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=0)


def make_storage(config: StudyConfig, reading: bool = False):
    """The study's Optuna storage: a journal file by default, else an RDB URL with heartbeats.

    Heartbeats let a run on any machine mark trials of a dead worker as failed. A damaged journal is
    repaired before it is read (``gansearch.journal``); while a run writes to it, a repaired copy is read.
    """
    if config.storage is None:
        path = config.journal_path
        if reading and journal.is_damaged(path):  # a run is writing to it, or it could not be rewritten
            path = journal.readable_copy(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    url = config.storage
    engine_kwargs = {}
    path = sqlite_path(url)
    if path is not None:
        engine_kwargs = {"connect_args": {"timeout": 60}}
    for attempt in range(STORAGE_ATTEMPTS):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats
                return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, heartbeat_interval=HEARTBEAT_S,
                                                  grace_period=4 * HEARTBEAT_S)
        except ImportError as exc:  # no driver: retrying will not help
            error = exc
            break
        except Exception as exc:  # noqa: BLE001 - e.g. two machines creating the tables at once
            error = exc
            time.sleep(random.uniform(0.5, 2.0) * (attempt + 1))
    cause = error.__cause__ or error
    raise StudyConfigError(f"cannot open {url!r}: {type(cause).__name__}: {str(cause).splitlines()[0]}",
                           file=config.file, key="storage") from None


def storage_exists(config: StudyConfig) -> bool:
    """False only when the local file the storage lives in has not been written yet."""
    path = config.journal_path if config.storage is None else sqlite_path(config.storage)
    return path is None or path.exists()


def fingerprint(config: StudyConfig) -> dict:
    """What must not change between runs of one study: the search space, the data and the score."""
    raw = {k: v for k, v in dataclasses.asdict(config).items()
           if k in ("data", "generator", "discriminator", "train", "score")}
    raw["train"].pop("cuda_graphs")  # resuming on another device, or eagerly, is fine
    raw["train"].pop("precision")  # likewise how the arithmetic is done
    raw["score"].pop("metrics")  # what else is stored may grow; the objective may not change
    raw["score"].pop("inception_weights")  # the same weights may move
    if raw["train"].get("augment") == "none":  # keys added later, at their defaults: studies begun before match
        raw["train"].pop("augment")
    if config.objectives:
        raw["objectives"] = list(config.objectives)
    if config.task == "translate":
        raw["task"], raw["translate"] = config.task, dataclasses.asdict(config.translate)
    else:
        raw["train"].pop("l1_weight", None)  # only translate studies use it
    return json.loads(json.dumps(raw, default=str))


def _first_difference(old, new, key=""):
    if isinstance(old, dict) and isinstance(new, dict):
        for k in sorted(set(old) | set(new)):
            found = _first_difference(old.get(k), new.get(k), f"{key}.{k}" if key else k)
            if found:
                return found
        return None
    return (key, old, new) if old != new else None


def _has_key(tree: dict, dotted: str) -> bool:
    for part in dotted.split("."):
        if not isinstance(tree, dict) or part not in tree:
            return False
        tree = tree[part]
    return True


def check_unchanged(study: optuna.Study, config: StudyConfig) -> None:
    """A resumed study must search the same space: editing it mid-study would mix incomparable trials."""
    stored = study.user_attrs.get("gansearch_fingerprint")
    current = fingerprint(config)
    if stored is None:
        study.set_user_attr("gansearch_fingerprint", current)
        return
    diff = _first_difference(stored, current)
    if diff and not _has_key(stored, diff[0]):  # a key this study's gansearch did not have
        key, _, new = diff
        raise StudyConfigError(f"this study was created by an older gansearch, without {key} (now {new!r}): "
                               "its scores are not comparable; give the study a new name", file=config.file, key=key)
    if diff:
        key, old, new = diff
        raise StudyConfigError(f"changed from {old!r} to {new!r} since the study started; a study's search "
                               "space, data and score are fixed: restore it, or give the study a new name",
                               file=config.file, key=key)


def open_study(config: StudyConfig, *, create: bool, worker: int = 0, report_created: bool = False,
               recover: bool = True):
    """The study's Optuna object: created (or resumed) for a run, or loaded for analysis (``recover``:
    first repair the journal if no run is writing to it; see ``gansearch.recovery``). With
    ``report_created``, a pair (study, whether this call created it)."""
    if not create:
        lock = config.output_dir / "run.lock"
        with journal.hold(lock) if recover and config.storage is None else contextlib.nullcontext(False) as quiet:
            if quiet:  # no run writes to the journal, and none can start meanwhile: repair or rebuild it
                with contextlib.suppress(OSError):  # a full disk: read as it is
                    recover_storage(config, stacklevel=5)
            if not storage_exists(config):
                raise StudyNotFound(f"{config.file}: no results yet in {config.storage_url}; "
                                    f"run `gansearch run {config.file}` first")
            try:
                study = optuna.load_study(study_name=config.name, storage=make_storage(config, reading=recover),
                                          sampler=make_sampler(config), pruner=make_pruner(config))
            except KeyError:
                raise StudyNotFound(f"{config.file}: study {config.name!r} not found in {config.storage_url}") \
                    from None
            if quiet:
                with contextlib.suppress(OSError):
                    finish_recorded_trials(study, config)
        return study
    storage = make_storage(config)
    try:  # exactly one of several runs starting together on one database creates the study
        study = optuna.create_study(storage=storage, study_name=config.name, directions=directions(config),
                                    pruner=make_pruner(config))
        created = True
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=config.name, storage=storage, pruner=make_pruner(config))
        created = False
    check_unchanged(study, config)
    study.sampler = make_sampler(config, len(study.get_trials(deepcopy=False)), worker)
    return (study, created) if report_created else study
