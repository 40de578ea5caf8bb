"""``gansearch run``: the Optuna objective, resume, progress and per-trial artifacts."""

import contextlib
import fcntl
import math
import os
import socket
import sys
import time
import warnings

import optuna
import torch
from optuna.trial import TrialState
from tqdm.auto import tqdm

from .builder import build_pair, count_params
from .costs import LATENCY_BATCH, discriminator_input, generator_input, latency_ms, macs
from .errors import ArtifactError, GansearchError, GansearchWarning, TrialDiverged
from . import journal
from .interleave import Lane, interleave, lanes_for
from .randomness import TrialRandom
from .artifacts import disk_full_cause, save_trial, set_aside_old_trials, trial_dir, trial_record
from .recovery import finish_recorded_trials, recover_storage
from .augment import make_policy
from .objectives import is_multi, score_of, should_prune_on_quality
from .objectives import values as objective_values
from .scoring import Scorer
from .translation import TranslationScorer
from .devices import WorkerSlot, plan_workers, resolve_devices
from .config import load_config
from .study import Prepared, check_output, check_workers, fingerprint, open_study, prepare, trial_seed
from .timeline import Timeline, Untimed, warm_cuda
from .trainer import Training, memory_format, sync
from .workers import deferring_interrupts, interruptible, raise_pending, sigterm_as_interrupt, supervise

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
MAX_CONSECUTIVE_FAILURES = 5


class Objective:
    """What a worker's trials share: the study, its data on the device, and the scorer. ``start`` turns
    an asked Optuna trial into a ``TrialRun`` in a lane."""

    def __init__(self, prepared: Prepared, device: torch.device, worker: str = "main"):
        self.p = prepared
        self.device = device
        self.worker = worker
        data = prepared.pairs.train_data() if prepared.pairs is not None else prepared.data
        self.data = data.to(device).contiguous(memory_format=memory_format(device))
        self.scorer = scorer_for(prepared, device)

    def start(self, study: optuna.Study, trial: optuna.Trial, lane: Lane, tag: str = "",
              on_close=None) -> "TrialRun":
        return TrialRun(self, study, trial, lane, tag, on_close)


class TrialRun:
    """One trial from Optuna's ask to its tell, advanced a step at a time (``gansearch.interleave``): the
    first ``advance`` builds and sets up the pair, each later one trains a step and, when due, evaluates
    (reporting to Optuna, which may prune it; the last evaluation computes every metric with its standard
    error, once). ``close`` records how it ended, writes its samples, weights and record, and tells Optuna.
    """

    def __init__(self, objective: Objective, study: optuna.Study, trial: optuna.Trial, lane: Lane,
                 tag: str = "", on_close=None):
        self.o, self.study, self.trial, self.lane, self.on_close = objective, study, trial, lane, on_close
        self.tag = tag  # who trains it: host:pid@device (plus /lane-N when lanes interleave)
        self.notes = {"score_seconds": 0.0}  # step mode, graph fallback reason, where the time went
        self.reported = {}  # step -> score, kept in the trial's record on disk
        self.training: Training | None = None
        self.g = None
        self.steps = 0
        self.state, self.value = TrialState.FAIL, None
        self.told = False
        self.heartbeat = heartbeat(study, trial)
        self.heartbeat.__enter__()

    def advance(self) -> bool:
        """Set up (first call), else one training step and its evaluation when due. True once complete."""
        with interruptible(), self.lane.active():  # an interrupt is recorded as this trial's failure only from in here
            if self.training is None:
                self._setup()
                return False
            self.lane.room()
            self.training.step()
            self.lane.launched()
            if self.training.due:
                self._evaluate()
        return self.state == TrialState.COMPLETE

    def _setup(self) -> None:
        o, trial = self.o, self.trial
        seed = trial_seed(o.p.config.seed, trial.number)
        baseline = o.p.baseline if trial.user_attrs.get("baseline") else None
        self.baseline = baseline
        if baseline is not None and baseline.params is None:  # outside the search space: a fixed design
            arch, spec = baseline.arch, o.p.space.train_spec(baseline.train, seed)
        else:
            arch, spec = o.p.space.suggest(trial, seed)
        self.arch, self.spec = arch, spec
        trial.set_user_attr("seed", seed)
        trial.set_user_attr("worker", self.tag or o.worker)
        trial.set_user_attr("arch", arch.to_dict())
        trial.set_user_attr("train", spec.to_dict())
        built = time.perf_counter()
        g, d = build_pair(arch, o.p.registry, seed)
        trial.set_user_attr("g_params", count_params(g))
        trial.set_user_attr("d_params", count_params(d))
        trial.set_user_attr("g_macs", macs(g, generator_input(arch, 1)))  # per image, before moving to the device
        trial.set_user_attr("d_macs", macs(d, discriminator_input(arch, 1)))
        layout = memory_format(o.device)
        self.g, d = g.to(o.device, memory_format=layout), d.to(o.device, memory_format=layout)
        self.notes["build_seconds"] = time.perf_counter() - built
        augment = make_policy(spec.augment, o.p.registry)
        self.training = Training(self.g, d, o.data, spec, augment, TrialRandom(seed, o.device), self.notes,
                                 self.lane.stream)
        self.training.setup()

    def _evaluate(self) -> None:
        """Check the losses and score; the last evaluation computes every metric (with standard errors)."""
        training, cfg = self.training, self.o.p.config
        training.check()
        self.lane.drained()  # check waited for every step launched so far
        step = training.done
        scored = time.perf_counter()
        if training.finished:
            metrics = self.o.scorer.evaluate_generator(self.g)
            value = metrics[self.o.p.plan.objective.name]
        else:
            metrics, value = None, self.o.scorer.score(self.g)
        self.notes["score_seconds"] += time.perf_counter() - scored
        if not math.isfinite(value):
            raise TrialDiverged(f"non-finite score at step {step}")
        self.steps = step
        self.reported[step] = value
        trial, last = self.trial, training.finished
        # a fully trained trial is complete, never pruned; nor is the baseline, every study's yardstick
        if is_multi(cfg):  # Optuna prunes single-objective studies only; here the median rule among cheaper trials
            trial.set_user_attr("reported", {str(k): v for k, v in self.reported.items()})
            prune = not last and self.baseline is None and should_prune_on_quality(trial, step, value, cfg)
        else:
            trial.report(value, step)
            prune = not last and self.baseline is None and trial.should_prune()
        if prune:
            trial.set_user_attr("pruned_at", step)
            raise optuna.TrialPruned(f"pruned at step {step} with score {value:.4g}")
        if last:
            self._complete(metrics)

    def _complete(self, metrics: dict) -> None:
        trial, cfg = self.trial, self.o.p.config
        trial.set_user_attr("g_latency_ms", round(latency_ms(self.g, self.arch, self.o.device), 4))
        trial.set_user_attr("latency_batch", LATENCY_BATCH)
        objective = self.o.p.plan.objective.name
        trial.set_user_attr("metrics", metrics)
        trial.set_user_attr("score_se", metrics[f"{objective}_se"])
        trial.set_user_attr("score", metrics[objective])
        self.value = objective_values(cfg, metrics[objective], metrics, trial.user_attrs)
        self.state = TrialState.COMPLETE

    def close(self, exc: BaseException | None) -> optuna.trial.FrozenTrial | None:
        """Record how the trial ended (``exc``: what stopped it, or None), save its files, tell Optuna."""
        if self.told:
            return None
        trial = self.trial
        if self.lane.stream is not None:  # steps still running (it failed or was stopped mid-way) finish first
            self.lane.stream.synchronize()
        try:
            if isinstance(exc, KeyboardInterrupt):  # Ctrl-C, or SIGTERM / the run's death (workers.py)
                self.state = TrialState.FAIL
                trial.set_user_attr("failure", f"interrupted ({exc.args[0] if exc.args else 'Ctrl-C'})")
            elif isinstance(exc, optuna.TrialPruned):
                self.state = TrialState.PRUNED
            elif exc is not None:
                self.state = TrialState.FAIL
                trial.set_user_attr("failure", f"{type(exc).__name__}: {exc}")
            self._record_times()
            if self.g is not None:
                saved = time.perf_counter()
                try:
                    self._save()
                except ArtifactError:
                    self.state = TrialState.FAIL
                trial.set_user_attr("artifacts_s", round(time.perf_counter() - saved, 4))
        finally:
            self.heartbeat.__exit__(None, None, None)
        values = self.value if self.state == TrialState.COMPLETE else None
        frozen = self.study.tell(trial, values, state=None if values is not None else self.state)
        self.told = True
        if self.on_close is not None:
            self.on_close(frozen)
        return frozen

    def _record_times(self) -> None:
        trial, notes = self.trial, self.notes
        trial.set_user_attr("steps", self.steps)
        trial.set_user_attr("step_mode", notes.get("mode"))
        if notes.get("fallback"):
            trial.set_user_attr("graph_fallback", notes["fallback"])
        # where the trial's wall time went: setup (build, warm-up, capture), training, scoring, files
        trial.set_user_attr("setup_s", round(notes.get("build_seconds", 0.0) + notes.get("setup_seconds", 0.0), 4))
        trial.set_user_attr("train_s", round(notes.get("train_seconds", 0.0), 4))
        trial.set_user_attr("score_s", round(notes.get("score_seconds", 0.0), 4))
        if notes.get("precision"):
            trial.set_user_attr("train_precision", notes["precision"])

    def _save(self):
        """Samples, weights and the trial's record; a trial whose artifacts cannot be written fails with
        the cause (a full disk also stops the run: see ``_work``)."""
        trial, g = self.trial, self.g
        root = self.o.p.config.output_dir
        folder = trial_dir(root, trial.number)
        names = {"samples": str((folder / "samples.png").relative_to(root)),
                 "generator": str((folder / "generator.pt").relative_to(root))}
        value = self.value if self.state == TrialState.COMPLETE else None
        try:
            record = {**trial_record(trial, self.state, value, self.reported, names),
                      "fingerprint": fingerprint(self.o.p.config)}
            if hasattr(self.o.scorer, "preview"):  # a translator's grid: condition | output | target rows
                g.preview_pairs = self.o.scorer.preview()
            save_trial(folder, g, self.o.p.config.seed, record)
        except OSError as exc:
            reason = f"cannot save the trial's artifacts in {folder}: {exc.strerror or exc}"
            trial.set_user_attr("failure", reason)
            if disk_full_cause(exc) is not None:
                trial.set_user_attr("disk_full", True)
            raise ArtifactError(reason) from exc
        for key, name in names.items():
            trial.set_user_attr(key, name)


def heartbeat(study: optuna.Study, trial: optuna.Trial):
    """Optuna's heartbeat for a trial of an RDB storage (so another run can fail it if this process dies);
    nothing for the journal, whose run lock does that job."""
    try:
        from optuna.storages._heartbeat import get_heartbeat_thread
    except ImportError:  # a later Optuna moved it: no heartbeats, stale trials stay RUNNING
        return contextlib.nullcontext()
    return get_heartbeat_thread(trial._trial_id, study._storage)


def fail_stale_trials(study: optuna.Study) -> None:
    """Trials whose heartbeat stopped (their process died) are failed before a new trial is asked for."""
    from optuna.storages._heartbeat import is_heartbeat_enabled

    if is_heartbeat_enabled(study._storage):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)


def run_study(path, n_trials: int | None = None, workers: int | str | None = None, progress: bool = True,
              entry_points: bool | None = None, out=sys.stderr, verbose: bool = False,
              timeline: Timeline | None = None) -> optuna.Study:
    """Run (or resume) the study in ``path`` until ``n_trials`` trials have finished (complete or pruned).

    With more than one worker slot (``workers`` per device, default from the study file), each worker is
    a process pulling trials from the same Optuna storage; this process shows progress. SIGTERM stops the
    run like Ctrl-C: running trials are recorded as failed, finished ones are kept. ``timeline`` (a
    ``gansearch.timeline.Timeline``) is told where the run's wall time goes.
    """
    timeline = timeline or Untimed()
    warming = None
    with contextlib.suppress(GansearchError):  # a bad file is reported by prepare, with every other check
        warming = warm_cuda(resolve_devices(load_config(path).devices))  # the CUDA context, while we prepare
    prepared = prepare(path, entry_points=entry_points)  # every check, before anything is written
    check_workers(prepared.config, workers or prepared.config.workers)  # what this run will start, here
    check_output(prepared.config)  # writable before anything trains
    timeline.mark("prepare: study file, plugins, data")
    if warming is not None:
        warming.join()
        timeline.mark("cuda context (what preparing did not hide)")
    try:
        return _run(prepared, path, n_trials, workers, progress, entry_points, out, verbose, timeline)
    except Exception as exc:  # noqa: BLE001 - a full disk, however deep it surfaced, is one line
        cause = disk_full_cause(exc)
        if cause is None:
            raise
        raise GansearchError(f"{prepared.config.file}: the run stopped: {disk_full_message(cause)}") from None


def scorer_for(prepared, device="cpu"):
    """The scorer a study's trials share: generated images against real ones, or a translate study's
    outputs on its held-out pairs."""
    if prepared.pairs is not None:
        return TranslationScorer.for_study(prepared, device)
    return Scorer.for_study(prepared, device)


def disk_full_message(exc) -> str:
    return (f"the disk is full ({exc}); finished trials are kept: free some space and run the same command "
            "again to resume")


def _run(prepared, path, n_trials, workers, progress, entry_points, out, verbose, timeline):
    cfg = prepared.config
    target = n_trials or cfg.n_trials
    slots = plan_workers(resolve_devices(cfg.devices), workers or cfg.workers, cfg.trials_per_worker)
    optuna.logging.set_verbosity(optuna.logging.INFO if verbose else optuna.logging.ERROR)
    if cfg.storage is None and journal.run_holds(cfg.output_dir / "run.lock"):
        raise _already_running(cfg)  # said before the score is prepared; run_lock below decides for sure
    if progress:
        print(f"preparing the score: extractors {', '.join(prepared.plan.extractors)} (once per study; cached)",
              file=out)
    scorer = scorer_for(prepared)  # extractors built (a classifier trained) and real features cached once,
    # for every worker; an extractor that cannot be built (inception without weights) stops here, nothing written
    timeline.mark("score: extractors and real features",
                  extractors_s={k: round(v, 3) for k, v in scorer.build_seconds.items()})
    with sigterm_as_interrupt(), run_lock(cfg):
        recover_storage(cfg)
        study, created = open_study(cfg, create=True, report_created=True)
        if created:
            moved = set_aside_old_trials(cfg.output_dir)
            if moved is not None:
                warnings.warn(f"{cfg.output_dir}: a new study began where trials of an earlier one are; they "
                              f"were moved to {moved.name}/, never written over", GansearchWarning, stacklevel=2)
        fail_interrupted_trials(study, cfg)
        enqueue_baseline(study, prepared, created)
        finished = len(study.get_trials(deepcopy=False, states=FINISHED))
        timeline.mark("open study: lock, repair, resume")
        if finished >= target:
            return study
        if progress and any(s.trials > 1 or s.measured for s in slots):
            for device in dict.fromkeys(s.device for s in slots):
                mine = [s for s in slots if s.device == device]
                print(f"training on {device}: {len(mine)} worker process(es) x {mine[0].trials} trial(s) at once"
                      + (f" (layout {mine[0].measured})" if mine[0].measured else ""), file=out)
        bar = tqdm(total=target, initial=finished, desc=cfg.name, unit="trial", file=out, disable=not progress,
                   dynamic_ncols=True)
        try:
            if len(slots) == 1:  # in this process: leave its torch thread count as it was
                threads = torch.get_num_threads()
                try:
                    stopped = _work(prepared, slots[0], 0, target, cfg.timeout, bar)
                finally:
                    torch.set_num_threads(threads)
            else:
                stopped = supervise(path, entry_points, cfg, slots, target, bar, verbose)
        finally:
            bar.close()
            timeline.mark("trials", workers=len(slots), trials_per_worker=slots[0].trials)
    if stopped:
        raise GansearchError(f"{cfg.file}: the run stopped: {stopped}")
    return open_study(cfg, create=False)


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


def _work(prepared: Prepared, slot: WorkerSlot, index: int, target: int, timeout, bar=None) -> str | None:
    """One worker: keep a trial going in each of its ``slot.trials`` lanes (``gansearch.interleave``) while
    fewer than ``target`` are finished or running (anyone's). Returns None when done, or why it stopped
    early: ``MAX_CONSECUTIVE_FAILURES`` failures in a row, or a full disk (no new trial starts: finished
    trials are kept, nothing more can be saved)."""
    cfg = prepared.config
    torch.set_num_threads(slot.threads)
    if slot.device != "cpu":
        torch.cuda.set_device(slot.device)  # graphs capture on the current device's streams
        torch.set_float32_matmul_precision("high")  # TF32 for the linear layers (convs use it by default)
    study = open_study(cfg, create=True, worker=index)
    device = torch.device(slot.device)
    worker = f"{socket.gethostname()}:{os.getpid()}@{slot.device}"
    objective = Objective(prepared, device, worker=worker)
    sync(device)  # the data and real features, copied on the default stream, are there before any lane reads them
    lanes = lanes_for(device, slot.trials)
    state = {"failures": 0, "last_failure": None, "disk_full": None}
    deadline = None if timeout is None else time.monotonic() + timeout

    def closed(trial: optuna.trial.FrozenTrial):
        state["failures"] = 0 if trial.state in FINISHED else state["failures"] + 1
        if trial.state == TrialState.FAIL:
            state["last_failure"] = trial.user_attrs.get("failure", "see log")
            if trial.user_attrs.get("disk_full"):
                state["disk_full"] = state["last_failure"]
        if bar is not None:
            _show(bar, study.get_trials(deepcopy=False), trial)

    def claimed():  # finished, plus running in any worker on any machine
        return len(study.get_trials(deepcopy=False, states=(*FINISHED, TrialState.RUNNING)))

    def start(lane):
        if (state["failures"] >= MAX_CONSECUTIVE_FAILURES or state["disk_full"] is not None
                or (deadline is not None and time.monotonic() >= deadline) or claimed() >= target):
            return None
        fail_stale_trials(study)
        with warnings.catch_warnings():  # heartbeats are recorded here as Study.optimize would (TrialRun)
            warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
            trial = study.ask()  # an interrupt held meanwhile is raised in its first advance, and recorded
        tag = worker + (f"/lane-{lane.index}" if len(lanes) > 1 else "")
        return objective.start(study, trial, lane, tag, closed)

    try:
        with deferring_interrupts():
            interleave(lanes, start)
            raise_pending()  # an interrupt that came while Optuna recorded the last trial
    except Exception as exc:  # the storage itself cannot be written (Optuna may wrap that in its own error)
        cause = disk_full_cause(exc)
        if cause is None:
            raise
        state["disk_full"] = f"{type(cause).__name__}: {cause}"
    if state["disk_full"] is not None:
        return disk_full_message(state["disk_full"])
    if state["failures"] >= MAX_CONSECUTIVE_FAILURES:
        return f"{MAX_CONSECUTIVE_FAILURES} trials in a row failed; last: {state['last_failure']}"
    return None


def _show(bar, trials, trial=None):
    done = sum(t.state in FINISHED for t in trials)
    if done > bar.n:
        bar.update(done - bar.n)
    values = [score_of(t) for t in trials if t.state == TrialState.COMPLETE]
    bar.set_postfix_str(f"best {min(values):.4g}" if values else "no complete trial yet")
    if trial is not None and trial.state == TrialState.FAIL:
        bar.write(f"trial {trial.number} failed: {trial.user_attrs.get('failure', 'see log')}")


@contextlib.contextmanager
def run_lock(cfg):
    """One ``gansearch run`` per study and machine for the default journal storage, so trials left
    RUNNING by a killed run can safely be marked failed."""
    if cfg.storage is not None:  # RDB storages use heartbeats instead
        yield
        return
    cfg.output_dir.mkdir(parents=True, exist_ok=True)
    with open(cfg.output_dir / "run.lock", "a") as lock:
        deadline = time.monotonic() + 2.0  # a reader may hold it a moment to repair the journal
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise _already_running(cfg) from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _already_running(cfg) -> GansearchError:
    return GansearchError(f"{cfg.file}: another `gansearch run` is running this study (lock "
                          f"{cfg.output_dir / 'run.lock'}); add workers with `workers:` instead")


def fail_interrupted_trials(study, cfg):
    """Trials still RUNNING from a run that was killed: finished after all if their ``trial.json`` says so
    (the journal's last record was lost), else failed, with the reason."""
    if cfg.storage is not None:
        return
    for t in finish_recorded_trials(study, cfg):
        fail_trial(study, t, "interrupted: the run was killed mid-trial")


def fail_trial(study, trial, reason: str) -> None:
    optuna.Trial(study, trial._trial_id).set_user_attr("failure", reason)
    study.tell(trial.number, state=TrialState.FAIL)
