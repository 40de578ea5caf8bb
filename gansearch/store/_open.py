"""Opening a study's Optuna storage: a journal file by default, else an RDB URL with heartbeats."""

import contextlib
import optuna
from gansearch.config._load import StudyConfig
from gansearch.store import _journal as journal
from gansearch.store._recovery import finish_recorded_trials, recover_storage
from gansearch.errors import StudyNotFound
from gansearch.search._objectives import directions
from gansearch.store._fingerprint import check_unchanged
from gansearch.search._samplers import make_pruner
from gansearch.search._samplers import make_sampler
from gansearch.store._storage import make_storage
from gansearch.store._storage import storage_exists


def open_study(config: StudyConfig, *, create: bool, worker: int = 0, report_created: bool = False,
               recover: bool = True):
    """The study's Optuna object: created (or resumed) for a run, or loaded for analysis (``recover``:
    first repair the journal if no run is writing to it; see ``gansearch.recovery``). With
    ``report_created``, a pair (study, whether this call created it)."""
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
                study = optuna.load_study(study_name=config.name, storage=make_storage(config, reading=recover),
                                          sampler=make_sampler(config), pruner=make_pruner(config))
            except KeyError:
                raise StudyNotFound(f"{config.file}: study {config.name!r} not found in {config.storage_url}") \
                    from None
            if quiet:
                with contextlib.suppress(OSError):
                    finish_recorded_trials(study, config)
        return study
    storage = make_storage(config)
    try:  # exactly one of several runs starting together on one database creates the study
        study = optuna.create_study(storage=storage, study_name=config.name, directions=directions(config),
                                    pruner=make_pruner(config))
        created = True
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=config.name, storage=storage, pruner=make_pruner(config))
        created = False
    check_unchanged(study, config)
    study.sampler = make_sampler(config, len(study.get_trials(deepcopy=False)), worker)
    return (study, created) if report_created else study
