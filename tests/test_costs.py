"""Cost columns (issue 10): MACs per image from PyTorch's flop counter, inference latency per batch."""

import torch
import torch.nn as nn

import gansearch
from gansearch.nets import LATENCY_BATCH, latency_ms, macs


def test_macs_of_a_conv_and_a_linear_layer_are_what_arithmetic_says():
    conv = nn.Conv2d(3, 8, 3, padding=1)  # per output pixel: 8 outputs x 3 x 3 x 3 MACs
    assert macs(conv, torch.zeros(1, 3, 16, 16)) == 16 * 16 * 8 * 27
    assert macs(nn.Linear(10, 4), torch.zeros(1, 10)) == 40


def test_latency_is_a_positive_median_in_milliseconds():
    from gansearch.bench import dcgan_spec
    from gansearch.nets import build_pair
    from gansearch.plugins import load_registry

    spec = dcgan_spec(16, 8)
    g, _ = build_pair(spec, load_registry(entry_points=False), 0)
    assert 0 < latency_ms(g, spec, torch.device("cpu")) < 10_000 and LATENCY_BATCH == 64


def test_every_trial_records_its_generator_and_discriminator_costs(finished_study):
    path = finished_study
    df = gansearch.trials_dataframe(path)
    assert (df["g_macs"] > 0).all() and (df["d_macs"] > 0).all() and (df["g_latency_ms"] > 0).all()
    assert (df["latency_batch"] == LATENCY_BATCH).all()
    g = gansearch.load_generator(path, number=1)
    assert df.set_index("number").loc[1, "g_macs"] == macs(g, torch.zeros(1, g.latent_dim))
