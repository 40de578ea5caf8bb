"""The search space: a study config plus the registry, asked through Optuna's trial API.

Feasible by construction. Each network draws one *stride plan* (``g.strides = "2-1-2"``) from the
plans whose strides multiply to exactly the resolution factor, so every architecture the sampler
proposes builds and has the right shapes; per-layer choices use stable dotted names
(``g.2.block``, ``g.2.kernel``, ``d.0.width``) so samplers learn and the dataframe reads well.
A finished trial's spec is rebuilt from its params with ``optuna.trial.FixedTrial``.
"""

from dataclasses import dataclass, replace
from functools import cached_property

from gansearch.config._load import LIMITS, IntRange, NetSpace, Range, StudyConfig
from gansearch.data._pairs import condition_channels
from gansearch.errors import StudyConfigError
from gansearch.nets._spec import ArchSpec, LayerSpec, NetSpec, TrainSpec
from gansearch.plugins._layers import ACTIVATIONS, NORMS
from gansearch.plugins._registry import Registry

MAX_PLANS = 4096
PREFIX = {"generator": "g", "discriminator": "d"}
TRAIN_KEYS = ("batch_size", "lr_g", "lr_d", "beta1", "beta2", "loss", "d_steps", "augment", "l1_weight")
INT_TRAIN_KEYS = {"batch_size", "d_steps", "latent_dim"}
STR_TRAIN_KEYS = {"loss", "augment"}


def stride_plans(strides, depth: IntRange, factor: int, can_resample: bool) -> list[tuple[int, ...]]:
    """Every sequence of ``depth.low..depth.high`` strides whose product is exactly ``factor``."""
    choices = sorted(set(strides)) if can_resample else [s for s in set(strides) if s == 1]
    plans = []

    def extend(prefix, remaining):
        if len(plans) > MAX_PLANS:
            return
        if depth.low <= len(prefix) and remaining == 1:
            plans.append(tuple(prefix))
        if len(prefix) == depth.high:
            return
        for s in choices:
            if remaining % s == 0:
                extend([*prefix, s], remaining // s)

    extend([], factor)
    return plans


def scale_plans(steps: list[tuple[str, int]], depth: IntRange, resolution: int, base: int) -> list[tuple]:
    """Translator scale plans: every sequence of ``depth.low..depth.high`` steps (("d", s) shrinks by s,
    ("u", s) enlarges by s, ("s", 1) keeps size) from ``resolution`` back to it, never below ``base`` nor
    above ``resolution``."""
    plans = []

    def extend(prefix, size):
        if len(plans) > MAX_PLANS:
            return
        if depth.low <= len(prefix) and size == resolution and prefix:
            plans.append(tuple(prefix))
        if len(prefix) == depth.high:
            return
        for kind, s in steps:
            if kind == "d" and size % s == 0 and size // s >= base:
                extend([*prefix, (kind, s)], size // s)
            elif kind == "u" and size * s <= resolution:
                extend([*prefix, (kind, s)], size * s)
            elif kind == "s":
                extend([*prefix, (kind, s)], size)

    extend([], resolution)
    return plans


def encode_plan(plan) -> str:
    """(2, 1, 2) -> "2-1-2"; a translator's (("d", 2), ("u", 2), ("s", 1)) -> "d2-u2-s1"."""
    return "-".join(f"{p[0]}{p[1]}" if isinstance(p, tuple) else str(p) for p in plan)


@dataclass
class NetChoices:
    """The resolved, validated choices for one network."""

    network: str  # 'generator', 'translator' or 'discriminator'
    space: NetSpace
    plans: list[tuple]  # strides per layer; a translator's ((kind, stride), ...) with kind d, u or s
    resample_blocks: list[str]  # listed blocks that may take stride > 1 here
    block_options: dict[str, dict[str, tuple]]  # block -> option -> choices (narrowed by the study)
    registry: Registry | None = None

    @property
    def prefix(self) -> str:
        return PREFIX["generator" if self.network == "translator" else self.network]

    def blocks_for(self, stride: int, kind: str | None = None) -> list[str]:
        """Listed blocks that can take this stride (and, in a translator, go this way: d or u)."""
        if stride == 1:
            return list(self.space.blocks)
        want = {"d": "down", "u": "up"}.get(kind)
        return [b for b in self.resample_blocks if self.registry.block(b).supports(stride=stride)
                and (want is None or self.registry.block(b).scale == want)]

    def block_param(self, i: int, stride: int, kind: str | None = None) -> tuple[str, list[str]]:
        """Parameter name and choices for layer i's block (a stable choice set per name)."""
        choices = self.blocks_for(stride, kind)
        if kind in ("d", "u"):  # a translator: one parameter per direction and stride ("g.0.block_d2")
            return f"{self.prefix}.{i}.block_{kind}{stride}", choices
        if stride > 1:
            same = choices == self.resample_blocks
            return (f"{self.prefix}.{i}.block" if same else f"{self.prefix}.{i}.block_s{stride}"), choices
        if sorted(self.space.blocks) == sorted(self.resample_blocks):
            return f"{self.prefix}.{i}.block", self.resample_blocks
        return f"{self.prefix}.{i}.block_s1", list(self.space.blocks)

    def kernel_param(self, i: int, block: str) -> tuple[str, list[int]]:
        """Layer i's kernel choices: the study's, narrowed to what the block supports (then named by it)."""
        offered = self.registry.block(block).kernels
        kernels = [k for k in self.space.kernels if offered is None or k in offered]
        if len(kernels) == len(self.space.kernels):
            return f"{self.prefix}.{i}.kernel", kernels
        return f"{self.prefix}.{i}.{block}.kernel", kernels


def _choose(trial, name, choices):
    choices = list(choices)
    return choices[0] if len(choices) == 1 else trial.suggest_categorical(name, choices)


class SearchSpace:
    """Turns an Optuna trial into an (ArchSpec, TrainSpec) pair that is guaranteed to build."""

    def __init__(self, config: StudyConfig, registry: Registry, channels: int):
        self.config = config
        self.registry = registry
        self.channels = channels
        self.cond_channels = condition_channels(config.translate, channels) if config.task == "translate" else 0
        self.translate = config.task == "translate"
        self.nets = {net: self._resolve(net) for net in ("generator", "discriminator")}

    def _fail(self, key, message):
        raise StudyConfigError(message, file=self.config.file, key=key)

    def _resolve(self, section: str) -> NetChoices:
        space: NetSpace = getattr(self.config, section)
        network = "translator" if section == "generator" and self.translate else section
        for i, name in enumerate(space.blocks):
            if name not in self.registry.blocks:
                self._fail(f"{section}.blocks.{i}",
                           f"unknown block {name!r}; available: {', '.join(sorted(self.registry.blocks))}"
                           f"{self.registry.broken_note()}")
        for key, values, allowed in (("norms", space.norms, NORMS), ("activations", space.activations, ACTIVATIONS)):
            for i, v in enumerate(values):
                if v not in allowed:
                    self._fail(f"{section}.{key}.{i}", f"unknown {key[:-1]} {v!r}; allowed: {', '.join(allowed)}")
        for i, name in enumerate(space.blocks):
            block = self.registry.block(name)
            if not any(block.supports(kernel=k) for k in space.kernels):
                self._fail(f"{section}.blocks.{i}", f"block {name!r} supports kernels {list(block.kernels)}, none of "
                           f"{section}.kernels {space.kernels}")
        if "instance" in space.norms and space.base_resolution == 1:
            self._fail(f"{section}.norms", "instance norm needs feature maps of at least 2x2; "
                       "use base_resolution >= 2 or another norm")
        options = {}
        for name in space.blocks:
            block = self.registry.block(name)
            options[name] = {k: tuple(v) for k, v in block.options.items()}
        for name, narrowed in space.block_options.items():
            key = f"{section}.block_options.{name}"
            if name not in space.blocks:
                self._fail(key, f"block {name!r} is not in {section}.blocks ({', '.join(space.blocks)})")
            for opt, values in narrowed.items():
                offered = options[name].get(opt)
                if offered is None:
                    self._fail(f"{key}.{opt}", f"block {name!r} has no option {opt!r}; "
                               f"it has: {', '.join(options[name]) or 'none'}")
                values = values if isinstance(values, list) else [values]
                bad = [v for v in values if v not in offered]
                if bad:
                    self._fail(f"{key}.{opt}", f"{bad[0]!r} is not offered; allowed: {', '.join(map(str, offered))}")
                options[name][opt] = tuple(values)
        resample = [b for b in space.blocks if self.registry.block(b).can_stride(network)]
        usable = [s for s in space.strides if s == 1 or any(self.registry.block(b).supports(stride=s) for b in resample)]
        if network == "translator":
            blocks = [self.registry.block(b) for b in resample]
            steps = [("s", 1)] if 1 in space.strides else []
            for kind, scale in (("d", "down"), ("u", "up")):
                steps += [(kind, s) for s in sorted(set(space.strides)) if s > 1
                          and any(b.scale == scale and b.supports(stride=s) for b in blocks)]
            r = self.config.data.resolution
            plans = scale_plans(steps, space.depth, r, space.base_resolution)
            if len(plans) > MAX_PLANS:
                self._fail(f"{section}.depth", f"more than {MAX_PLANS} scale plans; narrow depth or strides")
            if not plans:
                self._fail(section, f"no feasible translator: no plan of {space.depth.low}..{space.depth.high} "
                           f"layers from {r} back to {r} (never below base_resolution {space.base_resolution}) "
                           f"with strides {space.strides}; steps available: "
                           f"{', '.join(encode_plan([st]) for st in steps) or 'none'}")
            return NetChoices(network, space, plans, resample, options, self.registry)
        factor = self.config.data.resolution // space.base_resolution
        plans = stride_plans(usable, space.depth, factor, bool(resample))
        if len(plans) > MAX_PLANS:
            self._fail(f"{section}.depth", f"more than {MAX_PLANS} stride plans; narrow depth or strides")
        if not plans:
            direction = "upsample" if network == "generator" else "downsample"
            if not resample and factor > 1:
                self._fail(f"{section}.blocks", f"no feasible architecture: going {space.base_resolution} <-> "
                           f"{self.config.data.resolution} needs layers that {direction}, but none of the blocks "
                           f"({', '.join(space.blocks)}) can")
            deeper = next((n for n in range(space.depth.high + 1, LIMITS["depth"] + 1)
                           if stride_plans(usable, IntRange(n, n), factor, True)), None)
            hint = f"; depth up to {deeper} would fit" if deeper else "; other strides or base_resolution would"
            self._fail(f"{section}.depth" if deeper else f"{section}.strides", f"no feasible architecture: going {space.base_resolution} <-> "
                       f"{self.config.data.resolution} needs strides multiplying to {factor}, but "
                       f"{_layers(space.depth)} with strides from {space.strides} cannot reach it{hint}")
        return NetChoices(network, space, plans, resample, options, self.registry)

    @cached_property
    def n_plans(self) -> dict[str, int]:
        return {net: len(c.plans) for net, c in self.nets.items()}

    def suggest(self, trial, seed: int) -> tuple[ArchSpec, TrainSpec]:
        """Ask ``trial`` for every choice; returns specs that build by construction."""
        t = self.config.translate
        latent = 0 if self.translate else int(self._param(trial, "latent_dim", self.config.train.latent_dim))
        g = self._suggest_net(trial, self.nets["generator"])
        d = self._suggest_net(trial, self.nets["discriminator"])
        if self.translate:
            g = replace(g, skips=bool(_choose(trial, "g.skips", t.skips)))
            d = replace(d, conditional=bool(_choose(trial, "d.conditional", t.conditional_d)),
                        head=_choose(trial, "d.head", t.d_head))
        arch = ArchSpec(self.config.data.resolution, self.channels, latent, g, d,
                        task=self.config.task, cond_channels=self.cond_channels)
        values = {key: self._param(trial, key, getattr(self.config.train, key)) for key in TRAIN_KEYS}
        return arch, self.train_spec(values, seed)

    def train_spec(self, values: dict, seed: int) -> TrainSpec:
        """The study's fixed training settings plus ``values`` for the keys it may search (``TRAIN_KEYS``)."""
        t = self.config.train
        values = {k: int(v) if k in INT_TRAIN_KEYS else (v if k in STR_TRAIN_KEYS else float(v))
                  for k, v in values.items()}
        return TrainSpec(steps=t.steps, eval_every=t.eval_every, seed=seed, cuda_graphs=t.cuda_graphs,
                         precision=t.precision, **values)

    def _param(self, trial, name, value):
        if isinstance(value, Range):
            if name in INT_TRAIN_KEYS:
                return trial.suggest_int(name, int(value.low), int(value.high), log=value.log,
                                         step=int(value.step or 1))
            return trial.suggest_float(name, value.low, value.high, log=value.log, step=value.step)
        if isinstance(value, list):
            return _choose(trial, name, value)
        return value

    def _suggest_net(self, trial, c: NetChoices) -> NetSpec:
        p, space = c.prefix, c.space
        plan_names = [encode_plan(plan) for plan in c.plans]
        plan = c.plans[plan_names.index(_choose(trial, f"{p}.strides", plan_names))]
        kinds = [k for k, _ in plan] if c.network == "translator" else [None] * len(plan)
        plan = [s for _, s in plan] if c.network == "translator" else plan
        norm = _choose(trial, f"{p}.norm", space.norms)
        act = _choose(trial, f"{p}.activation", space.activations)
        is_g = c.network in ("generator", "translator")
        width = _choose(trial, f"{p}.stem.width", space.widths) if c.network == "generator" else 0
        layers = []
        for i, (stride, kind) in enumerate(zip(plan, kinds)):
            name, choices = c.block_param(i, stride, kind)
            block = _choose(trial, name, choices)
            kernel = _choose(trial, *c.kernel_param(i, block))
            options = {k: _choose(trial, f"{p}.{i}.{block}.{k}", v) for k, v in c.block_options[block].items()}
            last = i == len(plan) - 1
            if is_g and last:  # to image: no norm, tanh
                out, layer_norm, layer_act = self.channels, "none", "tanh"
            else:
                out = _choose(trial, f"{p}.{i}.width", space.widths)
                layer_norm = "none" if (c.network != "generator" and i == 0) else norm  # no norm at the input
                layer_act = act
            layers.append(LayerSpec(block, kernel, stride, out, layer_norm, layer_act, options))
        return NetSpec(tuple(layers), width, space.base_resolution, norm, act)


def _layers(depth: IntRange) -> str:
    """1..1 -> "1 layer"; 2..4 -> "2 to 4 layers"."""
    if depth.low == depth.high:
        return f"{depth.low} layer" + ("s" if depth.low != 1 else "")
    return f"{depth.low} to {depth.high} layers"
