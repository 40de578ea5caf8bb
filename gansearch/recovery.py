"""Getting a study's storage back into shape after a crash, a full disk or an accident, before it is used.

With the default journal storage (``gansearch.journal``) nothing else writes while no ``gansearch run``
holds the study's lock, so any command may do this, not only a run:

- a damaged journal is repaired (intact records kept, the damaged file set aside whole);
- an emptied or deleted journal is rebuilt from the trials' ``trial.json`` records, trial numbers kept
  (the old files move to ``trials-before-<time>/``);
- a trial left RUNNING whose ``trial.json`` says it had finished (its last journal record was lost) is
  finished as recorded. A run then fails the other RUNNING trials: nothing is running them.

Each repair is one ``GansearchWarning`` line.
"""

import warnings

import optuna
from optuna.trial import TrialState

from . import journal
from .artifacts import read_record, restore_trials, set_aside_old_trials, trial_dir
from .errors import GansearchWarning


def recover_storage(cfg, stacklevel: int = 3) -> None:
    """Repair or rebuild the default journal (see the module docstring); RDB storages are left alone."""
    if cfg.storage is None:
        fixed = journal.repair(cfg.journal_path)
        if fixed is not None:
            warnings.warn(fixed.message(), GansearchWarning, stacklevel=stacklevel)
        if not journal.has_records(cfg.journal_path) and has_trial_records(cfg):
            rebuild(cfg, stacklevel)


def has_trial_records(cfg) -> bool:
    folder = cfg.output_dir / "trials"
    return folder.is_dir() and any(folder.glob("*/trial.json"))


def rebuild(cfg, stacklevel: int) -> None:
    from .study import open_study

    old = set_aside_old_trials(cfg.output_dir)
    study, _ = open_study(cfg, create=True, report_created=True)
    restored = restore_trials(study, old, cfg.output_dir)
    warnings.warn(f"{cfg.journal_path}: the journal was empty or missing but trials/ held this study's trials: "
                  f"rebuilt {restored} trials (numbers kept) from their trial.json records; their files are now "
                  f"in {old.name}/", GansearchWarning, stacklevel=stacklevel + 1)


def finish_recorded_trials(study: optuna.Study, cfg) -> list:
    """Finish RUNNING trials whose ``trial.json`` says they completed or were pruned; returns the
    trials left RUNNING."""
    left = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        record = read_record(trial_dir(cfg.output_dir, t.number))
        if not record or record.get("state") not in ("COMPLETE", "PRUNED"):
            left.append(t)
            continue
        trial = optuna.Trial(study, t._trial_id)
        for key, value in record.get("user_attrs", {}).items():
            if key not in t.user_attrs:
                trial.set_user_attr(key, value)
        if record["state"] == "COMPLETE":
            study.tell(t.number, record["value"])
        else:
            study.tell(t.number, state=TrialState.PRUNED)
    return left
