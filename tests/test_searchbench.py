"""gansearch bench-search: its studies are valid, and its verdicts follow the issue's three claims."""

import pytest

from gansearch.bench import VARIANTS
from gansearch.bench._search_bench import checks, format_report, write_studies
from gansearch.study import prepare


def test_every_benchmark_study_is_a_valid_study_with_the_same_budget(tmp_path):
    studies = write_studies(tmp_path, ["digits16", "shapes32"], [0, 1], 30, "cpu", 1)
    assert len(studies) == 2 * 2 * len(VARIANTS)
    for suite, seed, variant, path in studies:
        prepared = prepare(path, load_data=False)
        c = prepared.config
        assert c.n_trials == 30 and c.seed == seed and c.baseline == "dcgan"
        assert (c.sampler, c.pruner) == VARIANTS[variant]
        assert c.train.steps == (300 if suite == "digits16" else 400)


def row(variant, best, steps, seed=0, baseline=1.0, se=0.01, clf=(1.0, 2.0), found_at=29):
    """A study of 30 trials of equal steps whose best trial is number ``found_at`` (the others score 2.0)."""
    trajectory = [[steps // 30, best if i == found_at else 2.0, se] for i in range(30)]
    return dict(suite="s", seed=seed, variant=variant, trials=30, best=best, best_se=se, baseline=baseline,
                baseline_se=se, best_classifier_fd=clf[0], baseline_classifier_fd=clf[1], steps=steps,
                trajectory=trajectory)


@pytest.mark.parametrize("tpe, rnd, pruned, pruned_steps, verdicts", [
    (0.7, 0.75, 0.71, 4000, (True, True, True)),  # everything holds
    (0.85, 0.75, 0.86, 4000, (False, False, True)),  # not 0.8x the baseline; random search better
    (0.7, 0.75, 0.79, 4000, (True, True, False)),  # pruning lost the best (0.09 > 2 standard errors)
    (0.7, 0.75, 0.7, 6000, (True, True, False)),  # pruning saved too little: the best came last
    (0.7, 0.75, 0.7, (6000, 9), (True, True, True)),  # found after a third of its 6000 steps: 2000 of 9000
])
def test_checks_apply_the_three_claims(tpe, rnd, pruned, pruned_steps, verdicts):
    pruned_steps, found_at = pruned_steps if isinstance(pruned_steps, tuple) else (pruned_steps, 29)
    rows = [row("tpe", tpe, 9000), row("random", rnd, 9000), row("tpe+median", pruned, pruned_steps, found_at=found_at),
            row("tpe+sha", pruned, pruned_steps, found_at=found_at)]
    (result,) = checks(rows)
    assert (result["a_pass"], result["b_pass"], result["c_pruning"]["tpe+median"]["pass"]) == verdicts
    report = format_report({"rows": rows, "checks": [result]})
    assert report.count("PASS") + report.count("FAIL") == 4 and report.count("PASS") >= sum(verdicts)


def test_a_worse_classifier_fd_fails_claim_a():
    rows = [row("tpe", 0.5, 9000), row("random", 0.6, 9000), row("tpe+median", 0.5, 4000, clf=(3.0, 2.0)),
            row("tpe+sha", 0.5, 4000)]
    assert not checks(rows)[0]["a_pass"]


def test_the_proxy_benchmark_searches_with_the_default_settings_and_reports_per_seed_and_overall(tmp_path):
    import yaml

    from gansearch.bench._confirm_bench import format_report as proxy_report
    from gansearch.bench._confirm_bench import study_dict, summarise
    from gansearch.config import TrainSpace

    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(study_dict("digits16", 1, 30, "cpu", "auto")))
    c = prepare(path, load_data=False).config
    assert (c.sampler, c.pruner, c.n_trials, c.seed) == ("tpe", "median", 30, 1)
    assert (c.train.steps, c.train.eval_every) == (TrainSpace.steps, TrainSpace.eval_every)  # the defaults
    rows = [{"suite": "digits16", "seed": s, "spearman": v, "spearman_ci": [v - 0.3, 1.0], "kendall": v - 0.1,
             "kendall_ci": [0.0, 1.0], "best_holds": h, "search_best": 3, "confirmed_best": 3, "seed_agreement": a}
            for s, v, h, a in [(0, 0.9, "same", 0.2), (1, 0.5, "no", float("nan")), (2, 0.7, "within noise", 0.4)]]
    rows.append({"suite": "digits16", "seed": 3, "error": "run: timed out"})
    summary = summarise(rows)
    assert summary == [{"suite": "digits16", "studies": 3, "spearman_mean": pytest.approx(0.7),
                        "kendall_mean": pytest.approx(0.6), "seed_agreement_mean": pytest.approx(0.3),
                        "best_holds": 2}]
    table = proxy_report({"rows": rows, "summary": summary})
    assert "| digits16 | 1 | 0.50 [0.20, 1.00] |" in table and "| **digits16** | mean of 3 | **0.70** |" in table
    assert "| 0.20 | same (#3 vs #3) |" in table and "| 0.60 | 0.30 | 2 of 3 |" in table
    assert "run: timed out" in table
