"""``gansearch run``: the Optuna objective, resume, progress and per-trial artifacts."""

import contextlib
import fcntl
import os
import socket
import sys
import threading
import time
import warnings

import optuna
import torch
from optuna.trial import TrialState
from tqdm.auto import tqdm

from .builder import build_pair, count_params
from .costs import LATENCY_BATCH, discriminator_input, generator_input, latency_ms, macs
from .errors import ArtifactError, GansearchError, GansearchWarning
from . import journal, packing
from .artifacts import disk_full_cause, save_trial, set_aside_old_trials, trial_dir, trial_record
from .recovery import finish_recorded_trials, recover_storage
from .augment import make_policy
from .objectives import is_multi, score_of, should_prune_on_quality
from .objectives import values as objective_values
from .scoring import Scorer
from .translation import TranslationScorer
from .devices import WorkerSlot, plan_workers, resolve_devices
from .study import Prepared, check_output, check_workers, fingerprint, open_study, prepare, trial_seed
from .trainer import memory_format, train
from .workers import deferring_interrupts, interruptible, raise_pending, sigterm_as_interrupt, supervise

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
MAX_CONSECUTIVE_FAILURES = 5


class Objective:
    """Builds, trains and scores one trial's pair; writes its samples and generator weights."""

    def __init__(self, prepared: Prepared, device: torch.device, worker: str = "main"):
        self.p = prepared
        self.device = device
        self.worker = worker
        data = prepared.pairs.train_data() if prepared.pairs is not None else prepared.data
        self.data = data.to(device).contiguous(memory_format=memory_format(device))
        self.scorer = scorer_for(prepared, device)

    def __call__(self, trial: optuna.Trial) -> float:
        cfg = self.p.config
        seed = trial_seed(cfg.seed, trial.number)
        baseline = self.p.baseline if trial.user_attrs.get("baseline") else None
        if baseline is not None and baseline.params is None:  # outside the search space: a fixed design
            arch, spec = baseline.arch, self.p.space.train_spec(baseline.train, seed)
        else:
            arch, spec = self.p.space.suggest(trial, seed)
        trial.set_user_attr("seed", seed)
        trial.set_user_attr("worker", self.worker + (f"/{threading.current_thread().name}" if packing.packed() else ""))
        trial.set_user_attr("arch", arch.to_dict())
        trial.set_user_attr("train", spec.to_dict())
        g = None
        steps = 0
        notes = {}  # filled by the trainer: step mode, graph fallback reason, scoring time
        reported = {}  # step -> score, kept in the trial's record on disk
        state, value = TrialState.FAIL, None
        multi = is_multi(cfg)

        def on_eval(step, value):
            nonlocal steps
            steps = step
            reported[step] = value
            # a fully trained trial is complete, never pruned; nor is the baseline, every study's yardstick
            if multi:  # Optuna prunes single-objective studies only; here the median rule among cheaper trials
                trial.set_user_attr("reported", {str(k): v for k, v in reported.items()})
                prune = step < spec.steps and baseline is None and should_prune_on_quality(trial, step, value, cfg)
            else:
                trial.report(value, step)
                prune = step < spec.steps and baseline is None and trial.should_prune()
            if prune:
                trial.set_user_attr("pruned_at", step)
                raise optuna.TrialPruned(f"pruned at step {step} with score {value:.4g}")

        built = time.perf_counter()
        try:
            with interruptible():  # an interrupt is recorded as this trial's failure only from in here
                with packing.SETUP_LOCK:  # seeded from torch's global generator: one packed trial at a time
                    g, d = build_pair(arch, self.p.registry, seed)
                trial.set_user_attr("g_params", count_params(g))
                trial.set_user_attr("d_params", count_params(d))
                trial.set_user_attr("g_macs", macs(g, generator_input(arch, 1)))  # per image, before moving to the device
                trial.set_user_attr("d_macs", macs(d, discriminator_input(arch, 1)))
                layout = memory_format(self.device)
                g, d = g.to(self.device, memory_format=layout), d.to(self.device, memory_format=layout)
                notes["build_seconds"] = time.perf_counter() - built
                augment = make_policy(spec.augment, self.p.registry)
                result = train(g, d, self.data, spec, self.scorer.score, on_eval, notes, augment=augment)
                steps = result.steps
                started = time.perf_counter()
                metrics = self.scorer.evaluate_generator(g)  # every metric, with standard errors
                notes["score_seconds"] += time.perf_counter() - started
                trial.set_user_attr("g_latency_ms", round(latency_ms(g, arch, self.device), 4))
                trial.set_user_attr("latency_batch", LATENCY_BATCH)
                objective = self.p.plan.objective.name
                trial.set_user_attr("metrics", metrics)
                trial.set_user_attr("score_se", metrics[f"{objective}_se"])
                trial.set_user_attr("score", metrics[objective])
                state, value = TrialState.COMPLETE, objective_values(cfg, metrics[objective], metrics, trial.user_attrs)
                return value
        except BaseException as exc:  # recorded, then Optuna marks the trial pruned or failed
            if isinstance(exc, KeyboardInterrupt):  # Ctrl-C, or SIGTERM / the run's death (workers.py)
                trial.set_user_attr("failure", f"interrupted ({exc.args[0] if exc.args else 'Ctrl-C'})")
            elif isinstance(exc, optuna.TrialPruned):
                state = TrialState.PRUNED
            else:
                trial.set_user_attr("failure", f"{type(exc).__name__}: {exc}")
            raise
        finally:
            trial.set_user_attr("steps", steps)
            trial.set_user_attr("step_mode", notes.get("mode"))
            if notes.get("fallback"):
                trial.set_user_attr("graph_fallback", notes["fallback"])
            # where the trial's wall time went: setup (build, warm-up, capture), training, scoring, files
            trial.set_user_attr("setup_s", round(notes.get("build_seconds", 0.0) + notes.get("setup_seconds", 0.0), 4))
            trial.set_user_attr("train_s", round(notes.get("train_seconds", 0.0), 4))
            trial.set_user_attr("score_s", round(notes.get("score_seconds", 0.0), 4))
            if notes.get("precision"):
                trial.set_user_attr("train_precision", notes["precision"])
            if g is not None:
                saved = time.perf_counter()
                self._save(trial, g, state, value, reported)
                trial.set_user_attr("artifacts_s", round(time.perf_counter() - saved, 4))

    def _save(self, trial, g, state, value, reported):
        """Samples, weights and the trial's record; a trial whose artifacts cannot be written fails with
        the cause (a full disk also stops the run: see ``_work``)."""
        root = self.p.config.output_dir
        folder = trial_dir(root, trial.number)
        names = {"samples": str((folder / "samples.png").relative_to(root)),
                 "generator": str((folder / "generator.pt").relative_to(root))}
        try:
            record = {**trial_record(trial, state, value, reported, names), "fingerprint": fingerprint(self.p.config)}
            if hasattr(self.scorer, "preview"):  # a translator's grid: condition | output | target rows
                g.preview_pairs = self.scorer.preview()
            save_trial(folder, g, self.p.config.seed, record)
        except OSError as exc:
            reason = f"cannot save the trial's artifacts in {folder}: {exc.strerror or exc}"
            trial.set_user_attr("failure", reason)
            if disk_full_cause(exc) is not None:
                trial.set_user_attr("disk_full", True)
            raise ArtifactError(reason) from exc
        for key, name in names.items():
            trial.set_user_attr(key, name)


def run_study(path, n_trials: int | None = None, workers: int | str | None = None, progress: bool = True,
              entry_points: bool | None = None, out=sys.stderr, verbose: bool = False) -> optuna.Study:
    """Run (or resume) the study in ``path`` until ``n_trials`` trials have finished (complete or pruned).

    With more than one worker slot (``workers`` per device, default from the study file), each worker is
    a process pulling trials from the same Optuna storage; this process shows progress. SIGTERM stops the
    run like Ctrl-C: running trials are recorded as failed, finished ones are kept.
    """
    prepared = prepare(path, entry_points=entry_points)  # every check, before anything is written
    check_workers(prepared.config, workers or prepared.config.workers)  # what this run will start, here
    check_output(prepared.config)  # writable before anything trains
    try:
        return _run(prepared, path, n_trials, workers, progress, entry_points, out, verbose)
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


def _run(prepared, path, n_trials, workers, progress, entry_points, out, verbose):
    cfg = prepared.config
    target = n_trials or cfg.n_trials
    slots = plan_workers(resolve_devices(cfg.devices), workers or cfg.workers, cfg.trials_per_worker)
    optuna.logging.set_verbosity(optuna.logging.INFO if verbose else optuna.logging.ERROR)
    if cfg.storage is None and journal.run_holds(cfg.output_dir / "run.lock"):
        raise _already_running(cfg)  # said before the score is prepared; run_lock below decides for sure
    if progress:
        print(f"preparing the score: extractors {', '.join(prepared.plan.extractors)} (once per study; cached)",
              file=out)
    scorer_for(prepared)  # extractors built (a classifier trained) and real features cached once, for
    # every worker; an extractor that cannot be built (inception without weights) stops here, nothing written
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
    """One worker: start trials while fewer than ``target`` are finished or running (anyone's). Returns
    None when done, or why it stopped early: ``MAX_CONSECUTIVE_FAILURES`` failures in a row, or a full disk
    (which stops at once: finished trials are kept, nothing more can be saved)."""
    cfg = prepared.config
    torch.set_num_threads(slot.threads)
    if slot.device != "cpu":
        torch.cuda.set_device(slot.device)  # graphs capture on the current device's streams
        torch.set_float32_matmul_precision("high")  # TF32 for the linear layers (convs use it by default)
    study = open_study(cfg, create=True, worker=index)
    objective = Objective(prepared, torch.device(slot.device),
                          worker=f"{socket.gethostname()}:{os.getpid()}@{slot.device}")
    state = {"failures": 0, "last_failure": None, "disk_full": None}
    lock = threading.Lock()
    deadline = None if timeout is None else time.monotonic() + timeout

    def callback(study: optuna.Study, trial: optuna.trial.FrozenTrial):
        with lock:
            state["failures"] = 0 if trial.state in FINISHED else state["failures"] + 1
            if trial.state == TrialState.FAIL:
                state["last_failure"] = trial.user_attrs.get("failure", "see log")
                if trial.user_attrs.get("disk_full"):
                    state["disk_full"] = state["last_failure"]
            if bar is not None:
                _show(bar, study.get_trials(deepcopy=False), trial)

    def claimed():  # finished, plus running in any worker on any machine
        return len(study.get_trials(deepcopy=False, states=(*FINISHED, TrialState.RUNNING)))

    def loop(_=None):
        # a failed trial is recorded with its reason and the study goes on; Ctrl-C still stops it
        try:
            while (claimed() < target and state["failures"] < MAX_CONSECUTIVE_FAILURES
                   and state["disk_full"] is None):
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                study.optimize(objective, n_trials=1, timeout=left, callbacks=[callback], catch=(Exception,))
                raise_pending()  # an interrupt that came while Optuna recorded the trial
        except Exception as exc:  # the storage itself cannot be written (Optuna may wrap that in its own error)
            cause = disk_full_cause(exc)
            if cause is None:
                raise
            state["disk_full"] = f"{type(cause).__name__}: {cause}"

    with deferring_interrupts():
        if slot.trials > 1:  # several trials at once, each in its own thread and CUDA stream (packing.py)
            packing.run_packed(slot.trials, torch.device(slot.device), loop)
        else:
            loop()
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
