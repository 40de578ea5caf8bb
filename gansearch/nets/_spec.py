"""Plain, serialisable descriptions of a trial: its architecture and its training settings.

A spec is stored with every trial (as JSON in a user attribute), so any trial's networks can be
rebuilt from storage alone.
"""

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class LayerSpec:
    block: str
    kernel: int
    stride: int
    out_channels: int
    norm: str
    activation: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NetSpec:
    layers: tuple[LayerSpec, ...]
    width: int  # generator: channels of the stem's base_resolution map; discriminator: unused (0)
    base_resolution: int  # generator starts at it, discriminator ends at it
    norm: str  # the stem's norm (generator); unused for the discriminator
    activation: str
    skips: bool = False  # translator: U-Net skips (each up layer's output joined with the encoder map of its size)
    head: str = "dense"  # discriminator: dense (flatten + linear) or patch (a 1x1 conv to a map of logits)
    conditional: bool = False  # discriminator (translate): sees the condition concatenated with the image


@dataclass(frozen=True)
class ArchSpec:
    resolution: int
    channels: int
    latent_dim: int
    generator: NetSpec
    discriminator: NetSpec
    task: str = "generate"  # generate: latent -> image; translate: condition image -> image
    cond_channels: int = 0  # translate: channels of the condition image

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ArchSpec":
        def net(n):
            return NetSpec(**{**n, "layers": tuple(LayerSpec(**layer) for layer in n["layers"])})

        return cls(**{**d, "generator": net(d["generator"]), "discriminator": net(d["discriminator"])})


@dataclass(frozen=True)
class TrainSpec:
    steps: int
    eval_every: int
    batch_size: int
    lr_g: float
    lr_d: float
    beta1: float
    beta2: float
    loss: str
    d_steps: int
    seed: int
    cuda_graphs: bool = True
    precision: str = "auto"  # fp32 | tf32 | bf16 | auto (see trainer.resolve_precision)
    augment: str = "none"  # D's input augmentations, comma-separated registered names
    l1_weight: float = 0.0  # translate: weight of G's L1 term against the target

    def to_dict(self) -> dict:
        return asdict(self)
