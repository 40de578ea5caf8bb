"""The example third-party plugin passes the same conformance suite as the built-ins."""

from pathlib import Path

from gansearch.testing import BlockConformance

PLUGIN = str(Path(__file__).parents[2] / "plugins" / "gansearch-pixelshuffle" / "gansearch_pixelshuffle.py")


class TestPixelShuffle(BlockConformance):
    block_name = "pixel_shuffle"
    plugins = (PLUGIN,)


class TestPixelUnshuffle(BlockConformance):
    block_name = "pixel_unshuffle"
    plugins = (PLUGIN,)
