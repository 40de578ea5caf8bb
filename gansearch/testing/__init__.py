"""Reusable tests for plugin authors: subclass ``BlockConformance`` in your own test suite."""

from gansearch.testing.blocks import BlockConformance

__all__ = ["BlockConformance"]
