"""The study file: a strict schema, read in one place.

``load_config(path)`` checks syntax and types; ``gansearch.study.prepare`` checks names against the
registry. Every error is a ``StudyConfigError`` reading ``file: key.path: message``.
"""

import contextvars
import dataclasses
import math
import re
import stat
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import yaml

from gansearch.config._problems import Problems
from gansearch.errors import StudyConfigError

SAMPLERS = ("tpe", "random", "cmaes", "nsga2")
PRUNERS = ("median", "hyperband", "successive_halving", "none")
LOSSES = ("ns", "hinge")
PRECISIONS = ("auto", "fp32", "tf32", "bf16")
TASKS = ("generate", "translate")
CONDITIONS = ("grayscale", "downsample", "blur", "noise", "mask", "edges", "paired")
D_HEADS = ("dense", "patch")
NORMS = ("none", "batch", "instance", "layer")  # generator/discriminator norms (the layer helpers make them)
ACTIVATIONS = ("relu", "lrelu", "tanh", "silu", "gelu", "none")
TRANSLATE_OBJECTIVES = ("l1", "fd", "dssim")
COSTS = ("g_params", "g_macs", "g_latency_ms")  # objectives: what a generator costs
TRANSLATE_COLUMNS = ("l1", "psnr", "ssim", "dssim", "fd")  # objectives: a translate study's own metrics


def allowed_objectives(task: str) -> tuple[str, ...]:
    """What a study's ``objectives:`` may name: the score, a cost, and a translate study's metrics."""
    return ("score", *COSTS, *(TRANSLATE_COLUMNS if task == "translate" else ()))
DEVICES_HELP = "auto, cpu, cuda, cuda:N or a list of them"


@dataclass(frozen=True)
class Range:
    """A numeric search range: ``{low: 1e-4, high: 1e-3, log: true}``."""

    low: float
    high: float
    log: bool = False
    step: float | None = None


Param = Union[Range, list, int, float, str]  # fixed value, list of choices, or a range


@dataclass(frozen=True)
class IntRange:
    """A range of integers, both ends included: ``{low: 2, high: 4}``."""

    low: int
    high: int


@dataclass
class NetSpace:
    """What the search may try for one network."""

    blocks: list[str]
    kernels: list[int] = field(default_factory=lambda: [3, 4])
    strides: list[int] = field(default_factory=lambda: [1, 2])
    depth: IntRange | int = field(default_factory=lambda: IntRange(2, 4))
    widths: list[int] = field(default_factory=lambda: [32, 64])
    norms: list[str] = field(default_factory=lambda: ["batch"])
    activations: list[str] | None = None  # default: relu (generator), lrelu (discriminator)
    base_resolution: int = 4  # generator starts here; discriminator ends here before its linear head
    block_options: dict[str, dict[str, Any]] = field(default_factory=dict)  # narrow a block's own options


@dataclass
class TrainSpace:
    """Training hyperparameters: each a fixed value, a list of choices or ``{low, high, log}``."""

    steps: int = 400
    eval_every: int = 100
    batch_size: Param = 64
    lr_g: Param = 2e-4
    lr_d: Param = 2e-4
    beta1: Param = 0.5
    beta2: Param = 0.999
    loss: Param = "ns"
    latent_dim: Param = 64
    d_steps: Param = 1
    augment: Param = "none"  # augmentations of D's inputs, comma-separated (color,translation,cutout), or none
    l1_weight: Param = 100.0  # translate: weight of the L1 reconstruction term in G's loss (pix2pix: 100)
    cuda_graphs: bool = True  # on CUDA, capture the G/D step as a CUDA graph (falls back to eager if it cannot)
    precision: str = "auto"  # fp32 | tf32 | bf16 (autocast, fp32 weights and Adam state) | auto: tf32 on CUDA, fp32 on CPU


MIN_SAMPLES = 128
MAX_LIST = 64  # entries in any list of the study file (choices, blocks, plugins, devices, ...)
LIMITS = {  # what sizes memory or time, with the most a study may ask for
    "data.resolution": 1024, "train.steps": 10_000_000, "train.eval_every": 10_000_000, "train.batch_size": 8192,
    "train.latent_dim": 4096, "train.d_steps": 100, "score.samples": 100_000, "n_trials": 1_000_000,
    "kernels": 31, "strides": 8, "widths": 4096, "depth": 32, "workers": 1024,
    "trials_per_worker": 64,
}
NAME_MAX = 100


@dataclass
class ScoreConfig:
    """How trials are scored: features, the objective, and what else is computed and stored."""

    extractor: str = "layout"  # features of the objective and of plain metric names: a registered extractor
    objective: str = "auto"  # the lower-is-better metric Optuna minimises: a metric name, or name@extractor (auto: fd;
    # translate: l1, one of l1, fd, dssim)
    metrics: list[str] | str = "auto"  # computed for every complete trial: auto, or a list of metric[@extractor]
    samples: int = 1024  # generated images per evaluation (real images: at least this many, up to 2048+)
    feature_seed: int = 0  # seeds random features and trained extractors; change it and scores are not comparable
    inception_weights: str | None = None  # pt_inception-2015-12-05-6726825d.pth (or $GANSEARCH_INCEPTION_WEIGHTS)


@dataclass
class DataConfig:
    """The images: a registered dataset, its size, and its own options as further keys."""

    name: str  # a registered dataset: digits, shapes, folder or a plugin's (gansearch plugins lists them)
    resolution: int  # images are height = width = resolution pixels
    channels: int | None = None  # default: the dataset's own
    options: dict[str, Any] = field(default_factory=dict)  # every other key under data:


@dataclass
class TranslateConfig:
    """``task: translate``: pairs (condition, target) and the translator's own choices."""

    condition: str = "grayscale"  # how the condition is made from each image, or paired (the dataset gives pairs)
    factor: int = 4  # downsample: shrink by this factor, then enlarge back (super-resolution)
    sigma: float = 1.5  # blur: Gaussian sigma in pixels; noise: sigma in [-1, 1] units
    hole: float = 0.5  # mask: side of the hidden square, as a fraction of the image side (inpainting)
    held_out: float = 0.1  # fraction of pairs never trained on, scored at the end (seeded)
    skips: list[bool] = field(default_factory=lambda: [False, True])  # U-Net skips between equal resolutions
    conditional_d: list[bool] = field(default_factory=lambda: [True])  # D sees condition and output together
    d_head: list[str] = field(default_factory=lambda: ["patch", "dense"])  # dense: flatten + linear; patch: logit map


@dataclass
class StudyConfig:
    """A gansearch study: the data, what to search for each network, how to train and score."""

    name: str  # the study's name; results go to runs/<name>/ beside the study file
    data: DataConfig
    generator: NetSpace
    discriminator: NetSpace
    train: TrainSpace = field(default_factory=TrainSpace)
    score: ScoreConfig = field(default_factory=ScoreConfig)
    task: str = "generate"  # generate: noise -> image; translate: image -> image (translate:)
    objectives: list[str] | None = None  # several: a multi-objective study, e.g. [score, g_macs] (objectives.py)
    translate: TranslateConfig = field(default_factory=TranslateConfig)
    n_trials: int = 20  # finished (complete or pruned) trials to reach; a rerun resumes
    timeout: float | None = None  # seconds after which a run starts no new trial
    trial_timeout: float | None = None  # seconds a trial may take before it fails and its worker goes on; default: timeout
    seed: int = 0  # sampler and per-trial seeds derive from it
    sampler: str = "tpe"  # the Optuna sampler
    pruner: str = "median"  # the Optuna pruner; none: every trial trains to the end
    workers: int | str = "auto"  # worker processes per device: auto or N
    trials_per_worker: int | str = "auto"  # trials each worker interleaves, each on its own CUDA stream: auto or N
    devices: str | list[str] = "auto"  # auto | cpu | cuda | cuda:N | a list of them
    storage: str | None = None  # an Optuna storage URL; default a journal file in the output folder
    output: str | None = None  # default runs/<name> beside the study file
    plugins: list[str] = field(default_factory=list, metadata={"may_be_empty": True})  # module names or .py paths
    baseline: str | None = "auto"  # the hand design run as trial 0 (auto: dcgan, or seed when translating); none: off
    file: str = field(default="<memory>", metadata={"internal": True})

    @property
    def trial_limit(self) -> float | None:
        """Seconds a trial may run (``trial_timeout``; by default the study's ``timeout``: no trial may outlast
        the budget), or None: no limit."""
        return self.trial_timeout if self.trial_timeout is not None else self.timeout

    @property
    def base_dir(self) -> Path:
        return Path(self.file).resolve().parent if self.file != "<memory>" else Path.cwd()

    @property
    def output_dir(self) -> Path:
        return (self.base_dir / (self.output or f"runs/{self.name}")).resolve()

    @property
    def journal_path(self) -> Path:
        """The default storage: Optuna's journal file, safe for many concurrent worker processes."""
        return self.output_dir / "journal.log"

    @property
    def storage_url(self) -> str:
        """The storage as a user would name it: the URL, or the journal file's path."""
        return self.storage or str(self.journal_path)


_COLLECTED = (StudyConfig, DataConfig, NetSpace, TrainSpace, ScoreConfig, TranslateConfig)  # checked key by key

MAX_FILE_BYTES = 256 * 1024  # a study file is a page of settings, not data
MAX_NODES = 20_000  # values in the file once YAML aliases are expanded (an "alias bomb" has billions)


def _read_limited(path: Path, file: str) -> str:
    """A study file's text: a regular file (a folder, a FIFO or a device such as /dev/zero is refused at
    once: reading one could block or never end), and at most ``MAX_FILE_BYTES`` read, whatever its size
    claims."""
    mode = path.stat().st_mode
    if stat.S_ISDIR(mode):
        raise StudyConfigError("is a folder, not a study file; give the path of a .yaml file", file=file)
    if not stat.S_ISREG(mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
        raise StudyConfigError(f"is {kind}, not a study file; give the path of a .yaml file", file=file)
    with open(path, "rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise StudyConfigError(f"the file has more than {MAX_FILE_BYTES:,} bytes; a study file may have at most "
                               f"{MAX_FILE_BYTES:,}", file=file)
    return data.decode("utf-8")


def load_config(path, problems: Problems | None = None) -> StudyConfig:
    """Read and check a study file (``problems``: see ``config_from_dict``)."""
    path = Path(path)
    file = str(path)
    try:
        text = _read_limited(path, file)
    except FileNotFoundError:
        raise StudyConfigError("no such study file", file=file) from None
    except UnicodeDecodeError as exc:
        raise StudyConfigError(f"not UTF-8 text (byte {exc.start})", file=file) from None
    except OSError as exc:
        raise StudyConfigError(f"cannot read: {exc.strerror}", file=file) from None
    try:
        _check_expanded_size(yaml.compose(text, Loader=yaml.SafeLoader), file)
        raw = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise StudyConfigError(f"malformed YAML: {where}{problem}", file=file) from None
    except RecursionError:
        raise StudyConfigError("malformed YAML: nested too deeply", file=file) from None
    return config_from_dict(raw, file=file, problems=problems)


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key, mark):
        self.problem = f"duplicate key {key!r}: a key may appear once in a mapping"
        self.problem_mark = mark


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice in one mapping is an error (YAML says keys
    are unique; PyYAML would keep the last one silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults`: its keys may be overridden here
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: the mapping constructor reports it
                break
            if duplicate:
                raise _DuplicateKey(key, key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _check_expanded_size(root, file) -> None:
    """Refuse a document whose aliases expand to more than ``MAX_NODES`` values, or refer to themselves."""
    sizes, visiting = {}, set()

    def size(node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in visiting:
            _fail(file, None, "a YAML alias refers to itself")
        visiting.add(key)
        if isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(v) for v in node.value)
        else:
            total = 1
        visiting.discard(key)
        if total > MAX_NODES:
            _fail(file, None, f"the YAML expands to more than {MAX_NODES:,} values (through aliases?); "
                              "a study file is a page of settings")
        sizes[key] = total
        return total

    if root is not None:
        size(root)


def config_from_dict(raw: Any, file: str = "<memory>", problems: Problems | None = None) -> StudyConfig:
    """A checked ``StudyConfig`` from a parsed study file. Every problem is found, not only the first:
    without ``problems`` they are raised together (``StudyConfigErrors``, in file order); with it they are
    added to it and the config is returned (wrong keys keep their defaults) so that later checks can go on,
    unless the file is too broken to build one."""
    own = problems if problems is not None else Problems(file)
    if not isinstance(raw, dict):
        raise StudyConfigError(f"expected a mapping of study settings, got {_kind(raw)}", file=file)
    raw = dict(raw)
    data = raw.get("data")
    if isinstance(data, dict):  # data: keys other than the schema's go to the dataset as options
        known = {f.name for f in dataclasses.fields(DataConfig)} - {"options"}
        if "options" in data:
            raise StudyConfigError("dataset options go directly under data:", file=file, key="data.options")
        raw["data"] = {**{k: v for k, v in data.items() if k in known},
                       "options": {k: v for k, v in data.items() if k not in known}}
    collecting = _COLLECTING.set(own)
    try:
        config = _coerce(raw, StudyConfig, "", file)
    except _Abandoned:
        config = None
    finally:
        _COLLECTING.reset(collecting)
    if config is None:
        own.raise_if_any()
    config.file = file
    _check_values(config, own)
    _apply_defaults(config)
    if problems is None:
        own.raise_if_any()
    return config


# --- the type checker -----------------------------------------------------------------------

def _kind(value) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "nothing (null)"}.get(type(value), type(value).__name__)


def _fail(file, key, message):
    raise StudyConfigError(message, file=file, key=key or None)


_COLLECTING: contextvars.ContextVar = contextvars.ContextVar("gansearch_config_problems", default=None)


class _Abandoned(Exception):
    """A mapping that could not be built (a required key missing or wrong); its problems are collected."""


def _coerce(value, hint, key, file):
    """Check ``value`` against a type hint, returning the typed value."""
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _coerce_dataclass(value, hint, key, file)
    if origin is Union or origin is types.UnionType:
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        if hint is Param or set(args) == set(typing.get_args(Param)):
            return _coerce_param(value, key, file)
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            strict = _COLLECTING.set(None)  # trying each type: its problems are not the file's yet
            try:
                return _coerce(value, arg, key, file)
            except StudyConfigError as exc:
                errors.append((arg, exc))
            finally:
                _COLLECTING.reset(strict)
        if len(errors) == 1:
            raise errors[0][1]
        for arg, exc in errors:  # a mapping was meant for the dataclass branch: its error says more
            if isinstance(value, dict) and dataclasses.is_dataclass(arg):
                raise exc
        names = " or ".join(_hint_name(a) for a in args if a is not type(None))
        _fail(file, key, f"expected {names}, got {_kind(value)}")
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list):
            _fail(file, key, f"expected a list of {_hint_name(item)}s, got {_kind(value)}")
        if not value:
            _fail(file, key, "must not be empty")
        if len(value) > MAX_LIST:
            _fail(file, key, f"has {len(value):,} entries; at most {MAX_LIST} are allowed")
        return [_coerce(v, item, f"{key}.{i}", file) for i, v in enumerate(value)]
    if origin is dict:
        _, item = typing.get_args(hint)
        if not isinstance(value, dict):
            _fail(file, key, f"expected a mapping, got {_kind(value)}")
        if len(value) > MAX_LIST:
            _fail(file, key, f"has {len(value):,} entries; at most {MAX_LIST} are allowed")
        return {str(k): _coerce(v, item, f"{key}.{k}", file) for k, v in value.items()}
    if hint is Any:
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            value = _yaml_float(value)
        if value is None or not math.isfinite(value):
            _fail(file, key, "expected a finite number")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(file, key, f"expected an integer, got {_kind(value)}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            _fail(file, key, f"expected true or false, got {_kind(value)}")
        return value
    if hint is str:
        if not isinstance(value, str):
            _fail(file, key, f"expected a string, got {_kind(value)}")
        return value
    raise TypeError(f"no coercion for {hint!r}")  # a bug in the schema, not in the study file


def _hint_name(hint) -> str:
    if dataclasses.is_dataclass(hint):
        return "a mapping" if hint is not IntRange else "{low, high}"
    return {int: "integer", float: "number", str: "string", bool: "boolean"}.get(hint, str(hint))


def _yaml_float(value):
    """YAML 1.1 reads ``1e-4`` as a string; accept it as the number a user meant."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _coerce_dataclass(value, cls, key, file):
    if cls is IntRange and isinstance(value, int) and not isinstance(value, bool):
        return value
    problems = _COLLECTING.get()
    if problems is not None and cls in _COLLECTED:
        return _coerce_collecting(value, cls, key, file, problems)
    if not isinstance(value, dict):
        _fail(file, key, f"expected a mapping, got {_kind(value)}")
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    hints = typing.get_type_hints(cls)
    unknown = [k for k in value if k not in fields]
    if unknown:
        where = f"{key}.{unknown[0]}" if key else str(unknown[0])
        _fail(file, where, f"unknown key; allowed: {', '.join(fields)}")
    kwargs = {}
    for name, f in fields.items():
        sub = f"{key}.{name}" if key else name
        if name in value and value[name] == [] and f.metadata.get("may_be_empty"):
            kwargs[name] = []
        elif name in value:
            kwargs[name] = _coerce(value[name], hints[name], sub, file)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            _fail(file, sub, "required key is missing")
    return cls(**kwargs)


def _coerce_collecting(value, cls, key, file, problems):
    """``_coerce_dataclass`` that keeps going: each wrong key is a problem collected, the field keeps its
    default, and only a mapping that cannot be built at all (a required key missing or wrong) is abandoned."""
    if not isinstance(value, dict):
        problems.found.append(StudyConfigError(f"expected a mapping, got {_kind(value)}", file=file, key=key or None))
        raise _Abandoned
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    hints = typing.get_type_hints(cls)
    for name in (k for k in value if k not in fields):
        where = f"{key}.{name}" if key else str(name)
        problems.found.append(StudyConfigError(f"unknown key; allowed: {', '.join(fields)}", file=file, key=where))
    kwargs, abandoned = {}, False
    for name, f in fields.items():
        sub = f"{key}.{name}" if key else name
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if name in value and value[name] == [] and f.metadata.get("may_be_empty"):
            kwargs[name] = []
        elif name in value:
            try:
                kwargs[name] = _coerce(value[name], hints[name], sub, file)
            except StudyConfigError as exc:
                problems.found.append(exc)
                abandoned = abandoned or required
            except _Abandoned:
                abandoned = abandoned or required
        elif required:
            problems.found.append(StudyConfigError("required key is missing", file=file, key=sub))
            abandoned = True
    if abandoned:
        raise _Abandoned
    return cls(**kwargs)


def _coerce_param(value, key, file):
    if isinstance(value, dict):
        rng = _coerce_dataclass(value, Range, key, file)
        if rng.low >= rng.high:
            _fail(file, key, f"low ({rng.low:g}) must be below high ({rng.high:g})")
        if rng.log and rng.low <= 0:
            _fail(file, f"{key}.low", "must be > 0 when log: true")
        return rng
    if isinstance(value, list):
        if not value:
            _fail(file, key, "a list of choices must not be empty")
        if len(value) > MAX_LIST:
            _fail(file, key, f"has {len(value):,} choices; at most {MAX_LIST} are allowed")
        out = []
        for i, v in enumerate(value):
            if isinstance(v, (dict, list)) or v is None:
                _fail(file, f"{key}.{i}", f"a choice must be a number or string, got {_kind(v)}")
            out.append(_maybe_number(v))
        return out
    if value is None or isinstance(value, bool):
        _fail(file, key, "expected a value, a list of choices or {low, high, log}")
    return _maybe_number(value)


def _maybe_number(v):
    f = _yaml_float(v)
    return f if f is not None and not str(v).isalpha() else v


# --- value checks that need no plugins ---------------------------------------------------------

_TRAIN_RULES = {  # key -> (kind, check, what is allowed)
    "batch_size": (int, lambda v: 1 <= v <= LIMITS["train.batch_size"], f"an integer in [1, {LIMITS['train.batch_size']}]"),
    "lr_g": (float, lambda v: v > 0, "a number > 0"),
    "lr_d": (float, lambda v: v > 0, "a number > 0"),
    "beta1": (float, lambda v: 0 <= v < 1, "a number in [0, 1)"),
    "beta2": (float, lambda v: 0 <= v < 1, "a number in [0, 1)"),
    "loss": (str, lambda v: v in LOSSES, f"one of {', '.join(LOSSES)}"),
    "latent_dim": (int, lambda v: 1 <= v <= LIMITS["train.latent_dim"], f"an integer in [1, {LIMITS['train.latent_dim']}]"),
    "d_steps": (int, lambda v: 1 <= v <= LIMITS["train.d_steps"], f"an integer in [1, {LIMITS['train.d_steps']}]"),
    "augment": (str, lambda v: bool(re.fullmatch(r"none|[a-z][a-z0-9_]*(,[a-z][a-z0-9_]*)*", v)),
                "none or augmentation names separated by commas (color,translation,cutout)"),
    "l1_weight": (float, lambda v: 0 <= v <= 1e6, "a number in [0, 1e6]"),
}


def _check_values(c: StudyConfig, problems: Problems):
    """Every value against what is allowed; each problem is collected (a check needing a value that is
    itself wrong is left out rather than repeating the problem)."""
    f = c.file
    with problems.check():
        _check_name(f, c.name)
    for i, plugin in enumerate(c.plugins):
        if not isinstance(plugin, str) or not (plugin.endswith(".py") or _MODULE.fullmatch(plugin)):
            problems.found.append(StudyConfigError(f"{plugin!r} is neither a .py file nor an importable module "
                                                   "name (like my_package.blocks)", file=f, key=f"plugins.{i}"))
    for key, value, ok, allowed in (
        ("n_trials", c.n_trials, 1 <= c.n_trials <= LIMITS["n_trials"], f"an integer in [1, {LIMITS['n_trials']:,}]"),
        ("seed", c.seed, 0 <= c.seed < 2**32, "an integer in [0, 2**32)"),
        ("score.feature_seed", c.score.feature_seed, 0 <= c.score.feature_seed < 2**32, "an integer in [0, 2**32)"),
        ("timeout", c.timeout, c.timeout is None or c.timeout > 0, "seconds > 0"),
        ("trial_timeout", c.trial_timeout, c.trial_timeout is None or c.trial_timeout > 0, "seconds > 0"),
        ("sampler", c.sampler, c.sampler in SAMPLERS, f"one of {', '.join(SAMPLERS)}"),
        ("task", c.task, c.task in TASKS, f"one of {', '.join(TASKS)}"),
        ("translate.condition", c.translate.condition, c.translate.condition in CONDITIONS,
         f"one of {', '.join(CONDITIONS)}"),
        ("translate.factor", c.translate.factor, 2 <= c.translate.factor <= 16, "an integer in [2, 16]"),
        ("translate.sigma", c.translate.sigma, 0 < c.translate.sigma <= 16, "a number in (0, 16]"),
        ("translate.hole", c.translate.hole, 0 < c.translate.hole < 1, "a number in (0, 1)"),
        ("translate.held_out", c.translate.held_out, 0 < c.translate.held_out < 1, "a number in (0, 1)"),
        ("pruner", c.pruner, c.pruner in PRUNERS, f"one of {', '.join(PRUNERS)}"),
        ("train.precision", c.train.precision, c.train.precision in PRECISIONS, f"one of {', '.join(PRECISIONS)}"),
        ("data.resolution", c.data.resolution, 4 <= c.data.resolution <= LIMITS["data.resolution"],
         f"an integer in [4, {LIMITS['data.resolution']}]"),
        ("data.channels", c.data.channels, c.data.channels in (None, 1, 3), "1 or 3"),
        ("train.steps", c.train.steps, 1 <= c.train.steps <= LIMITS["train.steps"],
         f"an integer in [1, {LIMITS['train.steps']:,}]"),
        ("train.eval_every", c.train.eval_every, 1 <= c.train.eval_every <= LIMITS["train.eval_every"],
         f"an integer in [1, {LIMITS['train.eval_every']:,}]"),
        ("score.samples", c.score.samples, MIN_SAMPLES <= c.score.samples <= LIMITS["score.samples"],
         f"an integer in [{MIN_SAMPLES}, {LIMITS['score.samples']:,}]: at least {MIN_SAMPLES} for stable "
         "statistics (KID suits small counts best)"),
        ("workers", c.workers, c.workers == "auto" or (isinstance(c.workers, int)
                                                       and 1 <= c.workers <= LIMITS["workers"]),
         f"auto or an integer in [1, {LIMITS['workers']}]"),
        ("trials_per_worker", c.trials_per_worker, c.trials_per_worker == "auto" or (
            isinstance(c.trials_per_worker, int) and not isinstance(c.trials_per_worker, bool)
            and 1 <= c.trials_per_worker <= LIMITS["trials_per_worker"]),
         f"auto or an integer in [1, {LIMITS['trials_per_worker']}]"),
    ):
        if not ok:
            problems.found.append(StudyConfigError(f"{value!r} is not allowed; expected {allowed}", file=f, key=key))
    devices = [c.devices] if isinstance(c.devices, str) else c.devices
    for i, d in enumerate(devices):
        where = "devices" if isinstance(c.devices, str) else f"devices.{i}"
        index = d.partition(":")[2]
        if not (d in ("cpu", "cuda") or (d == "auto" and isinstance(c.devices, str))
                or (d.startswith("cuda:") and index.isdigit())):
            problems.found.append(StudyConfigError(f"{d!r} is not a device; expected {DEVICES_HELP}", file=f,
                                                   key=where))
    with problems.check():
        _check_objectives(c)
    for i, head in enumerate(c.translate.d_head):
        if head not in D_HEADS:
            problems.found.append(StudyConfigError(f"{head!r} is not allowed; expected one of {', '.join(D_HEADS)}",
                                                   file=f, key=f"translate.d_head.{i}"))
    for name, (kind, check, allowed) in _TRAIN_RULES.items():
        with problems.check():
            _check_param(f, f"train.{name}", getattr(c.train, name), kind, check, allowed)
    _check_nets(c, problems)


def _check_objectives(c: StudyConfig):
    f = c.file
    if c.objectives is not None:
        names = allowed_objectives(c.task)
        for i, name in enumerate(c.objectives):
            if name not in names:
                _fail(f, f"objectives.{i}", f"{name!r} is not allowed; expected one of {', '.join(names)}")
        if "score" not in c.objectives or len(set(c.objectives)) != len(c.objectives):
            _fail(f, "objectives", "list score once, and each other objective at most once (e.g. [score, g_macs])")
        if len(c.objectives) > 1 and c.sampler == "cmaes":
            _fail(f, "sampler", "cmaes optimises one objective; a multi-objective study uses tpe, nsga2 or random")


def _check_nets(c: StudyConfig, problems: Problems):
    """Each network's choices: kernels, strides and widths within the limits, a depth range, a base
    resolution that divides the data's."""
    f = c.file
    for net in ("generator", "discriminator"):
        space: NetSpace = getattr(c, net)
        for key, values in (("kernels", space.kernels), ("strides", space.strides), ("widths", space.widths)):
            for i, v in enumerate(values):
                if not 1 <= v <= LIMITS[key]:
                    problems.found.append(StudyConfigError(f"{v} is not allowed; expected an integer in "
                                                           f"[1, {LIMITS[key]}]", file=f, key=f"{net}.{key}.{i}"))
        for key, values, allowed in (("norms", space.norms, NORMS), ("activations", space.activations or (), ACTIVATIONS)):
            for i, v in enumerate(values):
                if v not in allowed:
                    problems.found.append(StudyConfigError(f"{v!r} is not allowed; expected one of {', '.join(allowed)}",
                                                           file=f, key=f"{net}.{key}.{i}"))
        depth = space.depth if isinstance(space.depth, IntRange) else IntRange(space.depth, space.depth)
        if not 1 <= depth.low <= depth.high <= LIMITS["depth"]:
            problems.found.append(StudyConfigError(f"expected 1 <= low <= high <= {LIMITS['depth']}", file=f,
                                                   key=f"{net}.depth"))
        if space.base_resolution < 1 or c.data.resolution % space.base_resolution:
            problems.found.append(StudyConfigError(f"{space.base_resolution} must divide data.resolution "
                                                   f"({c.data.resolution})", file=f, key=f"{net}.base_resolution"))


def _apply_defaults(c: StudyConfig):
    """What ``auto`` and an absent value mean, once the values are known to be valid."""
    if c.baseline == "auto":
        c.baseline = "seed" if c.task == "translate" else "dcgan"
    if c.score.objective == "auto":
        c.score.objective = "l1" if c.task == "translate" else "fd"
    for net in ("generator", "discriminator"):
        space: NetSpace = getattr(c, net)
        if space.activations is None:
            space.activations = ["relu"] if net == "generator" else ["lrelu"]
        if not isinstance(space.depth, IntRange):
            space.depth = IntRange(space.depth, space.depth)


_MODULE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def _check_name(file, name: str) -> None:
    """A study's name names its output folder: a plain file name."""
    bad = ("\0" in name or "/" in name or "\\" in name or name in ("", ".", "..") or len(name) > NAME_MAX
           or any(ord(ch) < 32 for ch in name))
    if bad:
        _fail(file, "name", f"{name[:40]!r}{'...' if len(name) > 40 else ''} is not allowed; expected a plain file "
                            f"name: 1 to {NAME_MAX} characters, no '/', '\\' or control characters, not '.' or '..'")


def _check_param(file, key, value, kind, check, allowed):
    if isinstance(value, Range):
        if kind is str:
            _fail(file, key, f"a range is not allowed here; expected {allowed} or a list of them")
        if kind is int and (value.low != int(value.low) or value.high != int(value.high)):
            _fail(file, key, "an integer range needs integer low and high")
        for end in ("low", "high"):
            if not check(kind(getattr(value, end))):
                _fail(file, f"{key}.{end}", f"expected {allowed}")
        if value.step is not None:
            if value.step <= 0 or (kind is int and not float(value.step).is_integer()):
                _fail(file, f"{key}.step", f"expected a{'n integer' if kind is int else ' number'} > 0")
            if value.log:
                _fail(file, f"{key}.step", "cannot be combined with log: true")
        return
    for i, v in enumerate(value if isinstance(value, list) else [value]):
        where = f"{key}.{i}" if isinstance(value, list) else key
        if kind is str:
            ok = isinstance(v, str) and check(v)
        elif kind is int:
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and float(v).is_integer() and check(int(v))
        else:
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and check(float(v))
        if not ok:
            _fail(file, where, f"{v!r} is not allowed; expected {allowed}")
