"""``gansearch run``: the Optuna objective, resume, progress and per-trial artifacts."""

import contextlib
import sys

import optuna
import torch
from optuna.trial import TrialState

from gansearch.config._load import load_config
from gansearch.errors import GansearchError, OutputFolderLost
from gansearch.run._progress import FINISHED, progress_bar
from gansearch.run._signals import sigterm_as_interrupt
from gansearch.run._supervisor import supervise
from gansearch.run._timeline import Timeline, Untimed, warm_cuda
from gansearch.run._worker import _work, disk_full_message
from gansearch.score._translate import scorer_for
from gansearch.store import _journal as journal
from gansearch.store._artifacts import disk_full_cause
from gansearch.store._open import _already_running, check_resumable, open_study, opened_for_run, output_lost
from gansearch.store._record import IDENTITY
from gansearch.study._prepare import Prepared, prepare
from gansearch.train._devices import plan_workers, resolve_devices


def run_study(path, n_trials: int | None = None, workers: int | str | None = None, progress: bool = True,
              entry_points: bool | None = None, out=None, verbose: bool = False,
              timeline: Timeline | None = None) -> optuna.Study:
    """Run (or resume) the study in ``path`` until ``n_trials`` trials have finished (complete or pruned).

    With more than one worker slot (``workers`` per device, default from the study file), each worker is
    a process pulling trials from the same Optuna storage; this process shows progress. SIGTERM stops the
    run like Ctrl-C: running trials are recorded as failed, finished ones are kept. ``timeline`` (a
    ``gansearch.timeline.Timeline``) is told where the run's wall time goes.
    """
    timeline = timeline or Untimed()
    out = out or sys.stderr  # (read now: a test or a notebook may have replaced it)
    warming = None
    with contextlib.suppress(GansearchError):  # a bad file is reported by prepare, with every other check
        warming = warm_cuda(resolve_devices(load_config(path).devices))  # the CUDA context, while we prepare
    prepared = prepare(path, entry_points=entry_points, run=True, workers=workers)  # every check, nothing written
    timeline.mark("prepare: study file, plugins, data")
    if warming is not None:
        warming.join()
        timeline.mark("cuda context (what preparing did not hide)")
    return drive(prepared, path, Search(n_trials), workers, progress, entry_points, out, verbose, timeline)


class Search:
    """What ``gansearch run`` trains: trials the sampler proposes (the baseline first, in a new study) until
    ``n_trials`` have finished. ``gansearch confirm`` trains another kind (``gansearch.confirm``): its plan
    has the same three members."""

    derive = None  # a picklable callable turning a worker's ``prepare``d study into what it trains, or None
    queued = None  # None: any trial the sampler proposes; else the user attribute every queued trial carries

    def __init__(self, n_trials: int | None = None):
        self.n_trials = n_trials

    def begin(self, study: optuna.Study, prepared: Prepared, scorer, created: bool) -> int:
        """Once the run holds the study: get it ready, and say how many trials must be finished."""
        record_identity(study, prepared, scorer)
        enqueue_baseline(study, prepared, created)
        return self.n_trials or prepared.config.n_trials


def drive(prepared, path, plan, workers=None, progress=True, entry_points=None, out=None, verbose=False,
          timeline=None) -> optuna.Study:
    """Train ``plan``'s trials of the prepared study (``Search``, or a confirmation's): workers, progress,
    resume; a full disk, however deep it surfaced, is one line."""
    cfg = prepared.config
    try:
        return _run(prepared, path, plan, workers, progress, entry_points, out or sys.stderr, verbose,
                    timeline or Untimed())
    except OutputFolderLost:
        raise
    except Exception as exc:  # noqa: BLE001 - a full disk, however deep it surfaced, is one line
        cause = disk_full_cause(exc)
        if cause is None:
            raise
        raise GansearchError(f"{cfg.file}: the run stopped: {disk_full_message(cause)}") from None


def _run(prepared, path, plan, workers, progress, entry_points, out, verbose, timeline):
    cfg = prepared.config
    slots = plan_workers(resolve_devices(cfg.devices), workers or cfg.workers, cfg.trials_per_worker)
    optuna.logging.set_verbosity(optuna.logging.INFO if verbose else optuna.logging.ERROR)
    if cfg.storage is None and journal.run_holds(cfg.output_dir / "run.lock"):
        raise _already_running(cfg)  # said before the score is prepared; run_lock below decides for sure
    check_resumable(cfg)  # an edited study file is said before the score is prepared
    if progress:
        print(f"preparing the score: extractors {', '.join(prepared.plan.extractors)} (once per study; cached)",
              file=out)
    scorer = scorer_for(prepared)  # extractors built (a classifier trained) and real features cached once,
    # for every worker; an extractor that cannot be built (inception without weights) stops here, nothing written
    timeline.mark("score: extractors and real features",
                  extractors_s={k: round(v, 3) for k, v in scorer.build_seconds.items()})
    with sigterm_as_interrupt(), opened_for_run(cfg) as (study, created), folder_kept(cfg):
        target = plan.begin(study, prepared, scorer, created)
        finished = len(study.get_trials(deepcopy=False, states=FINISHED))
        timeline.mark("open study: lock, repair, resume")
        if finished >= target:
            return study
        if progress and any(s.trials > 1 or s.measured for s in slots):
            for device in dict.fromkeys(s.device for s in slots):
                mine = [s for s in slots if s.device == device]
                print(f"training on {device}: {len(mine)} worker process(es) x {mine[0].trials} trial(s) at once"
                      + (f" (layout {mine[0].measured})" if mine[0].measured else ""), file=out)
        bar = progress_bar(target, finished, cfg.name, out, progress)
        try:
            if len(slots) == 1:  # in this process: leave its torch thread count as it was
                threads = torch.get_num_threads()
                try:
                    stopped = _work(prepared, slots[0], 0, target, cfg.timeout, bar, plan.queued)
                finally:
                    torch.set_num_threads(threads)
            else:
                stopped = supervise(path, entry_points, cfg, slots, target, bar, verbose, plan.derive, plan.queued)
        finally:
            bar.close()
            timeline.mark("trials", workers=len(slots), trials_per_worker=slots[0].trials)
    if stopped:
        raise output_lost(cfg) or GansearchError(f"{cfg.file}: the run stopped: {stopped}")
    return open_study(cfg, create=False)


@contextlib.contextmanager
def folder_kept(cfg):
    """Around a run's trials, once it holds its output folder: an error that surfaces because the folder
    (or its journal) was deleted meanwhile, however deep, becomes one line saying so (``OutputFolderLost``)."""
    try:
        yield
    except GansearchError:  # a domain error says its own cause
        raise
    except Exception:  # noqa: BLE001
        lost = output_lost(cfg)
        if lost is None or disk_full_cause(sys.exc_info()[1]) is not None:
            raise
        raise lost from None


def record_identity(study: optuna.Study, prepared: Prepared, scorer) -> None:
    """A translate study's "doing nothing" reference (the held-out conditions as outputs, every metric with
    its standard error), scored once and kept with the study: trials are compared with it."""
    if prepared.pairs is None or IDENTITY in study.user_attrs:
        return
    study.set_user_attr(IDENTITY, {"objective": prepared.plan.objective.name,
                                   "metrics": scorer.evaluate_identity(prepared.config.translate)})


def enqueue_baseline(study: optuna.Study, prepared: Prepared, created: bool = True) -> None:
    """A new study's trial 0 is the hand design (``baseline:``), trained like every other trial; it is
    enqueued again if an interrupted run left it failed. Only the run that created the study enqueues it
    first, so runs starting together on one database do not train it twice."""
    baseline = prepared.baseline
    if baseline is None:
        return
    ever = [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get("baseline")]
    if (not ever and not created) or any(t.state != TrialState.FAIL for t in ever):
        return
    study.enqueue_trial(baseline.params or {}, user_attrs={"baseline": baseline.name})


