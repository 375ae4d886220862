"""Figure 3 of the MATS paper: text and audio embeddings before and after each modality transfer,
projected to 2-D (`auralign mats santa-figure`)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from auralign.errors import AuralignError
from auralign.models.mats import MatsModel


@dataclass
class Panel:
    """Paired text (row i) and audio (row i) vectors as one variant feeds them to the mapper."""

    title: str
    text: np.ndarray
    audio: np.ndarray

    def stats(self) -> dict[str, float]:
        """Centroid gap and mean paired cosine: the figure's claim in two numbers."""
        def unit(x: np.ndarray) -> np.ndarray:
            return x / np.linalg.norm(x, axis=1, keepdims=True).clip(min=1e-12)

        return {"centroid_gap": float(np.linalg.norm(self.text.mean(0) - self.audio.mean(0))),
                "paired_cosine": float((unit(self.text) * unit(self.audio)).sum(1).mean())}


def santa_panels(model: MatsModel, manifest: Path, split: str | None, clips: int, seed: int) -> dict[str, Panel]:
    """The paper's Figure 3 variants: (a) CLAP, (b) text + Gaussian noise, (c) memory bank only
    (audio replaced by its softmax mix of memory entries, no k-means), (d) Santa."""
    import torch

    from auralign.data.feature_cache import FeatureCache
    from auralign.data.manifest import read_manifest
    from auralign.data.pairs import texts_of
    from auralign.evaluation.embedding import per_clip_mean

    rows = [row for row in read_manifest(manifest, split) if texts_of(row)]
    rows = random.Random(seed).sample(rows, min(clips, len(rows)))
    audio = per_clip_mean(model.embed_audio_tokens, FeatureCache(model.audio_encoder), [r.audio for r in rows])
    kept = [rows[i] for i in audio.index]
    z_a = torch.from_numpy(audio.vectors)
    z_t = model.embed_text([texts_of(row)[0] for row in kept]).float()
    torch.manual_seed(seed)
    noisy = model.add_noise(z_t)
    santa = model.config.santa
    saved = (santa.balance, santa.use_kmeans)
    santa.balance, santa.use_kmeans = 1.0, False
    try:
        memory_only = model.transfer(z_a)
    finally:
        santa.balance, santa.use_kmeans = saved
    with_santa = model.transfer(z_a)
    return {"clap": Panel("a) CLAP", z_t.numpy(), z_a.numpy()),
            "noise": Panel("b) + Gaussian noise", noisy.numpy(), z_a.numpy()),
            "memory": Panel("c) + memory bank only", noisy.numpy(), memory_only.numpy()),
            "santa": Panel("d) + Santa", noisy.numpy(), with_santa.numpy())}


def project_2d(points: np.ndarray, projection: str, seed: int) -> np.ndarray:
    if projection == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed).fit_transform(points)
    if projection == "tsne":
        from sklearn.manifold import TSNE

        perplexity = min(30.0, (len(points) - 1) / 3)
        return TSNE(n_components=2, perplexity=perplexity, random_state=seed, init="pca").fit_transform(points)
    raise AuralignError(f"projection must be tsne or pca, not {projection!r}")


def save_santa_figure(panels: dict[str, Panel], out: Path, projection: str, seed: int) -> Path:
    """One 2-D projection per panel (fitted on that panel's text + audio points), on an Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4 * len(panels), 4.2), dpi=120)
    FigureCanvasAgg(figure)
    for i, panel in enumerate(panels.values()):
        points = project_2d(np.concatenate([panel.text, panel.audio]), projection, seed)
        n = len(panel.text)
        axes = figure.add_subplot(1, len(panels), i + 1)
        axes.scatter(points[:n, 0], points[:n, 1], s=6, c="tab:blue", label="text")
        axes.scatter(points[n:, 0], points[n:, 1], s=6, c="tab:red", label="audio")
        stats = panel.stats()
        axes.set_title(f"{panel.title}\ngap {stats['centroid_gap']:.2f}, paired cos {stats['paired_cosine']:.2f}",
                       fontsize=9)
        axes.set_xticks([])
        axes.set_yticks([])
        if i == 0:
            axes.legend(loc="best", fontsize=8)
    figure.suptitle(f"MATS embeddings before and after modality transfer ({projection.upper()})", fontsize=10)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out)
    return out
