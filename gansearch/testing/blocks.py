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

from gansearch.nets._builder import build_layer
from gansearch.nets._spec import LayerSpec
from gansearch.plugins._block import RESAMPLES, SCALES, Block, BlockArgs
from gansearch.plugins._layers import NORMS
from gansearch.plugins._registry import load_registry


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

    def stride(self, block) -> int:
        """A resampling stride the block supports (1 for a block that never resamples)."""
        if block.scale == "same":
            return 1
        return next((s for s in (2, 3, 4) if block.supports(stride=s)), 1)

    def kernel(self, block) -> int:
        return next(k for k in (3, 4, 5, 2, 1, *(block.kernels or ())) if block.supports(kernel=k))

    def test_registration_is_valid(self, block):
        assert block.name == self.block_name
        assert block.scale in SCALES
        assert block.description, "give the block a one-line description for `gansearch plugins`"
        assert any(block.supports(kernel=k) for k in (*self.kernels, *(block.kernels or ()))), "no usable kernel"

    def test_exact_shapes_for_every_kernel_and_stride(self, block):
        for kernel, stride, size, options in itertools.product(
                (*self.kernels, *(block.kernels or ())), self.strides, self.sizes, self.option_sets(block)):
            if not block.supports(kernel, stride):
                continue
            in_size = size if block.scale != "down" else size * stride
            module = block.build(BlockArgs(3, 5, kernel, stride, "none", "relu", options))
            out = module(torch.randn(2, 3, in_size, in_size))
            expected = block.out_size(in_size, stride)
            assert tuple(out.shape) == (2, 5, expected, expected), (
                f"{block.name} kernel={kernel} stride={stride} options={options}: "
                f"(2, 3, {in_size}, {in_size}) -> {tuple(out.shape)}, expected (2, 5, {expected}, {expected})")

    def test_its_scale_says_where_it_may_resample(self, block):
        where = [network for network in RESAMPLES if block.can_stride(network)]
        if block.scale == "same":  # never resamples: stride 1 only, in any network
            assert where == [] and not any(block.supports(stride=s) for s in (2, 3, 4))
        else:
            assert "translator" in where and any(block.supports(stride=s) for s in self.strides if s > 1)

    def test_builds_at_every_position_in_every_network_it_may_sit_in(self, block):
        k, options = self.kernel(block), self.option_sets(block)[0]
        for network in RESAMPLES:
            stride = self.stride(block) if block.can_stride(network) else 1
            for index, first, last in ((0, True, False), (3, False, False), (5, False, True)):
                args = BlockArgs(4, 6, k, stride, "none", "tanh" if last else "lrelu", options, network, index,
                                 first, last)
                size = 8
                out = block.build(args)(torch.randn(2, 4, size, size))
                expected = block.out_size(size, stride)
                assert tuple(out.shape) == (2, 6, expected, expected), f"{network} {args}"

    def test_every_norm_and_activation(self, block):
        for norm in NORMS:
            module = block.build(BlockArgs(4, 6, self.kernel(block), self.stride(block), norm, "lrelu",
                                           self.option_sets(block)[0]))
            size = 4 if block.scale == "up" else 8
            assert module(torch.randn(2, 4, size, size)).shape[:2] == (2, 6)

    def test_deterministic_under_seed(self, block):
        def build():
            torch.manual_seed(1234)
            return block.build(BlockArgs(3, 4, self.kernel(block), self.stride(block), "batch", "relu",
                                         self.option_sets(block)[0]))

        a, b = build(), build()
        for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
            assert torch.equal(pa, pb), f"parameter {name} differs between two builds with the same seed"
        x = torch.randn(2, 3, 8, 8)
        assert torch.equal(a(x), b(x))

    def test_gradients_reach_every_parameter(self, block):
        module = block.build(BlockArgs(3, 4, self.kernel(block), self.stride(block), "batch", "relu",
                                       self.option_sets(block)[0]))
        module(torch.randn(2, 3, 8, 8)).square().mean().backward()
        for name, p in module.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all(), f"no finite gradient for {name}"

    def test_passes_the_builders_shape_check(self, registry, block):
        network = {"up": "generator", "down": "discriminator", "same": "translator"}[block.scale]
        for stride in sorted({1, self.stride(block)}):
            layer = LayerSpec(block.name, self.kernel(block), stride, 8, "batch", "relu", self.option_sets(block)[0])
            build_layer(registry, layer, 4, 8, network)  # raises BlockShapeError on a mismatch
