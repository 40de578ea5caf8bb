"""The run's progress: a bar on a terminal, a line per finished trial anywhere else (a log, a pipe, CI),
where a bar's redraws would write hundreds of lines."""

from optuna.trial import TrialState
from tqdm.auto import tqdm

from gansearch.search._objectives import score_of

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


class LineProgress:
    """What a bar shows, as a line per finished trial (the part of tqdm's interface a run uses)."""

    def __init__(self, total: int, initial: int, desc: str, out):
        self.total, self.n, self.desc, self.out = total, initial, desc, out
        self.postfix = ""

    def update(self, finished: int) -> None:
        for _ in range(finished):
            self.n += 1
            print(f"{self.desc}: {self.n}/{self.total} trials finished" + (f"; {self.postfix}" if self.postfix else ""),
                  file=self.out, flush=True)

    def set_postfix_str(self, text: str) -> None:
        self.postfix = text

    def write(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def close(self) -> None:
        pass


def progress_bar(total: int, initial: int, desc: str, out, enabled: bool = True):
    """A tqdm bar when ``out`` is a terminal, else ``LineProgress``; nothing shown when not ``enabled``."""
    if enabled and not (hasattr(out, "isatty") and out.isatty()):
        return LineProgress(total, initial, desc, out)
    return tqdm(total=total, initial=initial, desc=desc, unit="trial", file=out, disable=not enabled,
                dynamic_ncols=True)


def show(bar, trials, trial=None):
    values = [score_of(t) for t in trials if t.state == TrialState.COMPLETE]
    bar.set_postfix_str(f"best {min(values):.4g}" if values else "no complete trial yet")
    done = sum(t.state in FINISHED for t in trials)
    if done > bar.n:
        bar.update(done - bar.n)
    if trial is not None and trial.state == TrialState.FAIL:
        bar.write(f"trial {trial.number} failed: {trial.user_attrs.get('failure', 'see log')}")
