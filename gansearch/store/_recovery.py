"""Getting a study's storage back into shape after a crash, a full disk or an accident, before it is used.

With the default journal storage (``gansearch.journal``) nothing else writes while no ``gansearch run``
holds the study's lock, so any command may do this, not only a run:

- a damaged journal is repaired (intact records kept, the damaged file set aside whole);
- an emptied or deleted journal is rebuilt from the trials' ``trial.json`` records, trial numbers and
  files kept, all at once (a temporary journal renamed into place); records of an earlier study (another
  search space, data or score) are moved to ``trials-before-<time>/`` instead;
- trial records numbered beyond the journal's trials (a repair had to cut records after a torn one that
  may have created a trial) move to ``trials-adopted-<time>/`` and come back as new trials;
- a trial left RUNNING whose ``trial.json`` says it had finished (its last journal record was lost) is
  finished as recorded. A run then fails the other RUNNING trials: nothing is running them.

Each repair is one ``GansearchWarning`` line.
"""

import os
import time
import warnings

import optuna
from optuna.trial import TrialState

from gansearch.errors import GansearchWarning
from gansearch.store import _journal as journal
from gansearch.store._artifacts import frozen_trial, read_record, restore_trials, set_aside_old_trials, trial_dir
from gansearch.store._storage import make_storage


def recover_storage(cfg, stacklevel: int = 3) -> None:
    """Repair or rebuild the default journal (see the module docstring); RDB storages are left alone."""
    if cfg.storage is not None:
        return
    fixed = journal.repair(cfg.journal_path)
    if fixed is not None:
        warnings.warn(fixed.message(), GansearchWarning, stacklevel=stacklevel)
    if not journal.has_records(cfg.journal_path):
        if has_trial_records(cfg):
            rebuild(cfg, stacklevel)
        return
    orphans = [p for p in _records(cfg) if p[1]["number"] >= journal.trial_count(cfg.journal_path)]
    if orphans:
        adopt(cfg, orphans, stacklevel)


def has_trial_records(cfg) -> bool:
    folder = cfg.output_dir / "trials"
    return folder.is_dir() and any(folder.glob("*/trial.json"))


def _records(cfg) -> list[tuple]:
    out = []
    for path in sorted((cfg.output_dir / "trials").glob("*/trial.json")):
        record = read_record(path.parent)
        if isinstance(record, dict) and isinstance(record.get("number"), int):
            out.append((path.parent, record))
    return out


def rebuild(cfg, stacklevel: int) -> None:
    """A journal with no records, beside trial records: rebuilt from them, or, if they belong to an earlier
    study (another search space, data or score), that study's files are moved aside for the new one."""
    from gansearch.store._fingerprint import fingerprint

    current = fingerprint(cfg)
    if any(r.get("fingerprint", current) != current for _, r in _records(cfg)):
        old = set_aside_old_trials(cfg.output_dir)
        warnings.warn(f"{cfg.output_dir}: the journal was empty or missing and trials/ held an earlier study "
                      f"with another search space, data or score: its files moved to {old.name}/, never written "
                      "over", GansearchWarning, stacklevel=stacklevel + 1)
        return
    tmp = cfg.journal_path.with_name(f".{cfg.journal_path.name}.rebuild")
    tmp.unlink(missing_ok=True)
    study = _new_study(cfg, tmp)
    restored = restore_trials(study, cfg.output_dir / "trials", cfg.output_dir)
    os.replace(tmp, cfg.journal_path)  # all at once: an interrupted rebuild leaves the journal as it was
    warnings.warn(f"{cfg.journal_path}: the journal was empty or missing but trials/ held this study's trials: "
                  f"rebuilt {restored} trials (numbers kept) from their trial.json records",
                  GansearchWarning, stacklevel=stacklevel + 1)


def _new_study(cfg, path) -> optuna.Study:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    from gansearch.search._objectives import directions
    from gansearch.store._fingerprint import check_unchanged

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "A new study created" line beside the warning
    try:
        study = optuna.create_study(storage=JournalStorage(JournalFileBackend(str(path))), study_name=cfg.name,
                                    directions=directions(cfg))
    finally:
        optuna.logging.set_verbosity(verbosity)
    check_unchanged(study, cfg)  # records the study's fingerprint
    return study


def adopt(cfg, orphans, stacklevel: int) -> None:
    """Trial records numbered beyond the journal's trials (cut by a repair): moved aside, so new trials
    never write over them, and added back as new trials pointing at the moved files."""
    folder = cfg.output_dir / f"trials-adopted-{time.strftime('%Y%m%d-%H%M%S')}"
    folder.mkdir()
    study = optuna.load_study(study_name=cfg.name, storage=make_storage(cfg))
    added = 0
    for path, record in orphans:
        target = folder / path.name
        path.rename(target)
        try:
            study.add_trial(frozen_trial(target, record, cfg.output_dir))
            added += 1
        except (AttributeError, ValueError, KeyError, TypeError):  # a damaged record: its files stay moved
            continue
    warnings.warn(f"{cfg.journal_path}: {len(orphans)} trial record(s) beyond the journal's trials (cut by a repair) "
                  f"were added back as {added} new trial(s); their files are in {folder.name}/",
                  GansearchWarning, stacklevel=stacklevel + 1)


def finish_recorded_trials(study: optuna.Study, cfg) -> list:
    """RUNNING trials whose ``trial.json`` says they completed or were pruned: finished as recorded when the
    journal lost only their last records; when it lost more (their parameters, after a repair cut it), failed
    and restored whole from the record as a new trial. Returns the trials left RUNNING."""
    left, finished, restored = [], 0, []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        folder = trial_dir(cfg.output_dir, t.number)
        record = read_record(folder)
        if not record or record.get("state") not in ("COMPLETE", "PRUNED"):
            left.append(t)
            continue
        trial = optuna.Trial(study, t._trial_id)
        if dict(t.params) != record.get("params"):
            number = len(study.get_trials(deepcopy=False))
            study.add_trial(frozen_trial(folder, record, cfg.output_dir))
            trial.set_user_attr("failure", f"its journal records were cut by a repair; restored whole from its "
                                           f"trial.json as trial {number}")
            study.tell(t.number, state=TrialState.FAIL)
            restored.append(f"{t.number} as {number}")
            continue
        for key, value in record.get("user_attrs", {}).items():
            if key not in t.user_attrs:
                trial.set_user_attr(key, value)
        if record["state"] == "COMPLETE":
            study.tell(t.number, record["value"])
        else:
            study.tell(t.number, state=TrialState.PRUNED)
        finished += 1
    if finished or restored:
        again = f"; restored whole from trial.json: trial {', '.join(restored)}" if restored else ""
        warnings.warn(f"{cfg.journal_path}: {finished} trial(s) whose last journal records were lost finished as "
                      f"their trial.json records say{again}", GansearchWarning, stacklevel=3)
    return left
