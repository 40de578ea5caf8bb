"""Networks: the plain, serialisable description of a trial's pair (``ArchSpec``, ``TrainSpec``), the
builder that turns it into shape-checked modules, what a generator costs (MACs, latency), and exporting
one to plain PyTorch, TorchScript or ONNX.
"""
from gansearch.nets._builder import (
    Discriminator, Generator, Translator, build_layer, build_pair, count_params, dcgan_init, preflight_blocks,
    translate, upsampling_layers,
)
from gansearch.nets._costs import LATENCY_BATCH, discriminator_input, generator_input, latency_ms, macs
from gansearch.nets._export import FORMATS, export_generator, pytorch_source
from gansearch.nets._spec import ArchSpec, LayerSpec, NetSpec, TrainSpec

__all__ = ['ArchSpec', 'Discriminator', 'FORMATS', 'Generator', 'LATENCY_BATCH', 'LayerSpec', 'NetSpec', 'TrainSpec', 'Translator', 'build_layer', 'build_pair', 'count_params', 'dcgan_init', 'discriminator_input', 'export_generator', 'generator_input', 'latency_ms', 'macs', 'preflight_blocks', 'pytorch_source', 'translate', 'upsampling_layers']
