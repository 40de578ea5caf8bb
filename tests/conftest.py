import pytest


@pytest.fixture(autouse=True)
def _no_installed_plugins(monkeypatch):
    """Tests never pick up whatever plugin packages happen to be installed."""
    monkeypatch.setenv("GANSEARCH_DISABLE_PLUGIN_AUTOLOAD", "1")
