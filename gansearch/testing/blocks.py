"""A conformance suite every block should pass. Subclass it in your plugin's tests::

    from gansearch.testing import BlockConformance
    import my_plugin

    class TestMyBlock(BlockConformance):
        block_name = "my_block"
        plugins = (my_plugin,)

The built-in blocks run the same suite (``tests/builtin/test_blocks.py``).
"""

import itertools

import pytest
import torch

from ..block import Block, BlockArgs
from ..builder import build_layer
from ..layers import NORMS
from ..plugins import load_registry
from ..spec import LayerSpec


class BlockConformance:
    block_name: str = ""
    plugins: tuple = ()  # plugin modules/objects or module names/paths that provide the block
    kernels: tuple = (1, 2, 3, 4, 5)  # odd and even kernels
    strides: tuple = (1, 2, 3, 4)
    sizes: tuple = (4, 6)  # input H=W for upsampling blocks; output H=W for downsampling ones

    @pytest.fixture
    def registry(self):
        return load_registry(self.plugins, entry_points=False)

    @pytest.fixture
    def block(self, registry) -> Block:
        assert self.block_name in registry.blocks, f"{self.block_name!r} not registered by {self.plugins}"
        return registry.block(self.block_name)

    def option_sets(self, block):
        return [dict(zip(block.options, values)) for values in itertools.product(*block.options.values())]

    def test_registration_is_valid(self, block):
        assert block.name == self.block_name
        assert block.scale in ("up", "down")
        assert block.description, "give the block a one-line description for `gansearch plugins`"

    def test_exact_shapes_for_every_kernel_and_stride(self, block):
        for kernel, stride, size, options in itertools.product(
                self.kernels, self.strides, self.sizes, self.option_sets(block)):
            in_size = size if block.scale == "up" else size * stride
            module = block.build(BlockArgs(3, 5, kernel, stride, "none", "relu", options))
            out = module(torch.randn(2, 3, in_size, in_size))
            expected = block.out_size(in_size, stride)
            assert tuple(out.shape) == (2, 5, expected, expected), (
                f"{block.name} kernel={kernel} stride={stride} options={options}: "
                f"(2, 3, {in_size}, {in_size}) -> {tuple(out.shape)}, expected (2, 5, {expected}, {expected})")

    def test_every_norm_and_activation(self, block):
        for norm in NORMS:
            module = block.build(BlockArgs(4, 6, 3, 2, norm, "lrelu", self.option_sets(block)[0]))
            size = 4 if block.scale == "up" else 8
            assert module(torch.randn(2, 4, size, size)).shape[:2] == (2, 6)

    def test_deterministic_under_seed(self, block):
        def build():
            torch.manual_seed(1234)
            return block.build(BlockArgs(3, 4, 3, 2, "batch", "relu", self.option_sets(block)[0]))

        a, b = build(), build()
        for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
            assert torch.equal(pa, pb), f"parameter {name} differs between two builds with the same seed"
        x = torch.randn(2, 3, 8, 8)
        assert torch.equal(a(x), b(x))

    def test_gradients_reach_every_parameter(self, block):
        module = block.build(BlockArgs(3, 4, 3, 2, "batch", "relu", self.option_sets(block)[0]))
        module(torch.randn(2, 3, 8, 8)).square().mean().backward()
        for name, p in module.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all(), f"no finite gradient for {name}"

    def test_passes_the_builders_shape_check(self, registry, block):
        network = "generator" if block.scale == "up" else "discriminator"
        for stride in (1, 2):
            layer = LayerSpec(block.name, 3, stride, 8, "batch", "relu", self.option_sets(block)[0])
            build_layer(registry, layer, 4, 8, network)  # raises BlockShapeError on a mismatch
