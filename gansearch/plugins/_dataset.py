"""What a dataset plugin registers: a loader returning every image at once as one tensor."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from gansearch.plugins._block import NAME_RE


class Required:
    """Marks a dataset option the study must set (``options={"path": REQUIRED}``)."""

    def __repr__(self):
        return "REQUIRED"


REQUIRED = Required()


@dataclass(frozen=True)
class DataRequest:
    """What a study asks a dataset for."""

    resolution: int  # images come back resolution × resolution
    channels: int  # 1 (grayscale) or 3 (RGB)
    seed: int  # for procedural or subsampled data
    options: Mapping[str, Any] = field(default_factory=dict)  # the dataset's own options, defaults filled
    base_dir: Path = Path(".")  # the study file's folder, for relative paths


@dataclass(frozen=True)
class Paired:
    """What a paired dataset returns for translate studies: conditions and targets, both float
    (N, C, R, R) in [-1, 1], row i of one belonging to row i of the other."""

    condition: torch.Tensor
    target: torch.Tensor


@dataclass(frozen=True)
class Dataset:
    """A dataset: ``load(request)`` returns float32 (N, C, H, W) in [-1, 1], or, for a labelled
    dataset, a pair ``(images, labels)`` with int64 (N,) labels indexing ``classes``, or, for a paired
    dataset (translate studies with ``translate.condition: paired``), ``Paired(condition, target)``.

    ``options`` maps each option the dataset accepts to its default (``REQUIRED`` if none).
    ``channels`` is the natural channel count, used when the study does not choose one.
    ``classes`` names the classes of a labelled dataset: the ``classifier`` extractor and the class
    coverage metrics use them.
    ``count(request)``, if given, says how many images ``load`` would return without loading them: a study
    whose data would not fit in memory is then refused in one line before anything is loaded.
    """

    name: str
    load: Callable[[DataRequest], torch.Tensor]
    options: Mapping[str, Any] = field(default_factory=dict)
    channels: int = 3
    description: str = ""
    classes: tuple[str, ...] = ()
    count: Callable[[DataRequest], int] | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not NAME_RE.match(self.name):
            raise ValueError(f"dataset name {self.name!r} must match {NAME_RE.pattern}")
        if not callable(self.load):
            raise ValueError(f"dataset {self.name!r}: load must be callable")
        if self.channels not in (1, 3):
            raise ValueError(f"dataset {self.name!r}: channels must be 1 or 3")
        if len(self.classes) == 1:
            raise ValueError(f"dataset {self.name!r}: a labelled dataset needs at least two classes")
