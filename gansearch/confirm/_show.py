"""A confirmation as text: the table ``gansearch confirm`` prints and how to read it."""

import math

from gansearch.confirm._statistics import Summary, tie


def _num(value, digits: int = 4) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}g}"


def _pm(mean, sd) -> str:
    return _num(mean) + ("" if sd is None else f" ± {sd:.2g}")


def _interval(ci) -> str:
    low, high = ci
    return "[-]" if math.isnan(low) else f"[{low:.2f}, {high:.2f}]"


def confirmation_text(summary: Summary, search_steps: int) -> str:
    """The confirmed ranking (objective and every metric, mean ± sd over seeds), the rank correlations with
    their intervals, and whether the search's best stayed the best."""
    steps = summary.steps or 0
    lines = [f"confirmed {len(summary.rows)} architectures x {summary.seeds} seeds at {steps} steps "
             f"({steps / search_steps:.3g}x the search's {search_steps}); lower is better:"]
    head = f"{'rank':>4} {'trial':>6} {'':<9} {'search score':>17} {'confirmed (mean ± sd)':>23} {'tie':>3} {'seeds':>6}"
    lines.append(head)
    first = summary.row(summary.confirmed_best) if summary.confirmed_best is not None else None
    for r in summary.rows:
        seeds = f"{r.seeds}/{r.seeds + r.failed}"
        tied = "tie" if first is not None and r.score is not None and tie(r, first) else ""
        lines.append(f"{r.rank or '-':>4} {r.number:>6} {('baseline' if r.baseline else ''):<9} "
                     f"{_pm(r.search_score, r.search_se):>17} {_pm(r.score, r.sd):>23} {tied:>3} {seeds:>6}"
                     + (f"  ({r.failed} diverged)" if r.failed else ""))
    names = [k for k in (summary.rows[0].metrics if summary.rows else {})]
    if names:
        lines.append("every metric, mean ± sd over seeds:")
        lines.append(f"{'trial':>6} " + " ".join(f"{n:>16}" for n in names))
        for r in summary.rows:
            lines.append(f"{r.number:>6} " + " ".join(f"{_pm(*r.metrics.get(n, (None, None))):>16}" for n in names))
    lines.append(f"search score against confirmed mean, over {sum(r.score is not None for r in summary.rows)} "
                 f"architectures: Spearman {_num(summary.spearman, 2)} {_interval(summary.spearman_ci)}, "
                 f"Kendall {_num(summary.kendall, 2)} {_interval(summary.kendall_ci)} (95% bootstrap intervals)")
    if summary.seed_agreement == summary.seed_agreement:  # not nan
        lines.append(f"one seed against the others' mean, at the longer budget: Spearman "
                     f"{_num(summary.seed_agreement, 2)} (how far any single run can order these architectures)")
    best, search = summary.row(summary.confirmed_best), summary.row(summary.search_best)
    if best is not None and search is not None:
        if summary.best_holds == "same":
            verdict = f"the search's best, trial {search.number}, is the confirmed best"
        elif summary.best_holds == "within noise":
            verdict = (f"the search's best, trial {search.number} ({_pm(search.score, search.sd)}), is within noise "
                       f"of the confirmed best, trial {best.number} ({_pm(best.score, best.sd)})")
        else:
            verdict = (f"the search's best, trial {search.number} ({_pm(search.score, search.sd)}), is NOT the "
                       f"confirmed best: trial {best.number} ({_pm(best.score, best.sd)}) is, beyond noise")
        lines.append(verdict)
    return "\n".join(lines)
