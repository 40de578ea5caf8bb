"""Where gansearch keeps what it can rebuild: trained extractors, measured layouts."""

import os
from pathlib import Path

CACHE_ENV = "GANSEARCH_CACHE"  # where trained extractors are kept across studies


def extractor_cache_dir() -> Path:
    """``$GANSEARCH_CACHE``, else ``$XDG_CACHE_HOME/gansearch``, else ``~/.cache/gansearch``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gansearch"
