"""The InceptionV3 feature network that FID is defined with, as plain ``torch.nn``.

This is the network of the FID reference implementation (TTUR) as ported by pytorch-fid and used by
torch-fidelity: torchvision's Inception3 layout without the auxiliary classifier, a 1008-way ``fc``
and the FID-specific pooling in the Mixed blocks (average pooling that excludes padding in A, C and
the first E block, max pooling in the last E block). Its module names match the state-dict keys of
the weight file ``pt_inception-2015-12-05-6726825d.pth``, so that file loads into it unchanged.

The weights are never downloaded: :func:`load_inception` takes a local path (the study file's
``score.inception_weights`` key or the ``GANSEARCH_INCEPTION_WEIGHTS`` environment variable) and
raises :class:`ExtractorUnavailable` when there is none.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from gansearch.errors import GansearchError
from gansearch.score._scorer import INCEPTION_ENV
from gansearch.score._scorer import INCEPTION_FILE as WEIGHTS_FILE
from gansearch.score._scorer import INCEPTION_HOW_TO as _HOW_TO_GET


class ExtractorUnavailable(GansearchError):
    """The FID feature extractor cannot be built: its weight file is not given, missing or not a valid state dict."""


class BasicConv2d(nn.Module):
    """Conv2d (no bias) -> BatchNorm2d (eps 0.001) -> ReLU."""

    def __init__(self, in_channels: int, out_channels: int, **conv_kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **conv_kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _pool3x3(x: torch.Tensor, pool: str) -> torch.Tensor:
    """The stride-1 pooling of a pool branch: ``"avg"`` excludes the zero padding, ``"max"`` ignores it."""
    if pool == "avg":
        return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)
    return F.max_pool2d(x, kernel_size=3, stride=1, padding=1)


def _check_pool(pool: str) -> str:
    if pool not in ("avg", "max"):
        raise ValueError(f"pool must be 'avg' or 'max', not {pool!r}")
    return pool


class InceptionA(nn.Module):
    """35×35 block (Mixed_5b-5d): 1×1, 5×5, double 3×3 and pool branches -> 64+64+96+pool_features channels."""

    def __init__(self, in_channels: int, pool_features: int, pool: str = "avg"):
        super().__init__()
        self.pool = _check_pool(pool)
        self.branch1x1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(_pool3x3(x, self.pool))
        return torch.cat([b1, b5, b3, bp], 1)


class InceptionB(nn.Module):
    """Grid reduction 35×35 -> 17×17 (Mixed_6a): strided 3×3, strided double 3×3 and max pool -> 384+96+in."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3(x)
        b3d = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, b3d, bp], 1)


class InceptionC(nn.Module):
    """17×17 block (Mixed_6b-6e): 1×1, factorised 7×7, double 7×7 and pool branches -> 4×192 = 768 channels."""

    def __init__(self, in_channels: int, channels_7x7: int, pool: str = "avg"):
        super().__init__()
        self.pool = _check_pool(pool)
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        b7d = self.branch7x7dbl_1(x)
        for conv in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            b7d = conv(b7d)
        bp = self.branch_pool(_pool3x3(x, self.pool))
        return torch.cat([b1, b7, b7d, bp], 1)


class InceptionD(nn.Module):
    """Grid reduction 17×17 -> 8×8 (Mixed_7a): strided 3×3, 7×7-then-strided-3×3 and max pool -> 320+192+in."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, b7, bp], 1)


class InceptionE(nn.Module):
    """8×8 block (Mixed_7b avg pool, Mixed_7c max pool): 1×1, split 3×3, split double 3×3 and pool -> 2048."""

    def __init__(self, in_channels: int, pool: str = "avg"):
        super().__init__()
        self.pool = _check_pool(pool)
        self.branch1x1 = BasicConv2d(in_channels, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)  # 320
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)  # 768
        b3d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        b3d = torch.cat([self.branch3x3dbl_3a(b3d), self.branch3x3dbl_3b(b3d)], 1)  # 768
        bp = self.branch_pool(_pool3x3(x, self.pool))  # 192
        return torch.cat([b1, b3, b3d, bp], 1)


class FIDInception(nn.Module):
    """InceptionV3 pool3 features for FID: images in [-1, 1] -> (B, 2048).

    Built with random weights (always in eval mode, no gradients); use :func:`load_inception` for the
    FID weights. ``fc`` is only there so the weight file's keys match; :meth:`forward` stops before it.
    """

    dim = 2048
    resolution = 299

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, pool="avg")
        self.Mixed_7c = InceptionE(2048, pool="max")
        self.fc = nn.Linear(2048, 1008)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> FIDInception:
        """Stays in eval mode: BatchNorm must always use the stored FID statistics."""
        return super().train(False)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"expected images of shape (B, 1 or 3, H, W), got {tuple(x.shape)}")
        x = x.to(self.fc.weight.dtype)
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)  # (B, 1, H, W) -> (B, 3, H, W)
        if x.shape[-2:] != (self.resolution, self.resolution):
            x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear", align_corners=False)
        # (B, 3, 299, 299) in [-1, 1]: the FID weights expect exactly this range, no further normalisation
        x = self.Conv2d_1a_3x3(x)  # -> (B, 32, 149, 149)
        x = self.Conv2d_2a_3x3(x)  # -> (B, 32, 147, 147)
        x = self.Conv2d_2b_3x3(x)  # -> (B, 64, 147, 147)
        x = F.max_pool2d(x, kernel_size=3, stride=2)  # -> (B, 64, 73, 73)
        x = self.Conv2d_3b_1x1(x)  # -> (B, 80, 73, 73)
        x = self.Conv2d_4a_3x3(x)  # -> (B, 192, 71, 71)
        x = F.max_pool2d(x, kernel_size=3, stride=2)  # -> (B, 192, 35, 35)
        x = self.Mixed_5b(x)  # -> (B, 256, 35, 35)
        x = self.Mixed_5c(x)  # -> (B, 288, 35, 35)
        x = self.Mixed_5d(x)  # -> (B, 288, 35, 35)
        x = self.Mixed_6a(x)  # -> (B, 768, 17, 17)
        x = self.Mixed_6b(x)  # -> (B, 768, 17, 17)
        x = self.Mixed_6c(x)
        x = self.Mixed_6d(x)
        x = self.Mixed_6e(x)  # -> (B, 768, 17, 17)
        x = self.Mixed_7a(x)  # -> (B, 1280, 8, 8)
        x = self.Mixed_7b(x)  # -> (B, 2048, 8, 8)
        x = self.Mixed_7c(x)  # -> (B, 2048, 8, 8)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)  # -> (B, 2048)


def _resolve_path(path: str | os.PathLike | None) -> tuple[Path, str]:
    """The weight file's path and where it came from (for error messages)."""
    if path is not None and str(path) != "":
        return Path(path), "the given path, score.inception_weights"
    from_env = os.environ.get(INCEPTION_ENV, "")
    if from_env:
        return Path(from_env), INCEPTION_ENV
    raise ExtractorUnavailable(f"no InceptionV3 FID weights given: {_HOW_TO_GET}")


def _first_problem(state: dict, expected: dict[str, torch.Tensor]) -> str | None:
    """The first missing, unexpected or mis-shaped key of ``state``, described; None when it fits."""
    for key, want in expected.items():
        if key not in state:
            if key.endswith("num_batches_tracked"):
                continue  # not needed in eval mode; older exports leave it out
            return f"missing key {key!r}"
        got = state[key]
        if not isinstance(got, torch.Tensor):
            return f"key {key!r} is not a tensor"
        if got.shape != want.shape:
            return f"key {key!r} has shape {tuple(got.shape)}, expected {tuple(want.shape)}"
    for key in state:
        if key not in expected:
            return f"unexpected key {key!r}"
    return None


def load_inception(path: str | os.PathLike | None) -> FIDInception:
    """The FID InceptionV3 with the weights of ``path`` (else of ``$GANSEARCH_INCEPTION_WEIGHTS``), on the CPU.

    Raises :class:`ExtractorUnavailable` (one line) when no path is given, the file does not exist or it is not a
    state dict of this network.
    """
    file, source = _resolve_path(path)
    if not file.is_file():
        raise ExtractorUnavailable(f"{file}: InceptionV3 FID weights not found (from {source}); {_HOW_TO_GET}")
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as err:  # not a torch file, truncated, pickled code, ...
        detail = str(err).strip().splitlines()
        reason = f"{type(err).__name__}: {detail[0]}" if detail else type(err).__name__
        raise ExtractorUnavailable(f"{file}: not a torch weight file ({reason}); expected {WEIGHTS_FILE}") from err
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ExtractorUnavailable(f"{file}: holds a {type(state).__name__}, not a state dict; expected {WEIGHTS_FILE}")
    net = FIDInception()
    problem = _first_problem(state, net.state_dict())
    if problem:
        raise ExtractorUnavailable(f"{file}: not the FID InceptionV3 weights: {problem}; expected {WEIGHTS_FILE}")
    net.load_state_dict(state, strict=False)  # keys checked above; only num_batches_tracked may be absent
    return net
