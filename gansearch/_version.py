"""The package version (one place, read by the plugin listing and the front)."""

__version__ = "0.1.0"
