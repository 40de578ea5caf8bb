"""``gansearch run``: the Optuna objective, resume, progress and per-trial artifacts."""

import contextlib
import fcntl
import multiprocessing as mp
import os
import socket
import sys
import time
from pathlib import Path

import optuna
import torch
from optuna.trial import TrialState
from tqdm.auto import tqdm

from .builder import build_pair, count_params
from .errors import GansearchError
from .images import save_samples
from .scoring import Scorer
from .devices import WorkerSlot, plan_workers, resolve_devices
from .study import Prepared, open_study, prepare, trial_seed
from .trainer import memory_format, train

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
MAX_CONSECUTIVE_FAILURES = 5


def trial_dir(output_dir: Path, number: int) -> Path:
    return output_dir / "trials" / f"{number:05d}"


class Objective:
    """Builds, trains and scores one trial's pair; writes its samples and generator weights."""

    def __init__(self, prepared: Prepared, device: torch.device, worker: str = "main"):
        self.p = prepared
        self.device = device
        self.worker = worker
        cfg = prepared.config
        self.data = prepared.data.to(device).contiguous(memory_format=memory_format(device))
        self.scorer = Scorer.for_study(prepared, device)

    def __call__(self, trial: optuna.Trial) -> float:
        cfg = self.p.config
        seed = trial_seed(cfg.seed, trial.number)
        baseline = self.p.baseline if trial.user_attrs.get("baseline") else None
        if baseline is not None and baseline.params is None:  # outside the search space: a fixed design
            arch, spec = baseline.arch, self.p.space.train_spec(baseline.train, seed)
        else:
            arch, spec = self.p.space.suggest(trial, seed)
        trial.set_user_attr("seed", seed)
        trial.set_user_attr("worker", self.worker)
        trial.set_user_attr("arch", arch.to_dict())
        trial.set_user_attr("train", spec.to_dict())
        g = None
        steps = 0
        notes = {}  # filled by the trainer: step mode, graph fallback reason, scoring time

        def on_eval(step, value):
            nonlocal steps
            steps = step
            trial.report(value, step)
            # a fully trained trial is complete, never pruned; nor is the baseline, every study's yardstick
            if step < spec.steps and baseline is None and trial.should_prune():
                trial.set_user_attr("pruned_at", step)
                raise optuna.TrialPruned(f"pruned at step {step} with score {value:.4g}")

        try:
            g, d = build_pair(arch, self.p.registry, seed)
            trial.set_user_attr("g_params", count_params(g))
            trial.set_user_attr("d_params", count_params(d))
            layout = memory_format(self.device)
            g, d = g.to(self.device, memory_format=layout), d.to(self.device, memory_format=layout)
            result = train(g, d, self.data, spec, self.scorer.score, on_eval, notes)
            steps = result.steps
            started = time.perf_counter()
            metrics = self.scorer.evaluate_generator(g)  # every metric, with standard errors
            notes["score_seconds"] += time.perf_counter() - started
            objective = self.p.plan.objective.name
            trial.set_user_attr("metrics", metrics)
            trial.set_user_attr("score_se", metrics[f"{objective}_se"])
            return metrics[objective]
        except BaseException as exc:  # recorded, then Optuna marks the trial pruned or failed
            if isinstance(exc, KeyboardInterrupt):
                trial.set_user_attr("failure", "interrupted (Ctrl-C)")
            elif not isinstance(exc, optuna.TrialPruned):
                trial.set_user_attr("failure", f"{type(exc).__name__}: {exc}")
            raise
        finally:
            trial.set_user_attr("steps", steps)
            trial.set_user_attr("step_mode", notes.get("mode"))
            if notes.get("fallback"):
                trial.set_user_attr("graph_fallback", notes["fallback"])
            trial.set_user_attr("score_s", round(notes.get("score_seconds", 0.0), 4))
            if g is not None:
                self._save(trial, g, trial_dir(cfg.output_dir, trial.number))

    def _save(self, trial, g, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        samples = save_samples(g, folder / "samples.png", seed=self.p.config.seed)
        weights = folder / "generator.pt"
        torch.save(g.state_dict(), weights)
        root = self.p.config.output_dir
        trial.set_user_attr("samples", str(samples.relative_to(root)))
        trial.set_user_attr("generator", str(weights.relative_to(root)))


def run_study(path, n_trials: int | None = None, workers: int | str | None = None, progress: bool = True,
              entry_points: bool | None = None, out=sys.stderr, verbose: bool = False) -> optuna.Study:
    """Run (or resume) the study in ``path`` until ``n_trials`` trials have finished (complete or pruned).

    With more than one worker slot (``workers`` per device, default from the study file), each worker is
    a process pulling trials from the same Optuna storage; this process shows progress.
    """
    prepared = prepare(path, entry_points=entry_points)  # every check, before anything is written
    cfg = prepared.config
    target = n_trials or cfg.n_trials
    slots = plan_workers(resolve_devices(cfg.devices), workers or cfg.workers)
    optuna.logging.set_verbosity(optuna.logging.INFO if verbose else optuna.logging.ERROR)
    if progress:
        print(f"preparing the score: extractors {', '.join(prepared.plan.extractors)} (once per study; cached)",
              file=out)
    Scorer.for_study(prepared)  # extractors built (a classifier trained) and real features cached once, for
    # every worker; an extractor that cannot be built (inception without weights) stops here, nothing written
    with run_lock(cfg):
        study = open_study(cfg, create=True)
        fail_interrupted_trials(study, cfg)
        enqueue_baseline(study, prepared)
        finished = len(study.get_trials(deepcopy=False, states=FINISHED))
        if finished >= target:
            return study
        bar = tqdm(total=target, initial=finished, desc=cfg.name, unit="trial", file=out, disable=not progress,
                   dynamic_ncols=True)
        try:
            if len(slots) == 1:  # in this process: leave its torch thread count as it was
                threads = torch.get_num_threads()
                try:
                    failures = _work(prepared, slots[0], 0, target, cfg.timeout, bar)
                finally:
                    torch.set_num_threads(threads)
            else:
                failures = _supervise(path, entry_points, cfg, slots, target, bar, verbose)
        finally:
            bar.close()
    if failures:
        raise GansearchError(f"{MAX_CONSECUTIVE_FAILURES} trials in a row failed; last: {failures}")
    return open_study(cfg, create=False)


def enqueue_baseline(study: optuna.Study, prepared: Prepared) -> None:
    """A new study's trial 0 is the hand design (``baseline:``), trained like every other trial; it is
    enqueued again if an interrupted run left it failed."""
    baseline = prepared.baseline
    if baseline is None:
        return
    alive = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.WAITING, TrialState.RUNNING)
    if any(t.user_attrs.get("baseline") for t in study.get_trials(deepcopy=False, states=alive)):
        return
    study.enqueue_trial(baseline.params or {}, user_attrs={"baseline": baseline.name})


def _work(prepared: Prepared, slot: WorkerSlot, index: int, target: int, timeout, bar=None) -> str | None:
    """One worker: start trials while fewer than ``target`` are finished or running (anyone's), and stop
    after ``MAX_CONSECUTIVE_FAILURES`` failures in a row; returns the last failure reason in that case."""
    cfg = prepared.config
    torch.set_num_threads(slot.threads)
    if slot.device != "cpu":
        torch.cuda.set_device(slot.device)  # graphs capture on the current device's streams
        torch.set_float32_matmul_precision("high")  # TF32 for the linear layers (convs use it by default)
    study = open_study(cfg, create=True, worker=index)
    objective = Objective(prepared, torch.device(slot.device),
                          worker=f"{socket.gethostname()}:{os.getpid()}@{slot.device}")
    failures = 0
    last_failure = None
    deadline = None if timeout is None else time.monotonic() + timeout

    def callback(study: optuna.Study, trial: optuna.trial.FrozenTrial):
        nonlocal failures, last_failure
        failures = 0 if trial.state in FINISHED else failures + 1
        if trial.state == TrialState.FAIL:
            last_failure = trial.user_attrs.get("failure", "see log")
        if bar is not None:
            _show(bar, study.get_trials(deepcopy=False), trial)

    def claimed():  # finished, plus running in any worker on any machine
        return len(study.get_trials(deepcopy=False, states=(*FINISHED, TrialState.RUNNING)))

    # a failed trial is recorded with its reason and the study goes on; Ctrl-C still stops it
    while claimed() < target and failures < MAX_CONSECUTIVE_FAILURES:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            break
        study.optimize(objective, n_trials=1, timeout=left, callbacks=[callback], catch=(Exception,))
    return last_failure if failures >= MAX_CONSECUTIVE_FAILURES else None


def _show(bar, trials, trial=None):
    done = sum(t.state in FINISHED for t in trials)
    if done > bar.n:
        bar.update(done - bar.n)
    values = [t.value for t in trials if t.state == TrialState.COMPLETE]
    bar.set_postfix_str(f"best {min(values):.4g}" if values else "no complete trial yet")
    if trial is not None and trial.state == TrialState.FAIL:
        bar.write(f"trial {trial.number} failed: {trial.user_attrs.get('failure', 'see log')}")


def _worker_main(path, entry_points, slot, index, target, timeout, verbose, queue):
    """Entry point of a worker process (spawned: safe with CUDA and with torch's thread pools)."""
    optuna.logging.set_verbosity(optuna.logging.INFO if verbose else optuna.logging.ERROR)
    try:
        queue.put((index, _work(prepare(path, entry_points=entry_points), slot, index, target, timeout)))
    except KeyboardInterrupt:
        queue.put((index, None))
    except BaseException as exc:  # noqa: BLE001 - reported by the supervisor, one line
        queue.put((index, f"worker {index} on {slot.device} stopped: {type(exc).__name__}: {exc}"))


def _supervise(path, entry_points, cfg, slots, target, bar, verbose) -> str | None:
    """Start one process per worker slot, show progress from the storage, and wait for them."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker_main, args=(str(path), entry_points, slot, i, target, cfg.timeout, verbose,
                                                    queue), daemon=False)
             for i, slot in enumerate(slots)]
    for proc in procs:
        proc.start()
    study = open_study(cfg, create=False)
    seen_failed = set()
    results = {}
    try:
        while len(results) < len(procs):
            while not queue.empty():
                index, result = queue.get()
                results[index] = result
            if len(results) < len(procs) and not any(p.is_alive() for p in procs) and queue.empty():
                break
            trials = study.get_trials(deepcopy=False)
            _show(bar, trials)
            for t in trials:
                if t.state == TrialState.FAIL and t.number not in seen_failed:
                    seen_failed.add(t.number)
                    bar.write(f"trial {t.number} failed: {t.user_attrs.get('failure', 'see log')}")
            time.sleep(0.5)
        _show(bar, study.get_trials(deepcopy=False))
    except KeyboardInterrupt:  # the workers got the same SIGINT: let them record their trials as failed
        for proc in procs:
            proc.join(timeout=30)
        raise
    finally:
        for proc in procs:
            proc.join(timeout=60)
            if proc.is_alive():
                proc.terminate()
    errors = [r for r in results.values() if r]
    crashed = [i for i, p in enumerate(procs) if p.exitcode not in (0, None) and i not in results]
    if crashed:
        errors.append(f"worker {crashed[0]} died (exit code {procs[crashed[0]].exitcode})")
    return errors[0] if errors else None


@contextlib.contextmanager
def run_lock(cfg):
    """One ``gansearch run`` per study and machine for the default journal storage, so trials left
    RUNNING by a killed run can safely be marked failed."""
    if cfg.storage is not None:  # RDB storages use heartbeats instead
        yield
        return
    cfg.output_dir.mkdir(parents=True, exist_ok=True)
    with open(cfg.output_dir / "run.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise GansearchError(f"{cfg.file}: another `gansearch run` is running this study "
                                 f"(lock {cfg.output_dir / 'run.lock'}); add workers with `workers:` instead") from None
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def fail_interrupted_trials(study, cfg):
    """Trials still RUNNING from a run that was killed: mark them failed, with the reason."""
    if cfg.storage is not None:
        return
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        optuna.Trial(study, t._trial_id).set_user_attr("failure", "interrupted: the run was killed mid-trial")
        study.tell(t.number, state=TrialState.FAIL)
