"""From a study file to everything a run needs: config, plugins, search space, data, Optuna study.

``prepare`` does every check before anything is written, so bad input creates no study.
"""

import contextlib
import dataclasses
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from gansearch.config._load import StudyConfig, load_config
from gansearch.config._problems import Problems
from gansearch.data._pairs import Pairs, make_pairs
from gansearch.errors import DatasetError, GansearchWarning, PluginError, StudyConfigError
from gansearch.nets._builder import preflight_blocks
from gansearch.plugins._augmentation import policy_names
from gansearch.plugins._dataset import REQUIRED, DataRequest, Paired
from gansearch.plugins._registry import Registry, load_registry
from gansearch.score._scorer import Plan, resolve_plan
from gansearch.score._translate import translate_plan
from gansearch.search._baseline import Baseline, make_baseline
from gansearch.search._space import SearchSpace
from gansearch.store._storage import sqlite_path
from gansearch.train._devices import cuda_count, host_cores, max_workers, plan_workers, resolve_devices

FEW_HELD_OUT = 20  # a translate study scoring on fewer held-out pairs is warned that its scores are noisy


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


def prepare(path, *, load_data: bool = True, entry_points: bool | None = None, run: bool = False,
            workers=None) -> Prepared:
    """Read, check and resolve a study file, in one pass and in this order: the file itself (syntax, keys,
    values), then the names it uses against the plugin registry (dataset, blocks and their options,
    augmentations, metrics and extractors, the baseline), then this machine (devices, the storage's
    driver; for a ``run``: ``workers`` and the output folder), then its data. Every problem found is
    raised at once, in the order of the file, each one ``file: key: message`` line (``StudyConfigError``,
    ``StudyConfigErrors`` for several, ``PluginError``); a check that needs a value already found wrong is
    left out. Nothing is written."""
    problems = Problems(str(path))
    config = load_config(path, problems)  # 1. the file (raises at once only if it is too broken to go on)
    registry, dataset, space, plan, baseline = check_names(config, entry_points, problems)  # 2. the names
    check_machine(config, run, workers, problems)  # 3. this machine
    prepared = Prepared(config, registry, space, plan=plan, baseline=baseline)
    if load_data and dataset is not None and not problems.touch("data", "task", "translate", "seed"):
        with problems.check():
            load_study_data(prepared, dataset, warn=run,  # 4. the data
                            processes=1 if not run or problems.touch("workers", "devices", "trials_per_worker")
                            else worker_processes(config, workers))
    problems.raise_if_any()
    return prepared


def worker_processes(config: StudyConfig, workers=None) -> int:
    """How many worker processes a run of this study starts here (1: it trains in its own process)."""
    try:
        slots = plan_workers(resolve_devices(config.devices), workers or config.workers, config.trials_per_worker)
    except Exception:  # noqa: BLE001 - the machine checks said what is wrong
        return 1
    return len(slots)


def load_study_data(prepared: Prepared, dataset, warn: bool = True, processes: int = 1) -> None:
    """Load the study's data through its dataset plugin, check what it returned, and (translate) make the
    (condition, target) pairs and their held-out split. ``processes``: how many worker processes will each
    load it too (the memory check counts them)."""
    config, registry = prepared.config, prepared.registry
    channels = config.data.channels or dataset.channels
    options = {**dataset.options, **config.data.options}
    file = config.file
    request = DataRequest(config.data.resolution, channels, config.seed, options, config.base_dir)
    plugin = registry.datasets[dataset.name].plugin
    conditions = None
    check_memory(dataset, request, file, processes)
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
        prepared.pairs = make_pairs(prepared.data, config.translate, config.seed, conditions, prepared.labels)
        held_out = len(prepared.pairs.held_out)
        if held_out < FEW_HELD_OUT and warn:  # said by a run, not by every command that reads the study
            warnings.warn(f"{file}: only {held_out} of the {n} pairs are held out to score trials on "
                          f"(translate.held_out: {config.translate.held_out}): scores are noisy (standard errors "
                          "show how much) and trials will tie; more images, or a larger translate.held_out, "
                          "steady them", GansearchWarning, stacklevel=3)
    elif n < config.score.samples:
        warnings.warn(f"{file}: the dataset has {n} images, fewer than score.samples ({config.score.samples}): "
                      "every score compares against these few, so scores are noisy (standard errors show how "
                      "much); KID suits small sets best (score.objective: kid)", GansearchWarning, stacklevel=3)


PEAK_COPIES = 3  # a loader's peak: the float images and the temporaries that resizing and scaling them make
MEMORY_SHARE = 0.8  # of the memory available, what loading may take (training, scoring and workers need the rest)


def available_memory() -> int | None:
    """Bytes of memory this process can be given without swapping: the machine's (Linux: MemAvailable), or
    its container's (cgroup v2 memory.max less memory.current) if that is less; None if unknown."""
    found = []
    try:
        with open("/proc/meminfo") as f:
            found += [int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:")]
    except (OSError, ValueError, IndexError):
        with contextlib.suppress(ValueError, OSError, AttributeError):
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    with contextlib.suppress(OSError, ValueError):
        cgroup = Path("/sys/fs/cgroup")
        limit = (cgroup / "memory.max").read_text().strip()
        if limit != "max":
            found.append(int(limit) - int((cgroup / "memory.current").read_text()))
    return min(found) if found else None


def check_memory(dataset, request: DataRequest, file, processes: int = 1) -> None:
    """Refuse, before loading, data that would not fit in memory: the dataset's ``count`` images as float32
    (N, C, R, R), ``PEAK_COPIES`` times over while they load, in this process or, with several worker
    processes, in each of them (loading at once) besides this one's copy. Datasets that cannot count are
    loaded as is."""
    if dataset.count is None:
        return
    try:
        n = int(dataset.count(request))
    except Exception:  # noqa: BLE001 - its load will say what is wrong
        return
    r = request.resolution
    size = n * request.channels * r * r * 4
    copies = PEAK_COPIES if processes <= 1 else PEAK_COPIES * processes + 1
    free = available_memory()
    if free is None or size * copies <= MEMORY_SHARE * free:
        return
    where = "while loading" if processes <= 1 else f"while {processes} worker processes load it"
    raise StudyConfigError(f"dataset {dataset.name!r} at {r}x{r}: {n:,} images x {request.channels} channel(s) "
                           f"as float32 take {_gb(size)}, about {_gb(size * copies)} {where}, more than "
                           f"{MEMORY_SHARE:.0%} of the {_gb(free)} of memory available; lower data.resolution"
                           + (" or use fewer images" if processes <= 1 else ", use fewer images or fewer workers"),
                           file=file, key="data.resolution")


def _gb(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.0f} MB"


def check_names(config: StudyConfig, entry_points: bool | None = None, problems: Problems | None = None):
    """Every name the study uses, against the plugins it loads: (registry, dataset, space, plan, baseline),
    None for what could not be resolved. Problems go to ``problems`` (else the first is raised)."""
    own = problems if problems is not None else Problems(config.file)
    if own.touch("plugins"):  # names cannot be looked up without the study's own plugins
        own.raise_if_any()
    try:
        registry = load_registry(config.plugins, base_dir=config.base_dir, entry_points=entry_points)
    except PluginError as exc:  # nothing can be looked up without the registry
        raise PluginError(f"{config.file}: {exc}") from exc
    file = config.file
    dataset = space = plan = baseline = None
    with own.check():
        if config.data.name not in registry.datasets:
            raise StudyConfigError(f"unknown dataset {config.data.name!r}; available: "
                                   f"{', '.join(sorted(registry.datasets))}{registry.broken_note()}",
                                   file=file, key="data.name")
        dataset = registry.dataset(config.data.name)
    if dataset is not None:
        for key in config.data.options:
            if key not in dataset.options:
                allowed = ", ".join(["name", "resolution", "channels", *dataset.options])
                own.found.append(StudyConfigError(f"unknown key for dataset {dataset.name!r}; allowed: {allowed}",
                                                  file=file, key=f"data.{key}"))
        for key in (k for k, v in {**dataset.options, **config.data.options}.items() if v is REQUIRED):
            own.found.append(StudyConfigError(f"dataset {dataset.name!r} needs this key", file=file, key=f"data.{key}"))
    shaped_by = ("generator", "discriminator", "data.resolution", "data.channels", "task", "translate", "train")
    if dataset is not None and not own.touch(*shaped_by):
        with own.check():
            space = SearchSpace(config, registry, config.data.channels or dataset.channels)
        if space is not None:
            with own.check():
                try:
                    preflight_blocks(space)
                except PluginError as exc:  # a plugin's block: say which study file used it, as every message does
                    raise PluginError(f"{file}: {exc}") from exc
    if not own.touch("train.augment"):
        with own.check():
            check_augmentations(config, registry)
    if dataset is not None and not own.touch("score", "task"):
        with own.check():
            if config.task == "translate":
                plan = translate_plan(config, registry, labelled=bool(dataset.classes))
            else:
                plan = resolve_plan(config, registry, labelled=bool(dataset.classes))
    if space is not None and config.baseline not in (None, "none") and not own.touch("baseline"):
        with own.check():
            baseline = make_baseline(config.baseline, config, space)
    if problems is None:
        own.raise_if_any()
    return registry, dataset, space, plan, baseline


def check_machine(config: StudyConfig, run: bool = False, workers=None, problems: Problems | None = None) -> None:
    """What this machine must offer: the devices, the storage's driver; for a run, room for ``workers``
    (default: the study's) and a writable output folder. Problems go to ``problems`` (else raised)."""
    own = problems if problems is not None else Problems(config.file)
    checks = [(("devices",), lambda: check_device(config)), (("storage",), lambda: check_storage(config))]
    if run:
        checks += [(("devices", "workers"), lambda: check_workers(config, workers or config.workers)),
                   (("name", "output", "storage"), lambda: check_output(config))]
    for keys, check in checks:
        if not own.touch(*keys):  # a value found wrong already is not checked again
            with own.check():
                check()
    if problems is None:
        own.raise_if_any()


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


