import pytest
import torch
import torch.nn as nn

from gansearch.errors import TrialDiverged
from gansearch.nets import TrainSpec
from gansearch.train import d_loss, g_loss, plan_workers, resolve_devices, train


class TinyG(nn.Module):
    latent_dim = 4

    def __init__(self, poison=False):
        super().__init__()
        self.net = nn.Linear(4, 16)
        self.poison = poison

    def forward(self, z):
        x = torch.tanh(self.net(z)).view(-1, 1, 4, 4)
        return x * float("nan") if self.poison else x


def spec(**kw):
    base = dict(steps=25, eval_every=10, batch_size=8, lr_g=1e-3, lr_d=1e-3, beta1=0.5, beta2=0.999, loss="ns",
                d_steps=1, seed=0)
    return TrainSpec(**{**base, **kw})


def make_d():
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 1), nn.Flatten(0))


def test_scores_every_eval_every_steps_and_at_the_end():
    seen = []
    result = train(TinyG(), make_d(), torch.rand(32, 1, 4, 4) * 2 - 1, spec(d_steps=2), lambda g: 1.0,
                   lambda step, value: seen.append(step))
    assert seen == [10, 20, 25] and result.steps == 25 and result.history[-1] == (25, 1.0)


def test_training_moves_both_networks_and_is_reproducible():
    def run():
        torch.manual_seed(0)
        g, d = TinyG(), make_d()
        before = g.net.weight.clone(), d[1].weight.clone()
        train(g, d, torch.rand(32, 1, 4, 4) * 2 - 1, spec(), lambda g: 0.0)
        assert not torch.equal(before[0], g.net.weight) and not torch.equal(before[1], d[1].weight)
        return g.net.weight

    assert torch.equal(run(), run())


def test_non_finite_loss_is_a_diverged_trial():
    with pytest.raises(TrialDiverged, match="non-finite loss at step 10"):
        train(TinyG(poison=True), make_d(), torch.zeros(8, 1, 4, 4), spec(), lambda g: 0.0)


def test_losses_match_their_definitions():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    softplus = torch.nn.functional.softplus
    assert d_loss("ns", real, fake) == pytest.approx(float(softplus(-real).mean() + softplus(fake).mean()))
    assert d_loss("hinge", real, fake) == pytest.approx(float((1 - real).clamp(min=0).mean()
                                                              + (1 + fake).clamp(min=0).mean()))
    assert g_loss("hinge", fake) == pytest.approx(1.25)
    assert g_loss("ns", fake) == pytest.approx(float(softplus(-fake).mean()))


def test_auto_devices_are_the_gpus_only_when_present():
    expected = [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else ["cpu"]
    assert resolve_devices("auto") == expected
    assert resolve_devices("cuda") == ["cuda:0"] and resolve_devices(["cpu"]) == ["cpu"]


def test_auto_workers_on_cpu_are_one_single_threaded_process_per_core(monkeypatch):
    monkeypatch.setattr("gansearch.train._devices.host_cores", lambda: 4)
    assert [(s.device, s.threads) for s in plan_workers(["cpu"], "auto")] == [("cpu", 1)] * 4
    assert [(s.device, s.threads) for s in plan_workers(["cpu"], 1)] == [("cpu", 4)]
    assert [(s.device, s.threads) for s in plan_workers(["cpu"], 2)] == [("cpu", 2)] * 2


def test_bf16_runs_the_forward_passes_under_autocast_and_keeps_fp32_weights():
    seen = {}

    class Probe(TinyG):
        def forward(self, z):
            out = super().forward(z)
            seen.setdefault("dtype", self.net(z).dtype)  # what a layer computes in, inside the step
            return out

    g, d = Probe(), make_d()
    notes = {}
    train(g, d, torch.rand(32, 1, 4, 4) * 2 - 1, spec(precision="bf16"), lambda g: 1.0, notes=notes)
    assert seen["dtype"] == torch.bfloat16 and notes["precision"] == "bf16"
    assert all(p.dtype == torch.float32 for p in [*g.parameters(), *d.parameters()])


@pytest.mark.parametrize("precision, expected", [("auto", "fp32"), ("fp32", "fp32"), ("tf32", "tf32")])
def test_precision_is_recorded_and_auto_is_fp32_on_the_cpu(precision, expected):
    notes = {}
    g = TinyG()
    train(g, make_d(), torch.rand(32, 1, 4, 4) * 2 - 1, spec(precision=precision), lambda g: 1.0, notes=notes)
    assert notes["precision"] == expected


def test_a_trial_says_where_its_time_went():
    notes = {}
    result = train(TinyG(), make_d(), torch.rand(32, 1, 4, 4) * 2 - 1, spec(steps=200, eval_every=50),
                   lambda g: (__import__("time").sleep(0.02), 1.0)[1], notes=notes)
    assert result.score_seconds >= 4 * 0.02 and result.setup_seconds >= 0 and result.train_seconds > 0
    assert notes["train_seconds"] == result.train_seconds
