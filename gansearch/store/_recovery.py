"""Getting a study's storage back into shape after a crash, a full disk or an accident, before it is used.

With the default journal storage (``gansearch.journal``) nothing else writes while no ``gansearch run``
holds the study's lock, so any command may do this, not only a run:

- a damaged journal is repaired (intact records kept, the damaged file set aside whole);
- an emptied or deleted journal is rebuilt from the trials' ``trial.json`` records, trial numbers and
  files kept, all at once (a temporary journal renamed into place); records of an earlier study (another
  search space, data or score) are moved to ``trials-before-<time>/`` instead;
- the journal is cross-checked against each finished (complete or pruned) trial's ``trial.json`` (written
  atomically, once):
  a trial whose score, state, parameters or attributes disagree (a flipped bit that is still valid JSON),
  a trial whose parameters a repair cut, and records numbered beyond the journal's trials (a repair cut
  records after a torn one that created a trial) are taken from their records. The journal is then
  rewritten with every trial under its own number (the original set aside whole), so numbers never shift;
- a trial left RUNNING whose ``trial.json`` says it had finished (its last journal record was lost) is
  finished as recorded. A run then fails the other RUNNING trials: nothing is running them.

Each repair is one ``GansearchWarning`` line.
"""

import json
import os
import time
import warnings

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from gansearch.errors import GansearchWarning
from gansearch.store import _journal as journal
from gansearch.store._artifacts import frozen_trial, read_record, restore_trials, set_aside_old_trials, trial_dir


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
    reconcile(cfg, stacklevel)


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
    """An empty study for ``cfg`` in a new journal at ``path``, its fingerprint recorded."""
    from gansearch.search._objectives import directions
    from gansearch.store._fingerprint import check_unchanged

    study = _empty_study(path, cfg.name, directions(cfg))
    check_unchanged(study, cfg)  # records the study's fingerprint
    return study


def _empty_study(path, name: str, directions) -> optuna.Study:
    """A new journal at ``path`` holding one empty study (quietly: no "A new study created" line beside our
    warning)."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return optuna.create_study(storage=JournalStorage(JournalFileBackend(str(path))), study_name=name,
                                   directions=directions)
    finally:
        optuna.logging.set_verbosity(verbosity)


FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def disagreement(t: optuna.trial.FrozenTrial, record: dict, multi: bool = False) -> str | None:
    """How a finished trial in the journal differs from its ``trial.json`` (what the record holds, the
    journal may not contradict: Optuna forbids changing a finished trial), or None."""
    if record.get("state") not in ("COMPLETE", "PRUNED"):
        return None
    if t.state.name != record["state"]:
        return f"state {t.state.name.lower()} in the journal, {record['state'].lower()} in trial.json"
    if t.state == TrialState.COMPLETE:
        mine = t.values if multi or isinstance(record.get("value"), list) else t.value
        if _canonical(mine) != _canonical(record.get("value")):
            return f"score {mine} in the journal, {record.get('value')} in trial.json"
    if _canonical(t.params) != _canonical(record.get("params")):
        return "its parameters differ"
    steps = {str(k): v for k, v in t.intermediate_values.items()}
    if not multi and _canonical(steps) != _canonical(record.get("intermediate_values", {})):
        return "its reported scores differ"  # (a multi-objective trial reports nothing to Optuna: its record does)
    attrs = record.get("user_attrs") or {}
    for key in sorted(set(attrs) & set(t.user_attrs) - {"samples", "generator", "restored_from"}):
        if _canonical(t.user_attrs[key]) != _canonical(attrs[key]):
            return f"attribute {key!r} differs"
    return None


def reconcile(cfg, stacklevel: int) -> None:
    """Cross-check the journal against the trials' records (see the module docstring); when any trial must
    come from its record, rewrite the journal with every trial under its own number."""
    records = {r["number"]: (folder, r) for folder, r in _records(cfg)}
    if not records:
        return
    storage = JournalStorage(JournalFileBackend(str(cfg.journal_path)))
    names = [s.study_name for s in storage.get_all_studies()]
    if names != [cfg.name]:  # not created yet (a new name), or several studies: a rewrite would lose the others
        return
    study = optuna.load_study(study_name=cfg.name, storage=storage)
    trials = study.get_trials(deepcopy=False)
    taken, said = {}, []  # number -> the record that replaces the journal's trial; what to say
    for t in trials:
        if t.number not in records:
            continue
        folder, record = records[t.number]
        if t.state in FINISHED:
            try:
                why = disagreement(t, record, multi=len(study.directions) > 1)
            except (TypeError, ValueError, AttributeError, RuntimeError, KeyError):  # a damaged record: the journal's
                why = None
            if why is not None:
                taken[t.number] = records[t.number]
                said.append(f"trial {t.number}: {why}")
        elif t.state == TrialState.RUNNING and record.get("state") in ("COMPLETE", "PRUNED") \
                and dict(t.params) != record.get("params"):  # a repair cut its parameters
            taken[t.number] = records[t.number]
            said.append(f"trial {t.number}: its journal records were cut by a repair")
    beyond = sorted(n for n in records if n >= len(trials))  # their creation was cut by a repair
    for n in beyond:
        taken[n] = records[n]
    if beyond:
        said.append(f"trial(s) {', '.join(map(str, beyond))} were cut from the journal by a repair")
    if not taken:
        return
    frozen = {}
    for n, (folder, record) in taken.items():
        try:
            frozen[n] = frozen_trial(folder, record, cfg.output_dir)
        except (AttributeError, ValueError, KeyError, TypeError):  # a damaged record: the journal's trial stays
            continue
        if n < len(trials):  # what the journal holds beyond the record (written after it: artifacts_s) is kept
            extra = {k: v for k, v in trials[n].user_attrs.items() if k not in frozen[n].user_attrs}
            frozen[n].user_attrs = {**extra, **frozen[n].user_attrs}
    if not frozen:
        return
    backup = journal.free_name(cfg.journal_path.with_name(
        f"{cfg.journal_path.name}.mismatch-{time.strftime('%Y%m%d-%H%M%S')}"))
    tmp = cfg.journal_path.with_name(f".{cfg.journal_path.name}.reconcile")
    tmp.unlink(missing_ok=True)
    new = _copy_of_study(study, tmp)
    for n in range(max(len(trials), max(taken) + 1)):  # a number whose record cannot be restored stays taken
        if n in frozen:
            new.add_trial(frozen[n])
        elif n < len(trials):
            new.add_trial(trials[n])
        else:
            new.add_trial(optuna.trial.create_trial(state=TrialState.FAIL, user_attrs={
                "failure": "restored: no readable trial.json for this trial number"}))
    journal.write_atomically(backup, cfg.journal_path.read_bytes())
    os.replace(tmp, cfg.journal_path)
    warnings.warn(f"{cfg.journal_path}: the journal disagreed with the trials' own records ({'; '.join(said)}); "
                  f"trusted trial.json (written atomically) and rewrote the journal, trial numbers kept; the "
                  f"original is in {backup.name}", GansearchWarning, stacklevel=stacklevel + 1)


def _copy_of_study(study: optuna.Study, path) -> optuna.Study:
    """An empty study in a new journal at ``path`` with ``study``'s name, directions and attributes."""
    new = _empty_study(path, study.study_name, study.directions)
    for key, value in study.user_attrs.items():
        new.set_user_attr(key, value)
    for key, value in study._storage.get_study_system_attrs(study._study_id).items():
        new._storage.set_study_system_attr(new._study_id, key, value)
    return new


def finish_recorded_trials(study: optuna.Study, cfg) -> list:
    """RUNNING trials whose ``trial.json`` says they completed or were pruned: finished as recorded (the
    journal lost only their last records). Returns the trials left RUNNING."""
    left, finished = [], 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        folder = trial_dir(cfg.output_dir, t.number)
        record = read_record(folder)
        if not record or record.get("state") not in ("COMPLETE", "PRUNED"):
            left.append(t)
            continue
        trial = optuna.Trial(study, t._trial_id)
        if dict(t.params) != record.get("params"):  # its parameters were cut (reconcile takes it from the record)
            left.append(t)
            continue
        for key, value in record.get("user_attrs", {}).items():
            if key not in t.user_attrs:
                trial.set_user_attr(key, value)
        if record["state"] == "COMPLETE":
            study.tell(t.number, record["value"])
        else:
            study.tell(t.number, state=TrialState.PRUNED)
        finished += 1
    if finished:
        warnings.warn(f"{cfg.journal_path}: {finished} trial(s) whose last journal records were lost finished as "
                      "their trial.json records say", GansearchWarning, stacklevel=3)
    return left
