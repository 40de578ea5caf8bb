"""The report's figures that look inside generators: the latent space, power spectra, checkerboard artifacts
per upsampling block, and whether the short training predicts the long one (``gansearch confirm``)."""

import base64
import html
import io
import math

import pandas as pd
import torch

from gansearch.builtin.spectral import RadialSpectrum
from gansearch.data._images import to_grid, with_row_labels
from gansearch.nets._spec import ArchSpec

INTERPOLATION_ROWS, INTERPOLATION_STEPS = 5, 9  # rows of slerp between two latents, images per row
SPECTRUM_SAMPLES = 512  # generated images per spectrum
SPECTRUM_TRIALS = 3  # best trials whose spectra are drawn


def png_uri(image) -> str:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def figure_uri(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def img(uri: str, alt: str, cls: str = "plot") -> str:
    return f'<img class="{cls}" src="{uri}" alt="{html.escape(alt)}">'


# -- the latent space -----------------------------------------------------------------------------------------


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between latents z0 and z1 (D,) at each t in [0, 1] -> (T, D): the path that
    keeps a Gaussian latent's norm typical (White 2016), where a straight line would pass near the origin."""
    omega = torch.arccos((z0 / z0.norm() * z1 / z1.norm()).sum().clamp(-1, 1))
    if omega.abs() < 1e-6:
        return z0 + t[:, None] * (z1 - z0)
    return (torch.sin((1 - t) * omega)[:, None] * z0 + torch.sin(t * omega)[:, None] * z1) / torch.sin(omega)


@torch.no_grad()
def interpolation_grid(generator, rows: int = INTERPOLATION_ROWS, steps: int = INTERPOLATION_STEPS):
    """Rows of images along the spherical path between two random latents, each row from its own fixed seed
    (the same rows for every trial and every report)."""
    generator.eval()
    t = torch.linspace(0, 1, steps)
    z = []
    for row in range(rows):
        g = torch.Generator().manual_seed(row)
        ends = torch.randn(2, generator.latent_dim, generator=g)
        z.append(slerp(ends[0], ends[1], t))
    images = generator(torch.cat(z))
    return with_row_labels(to_grid(images, columns=steps), tuple(f"seed {r}" for r in range(rows)))


def latent_section(generator, number: int, which: str = "the best") -> str:
    grid = interpolation_grid(generator)
    return (f"<p>Trial {number}, {which}: each row walks from one random latent to another along the sphere "
            "(spherical interpolation, fixed seeds). Smooth changes mean a smooth latent space; a row that jumps "
            "or repeats one image shows where it is not (or mode collapse).</p>"
            + img(png_uri(grid), "latent interpolations", "samples"))


# -- power spectra and checkerboard artifacts ---------------------------------------------------------------


@torch.no_grad()
def mean_log_spectrum(images: torch.Tensor) -> torch.Tensor:
    """Azimuthally averaged log power per radius 1.. (``gansearch.builtin.spectral``), over the images."""
    radial = RadialSpectrum()
    power = torch.cat([radial(images[i:i + 256]) for i in range(0, len(images), 256)])
    return torch.log10(power.double().mean(0) + 1e-10)


def spectra_plot(real: torch.Tensor, generators: list[tuple[int, torch.nn.Module]]) -> str:
    """The mean spectrum of the real data and of the best trials' samples."""
    import matplotlib.pyplot as plt

    side = real.shape[-1]
    fig, ax = plt.subplots(figsize=(7, 3.4))
    radii = torch.arange(1, len(mean_log_spectrum(real[:8])) + 1) / side  # cycles per pixel
    ax.plot(radii, mean_log_spectrum(real[:2048]), color="black", linewidth=2, label="real data")
    for number, g in generators:
        g.eval()
        with torch.no_grad():
            images = g(torch.randn(SPECTRUM_SAMPLES, g.latent_dim, generator=torch.Generator().manual_seed(0)))
        ax.plot(radii, mean_log_spectrum(images), label=f"trial {number}")
    ax.axvline(0.5, color="#999", linewidth=0.8, linestyle=":")
    ax.set_xlabel("spatial frequency (cycles per pixel; 0.5 is Nyquist, beyond it the corners)")
    ax.set_ylabel("log10 mean power")
    ax.legend(fontsize=8)
    ax.set_title("Mean power spectrum: real data and the best trials")
    return img(figure_uri(fig), "power spectra")


def upsampling_rows(trials, registry) -> pd.DataFrame:
    """One row per upsampling layer of each complete trial with a ``checkerboard`` score: its block, kernel,
    stride and the trial's score."""
    rows = []
    for t in trials:
        score = (t.user_attrs.get("metrics") or {}).get("checkerboard")
        arch = t.user_attrs.get("arch")
        if t.state.name != "COMPLETE" or score is None or not arch:
            continue
        for layer in ArchSpec.from_dict(arch).generator.layers:
            if layer.stride > 1 and layer.block in registry.blocks and registry.block(layer.block).scale == "up":
                rows.append({"trial": t.number, "block": layer.block, "kernel": layer.kernel,
                             "stride": layer.stride, "checkerboard": float(score)})
    return pd.DataFrame(rows, columns=["trial", "block", "kernel", "stride", "checkerboard"])


def checkerboard_section(trials, registry) -> str:
    """``checkerboard`` per upsampling block and kernel size, over the trials that use them."""
    import matplotlib.pyplot as plt

    rows = upsampling_rows(trials, registry)
    if rows.empty:
        return "<p>No complete trial with a <code>checkerboard</code> score and an upsampling layer.</p>"
    groups = rows.groupby(["block", "kernel"])["checkerboard"]
    table = groups.agg(["mean", "std", "count"]).reset_index()
    table["se"] = table["std"] / table["count"].pow(0.5)
    labels = [f"{b} k{k}" for b, k in zip(table["block"], table["kernel"])]
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(table) + 1.2))
    ax.barh(labels, table["mean"], xerr=table["se"].fillna(0), color="#9467bd")
    ax.set_xlabel("checkerboard (excess log power at the layers' frequencies; mean ± se over trials)")
    ax.set_title("Checkerboard artifacts per upsampling block and kernel")
    body = "".join(f"<tr><td>{html.escape(str(b))}</td><td>k{k}</td><td>{m:.3g}</td><td>"
                   f"{'-' if s != s else f'{s:.2g}'}</td><td>{int(n)}</td></tr>"
                   for b, k, m, s, n in zip(table["block"], table["kernel"], table["mean"], table["se"], table["count"]))
    return (img(figure_uri(fig), "checkerboard per upsampling block and kernel")
            + "<p class='meta'>A trial counts once for each upsampling layer it has, so a trial mixing blocks counts "
            "for each: read it as a tendency, not a controlled comparison.</p>"
            "<table><tr><th>block</th><th>kernel</th><th>checkerboard</th><th>± se</th><th>layers</th></tr>"
            f"{body}</table>")


# -- does the short training predict the long one? ----------------------------------------------------------


def confirmation_section(summary, output_dir) -> str:
    """Search score against confirmed score with error bars, the rank correlations, and the winners' samples."""
    import matplotlib.pyplot as plt

    if summary is None:
        return ("<p>Not confirmed yet: <code>gansearch confirm STUDY.yaml</code> retrains the best architectures "
                "and the baseline longer, with several seeds.</p>")
    scored = [r for r in summary.rows if r.score is not None]
    fig, ax = plt.subplots(figsize=(6, 4))
    for r in scored:
        ax.errorbar(r.search_score, r.score, xerr=r.search_se or 0, yerr=r.sd or 0, fmt="*" if r.baseline else "o",
                    markersize=10 if r.baseline else 5, capsize=3, color="#ff7f0e" if r.baseline else "#1f77b4")
        ax.annotate(f"#{r.number}", (r.search_score, r.score), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.plot([], [], "o", color="#1f77b4", label="searched architecture")
    ax.plot([], [], "*", color="#ff7f0e", markersize=10, label="baseline")
    ax.legend(loc="best", fontsize=8)
    ax.set_xlabel("search score ± se (short training, one seed)")
    ax.set_ylabel(f"confirmed score, mean ± sd over seeds ({summary.steps} steps)")
    ax.set_title("Does the short training predict the long one?")

    def fmt(value, ci):
        interval = "" if math.isnan(ci[0]) else f" [{ci[0]:.2f}, {ci[1]:.2f}]"
        return ("-" if math.isnan(value) else f"{value:.2f}") + interval

    verdict = {"same": "the search's best is the confirmed best",
               "within noise": "the search's best is within noise of the confirmed best",
               "no": "the search's best is not the confirmed best, beyond noise"}[summary.best_holds]
    text = (f"<p>{len(scored)} architectures, {summary.seeds} seeds each. Spearman {fmt(summary.spearman, summary.spearman_ci)}, "
            f"Kendall {fmt(summary.kendall, summary.kendall_ci)} (95% bootstrap intervals over architectures); "
            f"one seed against the other seeds' mean: Spearman {fmt(summary.seed_agreement, (math.nan, 0))} (the most "
            "any single run can reach here); "
            f"{html.escape(verdict)} (trial {summary.search_best} searched best, trial {summary.confirmed_best} "
            "confirmed best).</p>")
    winners = []
    for r in scored[:3]:
        grids = [f"<figure>{img(png_uri_file(output_dir / 'confirm' / s), f'confirmed samples of trial {r.number}', 'samples')}"
                 f"<figcaption class='meta'>seed {k + 1}</figcaption></figure>"
                 for k, s in enumerate(r.samples) if s and (output_dir / "confirm" / s).exists()]
        winners.append(f"<div class='card'><h3>confirmed #{r.rank}: trial {r.number}, {r.score:.4g}"
                       + (f" ± {r.sd:.2g}" if r.sd is not None else "") + "</h3><div class='pair'>"
                       + "".join(grids) + "</div></div>")
    return img(figure_uri(fig), "search score against confirmed score") + text + "".join(winners)


def png_uri_file(path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()
