"""Score any images against a study's real data, on the same terms as its trials."""

from pathlib import Path

import torch

from gansearch.errors import DatasetError, StudyConfigError
from gansearch.plugins._dataset import DataRequest
from gansearch.score._scorer import JACKKNIFE_BLOCKS, Scorer
from gansearch.score._translate import TranslationScorer
from gansearch.study._prepare import prepare


def evaluate(study_file, images: torch.Tensor, device: str = "cpu") -> dict[str, float]:
    """Every metric of the study's ``score:`` on ``images``, each with its standard error (``<name>_se``).

    ``images``: a float tensor (N, C, R, R) in [-1, 1] with the study's channels and resolution. Scores
    are comparable with the study's trials when N equals ``score.samples`` (the Fréchet distance's bias
    depends on N). A translate study scores a model's outputs for its held-out conditions
    (``held_out_conditions``), in their order, against their targets.
    """
    return evaluate_prepared(prepare(study_file), images, device)


def evaluate_prepared(prepared, images: torch.Tensor, device: str = "cpu") -> dict[str, float]:
    """``evaluate`` on an already prepared study."""
    check_images(images, prepared)
    if prepared.pairs is not None:  # translate: outputs for the held-out conditions, in their order
        cond, _ = prepared.pairs.held_out_pairs()
        if len(images) != len(cond):
            raise StudyConfigError(f"a translate study scores outputs for its {len(cond)} held-out conditions "
                                   "(gansearch.results.held_out_conditions(study_file)), in order; got "
                                   f"{len(images)} images", file=prepared.config.file, key="images")
        return TranslationScorer.for_study(prepared, device).evaluate_outputs(images.float().to(device))
    return Scorer.for_study(prepared, device).evaluate(images.float())


def evaluate_folder(study_file, folder, device: str = "cpu"):
    """``evaluate`` on the PNG/JPEG files in ``folder`` (in file-name order: a translate study's outputs
    for its held-out conditions, in their order). Returns (prepared study, number of images, metrics)."""
    prepared = prepare(study_file)
    images = load_images(folder, prepared)
    return prepared, len(images), evaluate_prepared(prepared, images, device)


def held_out_conditions(study_file) -> torch.Tensor:
    """A translate study's held-out conditions (M, Cc, R, R), never trained on: translate them with any
    model and pass the outputs to ``evaluate`` to compare it with the study's trials."""
    prepared = prepare(study_file)
    if prepared.pairs is None:
        raise StudyConfigError(f"{prepared.config.file}: not a translate study (task: translate)")
    return prepared.pairs.held_out_pairs()[0]


def check_images(images, prepared) -> None:
    c = prepared.config
    channels = prepared.data.shape[1]
    expected = (channels, c.data.resolution, c.data.resolution)
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or tuple(images.shape[1:]) != expected:
        got = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise StudyConfigError(f"images must be a tensor (N, {', '.join(map(str, expected))}) for study "
                             f"{c.name!r}; got {got}")
    if not images.is_floating_point() or not torch.isfinite(images).all() or images.abs().max() > 1.0001:
        raise StudyConfigError("images must be finite floats in [-1, 1]")
    if len(images) < 2 * JACKKNIFE_BLOCKS and prepared.pairs is None:
        raise StudyConfigError(f"need at least {2 * JACKKNIFE_BLOCKS} images to score; got {len(images)}")


def load_images(folder, prepared) -> torch.Tensor:
    """PNG/JPEG files under ``folder``, read like the ``folder`` dataset reads real images (short side
    resized to the study's resolution, centre crop, the study's channels)."""
    c = prepared.config
    request = DataRequest(c.data.resolution, prepared.data.shape[1], c.seed, {"path": str(folder), "on_error": "fail"},
                          Path.cwd())  # images to score: an unreadable one is an error, not skipped
    try:
        return prepared.registry.dataset("folder").load(request)
    except DatasetError as exc:
        raise StudyConfigError(str(exc).replace("folder dataset: path ", "").replace("folder dataset: ", ""),
                               file=c.file, key="--images") from None
