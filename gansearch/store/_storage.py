"""A study's Optuna storage: a journal file by default (repaired copies for readers while a run writes), else an
RDB URL with heartbeats."""

import random
import time
import warnings
from pathlib import Path

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from gansearch.config._load import StudyConfig
from gansearch.errors import StudyConfigError
from gansearch.store import _journal as journal

HEARTBEAT_S = 30


STORAGE_ATTEMPTS = 5


def sqlite_path(url: str) -> Path | None:
    """The database file of a ``sqlite:///`` URL, else None."""
    return Path(url[len("sqlite:///"):]) if url.startswith("sqlite:///") else None


def make_storage(config: StudyConfig, reading: bool = False):
    """The study's Optuna storage: a journal file by default, else an RDB URL with heartbeats.

    Heartbeats let a run on any machine mark trials of a dead worker as failed. A damaged journal is
    repaired before it is read (``gansearch.journal``); while a run writes to it, a repaired copy is read.
    """
    if config.storage is None:
        path = config.journal_path
        if reading and journal.is_damaged(path):  # a run is writing to it, or it could not be rewritten
            path = journal.readable_copy(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    url = config.storage
    engine_kwargs = {}
    path = sqlite_path(url)
    if path is not None:
        engine_kwargs = {"connect_args": {"timeout": 60}}
    for attempt in range(STORAGE_ATTEMPTS):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats
                return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, heartbeat_interval=HEARTBEAT_S,
                                                  grace_period=4 * HEARTBEAT_S)
        except ImportError as exc:  # no driver: retrying will not help
            error = exc
            break
        except Exception as exc:  # noqa: BLE001 - e.g. two machines creating the tables at once
            error = exc
            time.sleep(random.uniform(0.5, 2.0) * (attempt + 1))
    cause = error.__cause__ or error
    raise StudyConfigError(f"cannot open {url!r}: {type(cause).__name__}: {str(cause).splitlines()[0]}",
                           file=config.file, key="storage") from None


def storage_exists(config: StudyConfig) -> bool:
    """False only when the local file the storage lives in has not been written yet."""
    path = config.journal_path if config.storage is None else sqlite_path(config.storage)
    return path is None or path.exists()
