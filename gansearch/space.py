"""The search space: a study config plus the registry, asked through Optuna's trial API.

Feasible by construction. Each network draws one *stride plan* (``g.strides = "2-1-2"``) from the
plans whose strides multiply to exactly the resolution factor, so every architecture the sampler
proposes builds and has the right shapes; per-layer choices use stable dotted names
(``g.2.block``, ``g.2.kernel``, ``d.0.width``) so samplers learn and the dataframe reads well.
A finished trial's spec is rebuilt from its params with ``optuna.trial.FixedTrial``.
"""

from dataclasses import dataclass
from functools import cached_property

from .config import IntRange, NetSpace, Range, StudyConfig
from .errors import StudyConfigError
from .layers import ACTIVATIONS, NORMS
from .plugins import Registry
from .spec import ArchSpec, LayerSpec, NetSpec, TrainSpec

MAX_PLANS = 4096
PREFIX = {"generator": "g", "discriminator": "d"}
TRAIN_KEYS = ("batch_size", "lr_g", "lr_d", "beta1", "beta2", "loss", "d_steps")
INT_TRAIN_KEYS = {"batch_size", "d_steps", "latent_dim"}


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


def encode_plan(plan) -> str:
    return "-".join(map(str, plan))


@dataclass
class NetChoices:
    """The resolved, validated choices for one network."""

    network: str  # 'generator' or 'discriminator'
    space: NetSpace
    plans: list[tuple[int, ...]]
    resample_blocks: list[str]  # listed blocks that may take stride > 1 here
    block_options: dict[str, dict[str, tuple]]  # block -> option -> choices (narrowed by the study)

    @property
    def prefix(self) -> str:
        return PREFIX[self.network]

    def block_param(self, i: int, stride: int) -> tuple[str, list[str]]:
        """Parameter name and choices for layer i's block (a stable choice set per name)."""
        if stride > 1:
            return f"{self.prefix}.{i}.block", self.resample_blocks
        if sorted(self.space.blocks) == sorted(self.resample_blocks):
            return f"{self.prefix}.{i}.block", self.resample_blocks
        return f"{self.prefix}.{i}.block_s1", list(self.space.blocks)


def _choose(trial, name, choices):
    choices = list(choices)
    return choices[0] if len(choices) == 1 else trial.suggest_categorical(name, choices)


class SearchSpace:
    """Turns an Optuna trial into an (ArchSpec, TrainSpec) pair that is guaranteed to build."""

    def __init__(self, config: StudyConfig, registry: Registry, channels: int):
        self.config = config
        self.registry = registry
        self.channels = channels
        self.nets = {net: self._resolve(net) for net in ("generator", "discriminator")}

    def _fail(self, key, message):
        raise StudyConfigError(message, file=self.config.file, key=key)

    def _resolve(self, network: str) -> NetChoices:
        space: NetSpace = getattr(self.config, network)
        for i, name in enumerate(space.blocks):
            if name not in self.registry.blocks:
                self._fail(f"{network}.blocks.{i}",
                           f"unknown block {name!r}; available: {', '.join(sorted(self.registry.blocks))}"
                           f"{self.registry.broken_note()}")
        for key, values, allowed in (("norms", space.norms, NORMS), ("activations", space.activations, ACTIVATIONS)):
            for i, v in enumerate(values):
                if v not in allowed:
                    self._fail(f"{network}.{key}.{i}", f"unknown {key[:-1]} {v!r}; allowed: {', '.join(allowed)}")
        if "instance" in space.norms and space.base_resolution == 1:
            self._fail(f"{network}.norms", "instance norm needs feature maps of at least 2x2; "
                       "use base_resolution >= 2 or another norm")
        options = {}
        for name in space.blocks:
            block = self.registry.block(name)
            options[name] = {k: tuple(v) for k, v in block.options.items()}
        for name, narrowed in space.block_options.items():
            key = f"{network}.block_options.{name}"
            if name not in space.blocks:
                self._fail(key, f"block {name!r} is not in {network}.blocks ({', '.join(space.blocks)})")
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
        factor = self.config.data.resolution // space.base_resolution
        plans = stride_plans(space.strides, space.depth, factor, bool(resample))
        if len(plans) > MAX_PLANS:
            self._fail(f"{network}.depth", f"more than {MAX_PLANS} stride plans; narrow depth or strides")
        if not plans:
            direction = "upsample" if network == "generator" else "downsample"
            why = (f"none of the blocks ({', '.join(space.blocks)}) can {direction}" if not resample and factor > 1
                   else f"no product of {space.depth.low}..{space.depth.high} strides from "
                        f"{space.strides} equals {factor}")
            self._fail(network, f"no feasible architecture: going {space.base_resolution} <-> "
                       f"{self.config.data.resolution} needs strides multiplying to {factor}, but {why}")
        return NetChoices(network, space, plans, resample, options)

    @cached_property
    def n_plans(self) -> dict[str, int]:
        return {net: len(c.plans) for net, c in self.nets.items()}

    def suggest(self, trial, seed: int) -> tuple[ArchSpec, TrainSpec]:
        """Ask ``trial`` for every choice; returns specs that build by construction."""
        latent = int(self._param(trial, "latent_dim", self.config.train.latent_dim))
        g = self._suggest_net(trial, self.nets["generator"])
        d = self._suggest_net(trial, self.nets["discriminator"])
        arch = ArchSpec(self.config.data.resolution, self.channels, latent, g, d)
        values = {key: self._param(trial, key, getattr(self.config.train, key)) for key in TRAIN_KEYS}
        return arch, self.train_spec(values, seed)

    def train_spec(self, values: dict, seed: int) -> TrainSpec:
        """The study's fixed training settings plus ``values`` for the keys it may search (``TRAIN_KEYS``)."""
        t = self.config.train
        values = {k: int(v) if k in INT_TRAIN_KEYS else (float(v) if k != "loss" else v) for k, v in values.items()}
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
        norm = _choose(trial, f"{p}.norm", space.norms)
        act = _choose(trial, f"{p}.activation", space.activations)
        is_g = c.network == "generator"
        width = _choose(trial, f"{p}.stem.width", space.widths) if is_g else 0
        layers = []
        for i, stride in enumerate(plan):
            name, choices = c.block_param(i, stride)
            block = _choose(trial, name, choices)
            kernel = _choose(trial, f"{p}.{i}.kernel", space.kernels)
            options = {k: _choose(trial, f"{p}.{i}.{block}.{k}", v) for k, v in c.block_options[block].items()}
            last = i == len(plan) - 1
            if is_g and last:  # to image: no norm, tanh
                out, layer_norm, layer_act = self.channels, "none", "tanh"
            else:
                out = _choose(trial, f"{p}.{i}.width", space.widths)
                layer_norm = "none" if (not is_g and i == 0) else norm  # DCGAN: no norm at D's input
                layer_act = act
            layers.append(LayerSpec(block, kernel, stride, out, layer_norm, layer_act, options))
        return NetSpec(tuple(layers), width, space.base_resolution, norm, act)
