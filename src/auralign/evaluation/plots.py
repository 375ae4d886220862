"""Confusion-matrix figures written straight to PNG.

The figure is drawn on an Agg canvas without pyplot, so saving a plot neither needs a display
nor changes the caller's global matplotlib backend or state.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

ANNOTATE_UP_TO_CLASSES = 20
MAX_LABEL_CHARS = 28
DPI = 120


def _shorten(name: str) -> str:
    return name if len(name) <= MAX_LABEL_CHARS else name[: MAX_LABEL_CHARS - 1] + "…"


def _row_normalised(matrix: np.ndarray) -> np.ndarray:
    """Each true-class row divided by its count, so the diagonal is per-class recall; empty rows stay 0."""
    totals = matrix.sum(axis=1, keepdims=True)
    return np.divide(matrix, totals, out=np.zeros_like(matrix, dtype=np.float64), where=totals > 0)


def _label_font_size(n_classes: int) -> float:
    if n_classes <= 20:
        return 9.0
    if n_classes <= 40:
        return 7.0
    return 5.5


def save_confusion_matrix_png(
    matrix: np.ndarray,
    class_names: Sequence[str],
    path: str | Path,
    *,
    normalize: bool = True,
    title: str = "Confusion matrix",
) -> Path:
    """Write a (C, C) confusion matrix (rows true, columns predicted) as a PNG and return its path.

    The figure grows with the number of classes and the label font shrinks, which keeps about 60
    classes legible; cell values are printed only up to 20 classes, where they still fit.
    """
    matrix = np.asarray(matrix)
    n_classes = len(class_names)
    if matrix.shape != (n_classes, n_classes):
        raise ValueError(
            f"matrix must be ({n_classes}, {n_classes}) for {n_classes} class names, got {matrix.shape}"
        )
    values = _row_normalised(matrix) if normalize else matrix.astype(np.float64)

    side_inches = float(np.clip(2.5 + 0.24 * n_classes, 5.0, 18.0))
    figure = Figure(figsize=(side_inches + 1.2, side_inches), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    image = axes.imshow(values, cmap="Blues", vmin=0.0, vmax=1.0 if normalize else None)
    figure.colorbar(
        image, ax=axes, fraction=0.03, pad=0.02, label="fraction of true class" if normalize else "count"
    )

    labels = [_shorten(name) for name in class_names]
    font_size = _label_font_size(n_classes)
    axes.set_xticks(np.arange(n_classes), labels, rotation=90, fontsize=font_size)
    axes.set_yticks(np.arange(n_classes), labels, fontsize=font_size)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    if n_classes <= ANNOTATE_UP_TO_CLASSES:
        _annotate_cells(axes, values, normalize, font_size)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path


def _annotate_cells(axes: Axes, values: np.ndarray, normalize: bool, font_size: float) -> None:
    """Print each cell's value, white on dark cells so it stays readable."""
    threshold = values.max() / 2 if values.size else 0.0
    for (row, column), value in np.ndenumerate(values):
        text = f"{value:.2f}" if normalize else f"{value:g}"
        colour = "white" if value > threshold else "black"
        axes.text(column, row, text, ha="center", va="center", color=colour, fontsize=font_size - 1)
