"""Opening a study's storage, in one place: for reading (a notebook, ``gansearch trials``), for a run
(``opened_for_run``), or for a run's worker. Whoever opens owns what opening involves:

- the run lock: one ``gansearch run`` per study and machine with the default journal storage, so trials a
  killed run left RUNNING can safely be finished or failed (RDB storages use heartbeats instead);
- repair: a damaged or lost journal is repaired or rebuilt from the trials' records (``_recovery``) when no
  run is writing to it;
- the fingerprint: a resumed study must have the same search space, data and score (``_fingerprint``);
- trials left RUNNING by a killed run: finished as their ``trial.json`` says, else failed with the reason;
- the files of an earlier study in the same folder are moved aside, never written over.
"""

import contextlib
import fcntl
import time
import warnings
from pathlib import Path

import optuna
from optuna.trial import TrialState

from gansearch.config._load import StudyConfig, load_config
from gansearch.errors import GansearchError, GansearchWarning, OutputFolderLost, StudyNotFound
from gansearch.search._objectives import directions
from gansearch.search._samplers import make_pruner, make_sampler
from gansearch.store import _journal as journal
from gansearch.store._artifacts import set_aside_old_trials
from gansearch.store._fingerprint import check_unchanged
from gansearch.store._recovery import finish_recorded_trials, recover_storage
from gansearch.store._storage import make_storage, sqlite_path, storage_exists


def open_study(study: StudyConfig | str | Path, *, create: bool = False, worker: int = 0, report_created: bool = False,
               recover: bool = True):
    """The study's Optuna object (``study``: a study file's path, or its loaded config).

    For reading (``create=False``): first repaired, if no run is writing to it, and trials whose last journal
    records were lost finished from their records (``recover=False``: as it is, for a run watching its own
    study). For a run's worker (``create=True``): created if no run created it yet, its fingerprint checked,
    with the worker's own sampler. With ``report_created``, a pair (study, whether this call created it)."""
    config = study if isinstance(study, StudyConfig) else load_config(study)
    if not create:
        lock = config.output_dir / "run.lock"
        with journal.hold(lock) if recover and config.storage is None else contextlib.nullcontext(False) as quiet:
            if quiet:  # no run writes to the journal, and none can start meanwhile: repair or rebuild it
                with contextlib.suppress(OSError):  # a full disk: read as it is
                    recover_storage(config, stacklevel=5)
            if not storage_exists(config):
                raise StudyNotFound(f"{config.file}: no results yet in {config.storage_url}; "
                                    f"run `gansearch run {config.file}` first")
            try:
                opened = optuna.load_study(study_name=config.name, storage=make_storage(config, reading=recover),
                                           sampler=make_sampler(config), pruner=make_pruner(config))
            except KeyError:
                raise StudyNotFound(f"{config.file}: study {config.name!r} not found in {config.storage_url}") \
                    from None
            if quiet:
                with contextlib.suppress(OSError):
                    finish_recorded_trials(opened, config)
        return opened
    storage = make_storage(config)
    try:  # exactly one of several runs starting together on one database creates the study
        opened = optuna.create_study(storage=storage, study_name=config.name, directions=directions(config),
                                     pruner=make_pruner(config))
        created = True
    except optuna.exceptions.DuplicatedStudyError:
        opened = optuna.load_study(study_name=config.name, storage=storage, pruner=make_pruner(config))
        created = False
    check_unchanged(opened, config)
    opened.sampler = make_sampler(config, len(opened.get_trials(deepcopy=False)), worker)
    return (opened, created) if report_created else opened


def check_resumable(config: StudyConfig) -> None:
    """A study that already has results must not have changed (``check_unchanged``): checked read-only before
    a run prepares anything slow; the run checks again once it holds the study."""
    if not storage_exists(config):
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a damaged journal is repaired, and said, by the run itself
        try:
            study = optuna.load_study(study_name=config.name, storage=make_storage(config, reading=True))
        except (KeyError, GansearchError):
            return
        except Exception:  # noqa: BLE001 - a storage the run itself will open (and report) properly
            return
    check_unchanged(study, config, record=False)


@contextlib.contextmanager
def opened_for_run(config: StudyConfig):
    """A run's storage, held for the run: the lock taken, the journal repaired, the study created or resumed
    (fingerprint checked), an earlier study's files moved aside, the trials a killed run left RUNNING
    finished or failed. Yields (study, whether this run created it)."""
    with run_lock(config) as alone:
        recover_storage(config)
        study, created = open_study(config, create=True, report_created=True)
        if created:
            moved = set_aside_old_trials(config.output_dir)
            if moved is not None:
                warnings.warn(f"{config.output_dir}: a new study began where trials of an earlier one are; they "
                              f"were moved to {moved.name}/, never written over", GansearchWarning, stacklevel=3)
        if alone:
            fail_interrupted_trials(study, config)
        if isinstance(alone, _Downgrade):
            alone.share()
        yield study, created


@contextlib.contextmanager
def run_lock(cfg):
    """The study's ``run.lock``; yields whether this run is the only one alive on the study, so that trials
    left RUNNING were left by a killed run and can be finished or failed at once.

    - The default journal: one ``gansearch run`` per study and machine (a second one is refused).
    - SQLite (a database file on this machine): several runs may share the study; the first to find no
      other run alive takes the lock exclusively, handles the trials left RUNNING, then shares it.
    - Other databases (PostgreSQL on several machines): no lock; heartbeats fail the trials of dead runs.
    """
    shared = cfg.storage is not None
    if shared and sqlite_path(cfg.storage) is None:
        yield False
        return
    cfg.output_dir.mkdir(parents=True, exist_ok=True)
    with open(cfg.output_dir / "run.lock", "a") as lock:
        deadline = time.monotonic() + journal.READER_HOLD_S  # a reader may hold it a moment to repair the journal
        alone = True
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                pass
            if shared:  # held shared: another run is alive; share the study with it at once
                try:
                    fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
                    alone = False
                    break
                except BlockingIOError:  # held exclusively: a reader, or a run handling stale trials: wait
                    pass
            if time.monotonic() >= deadline:
                if not shared:
                    raise _already_running(cfg) from None
                alone = False
                fcntl.flock(lock, fcntl.LOCK_SH)
                break
            time.sleep(0.1)
        try:
            if not (shared and alone):
                yield alone
            else:  # handle the stale trials alone, then let other runs join
                yield _Downgrade(lock)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class _Downgrade:
    """True (this run is alone); turning it into a shared lock once the stale trials are handled."""

    def __init__(self, lock):
        self.lock = lock

    def __bool__(self):
        return True

    def share(self):
        fcntl.flock(self.lock, fcntl.LOCK_SH)


def output_lost(cfg) -> OutputFolderLost | None:
    """The error to raise if the study's output folder (with the journal, its storage) is gone, else None."""
    if cfg.output_dir.is_dir() and (cfg.storage is not None or cfg.journal_path.exists()):
        return None
    gone = cfg.output_dir if not cfg.output_dir.is_dir() else cfg.journal_path
    kept = ("the database keeps the finished trials, not their files" if cfg.storage is not None
            else "the trials recorded there went with it")
    return OutputFolderLost(f"{cfg.file}: the run stopped: {gone} was deleted while the run wrote to it ({kept}); "
                            "nothing else was touched")


def _already_running(cfg) -> GansearchError:
    return GansearchError(f"{cfg.file}: another `gansearch run` is running this study (lock "
                          f"{cfg.output_dir / 'run.lock'}); add workers with `workers:` instead")


def fail_interrupted_trials(study, cfg):
    """Trials still RUNNING from a run that was killed (only called by a run that knows it is alone on the
    study): finished after all if their ``trial.json`` says so (the storage lost its last record), else
    failed, with the reason."""
    for t in finish_recorded_trials(study, cfg):
        fail_trial(study, t, "interrupted: the run was killed mid-trial")


def fail_trial(study, trial, reason: str) -> None:
    optuna.Trial(study, trial._trial_id).set_user_attr("failure", reason)
    study.tell(trial.number, state=TrialState.FAIL)
