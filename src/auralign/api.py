"""The Python API in three lines:

    import auralign
    m = auralign.load()                      # the default model, "general"
    m.classify(["dog.wav"], ["dog barking", "rain", "car horn"], top_k=2)

plus `m.embed_audio(...)`, `m.embed_text(...)`, `m.caption(...)`, `m.ask(...)` and
`auralign.Index.open(folder).search("text")`. Each call goes through the same functions as the
`auralign` command (feature cache, zero-shot scoring, generation from the first window), so the two
give the same answers. A file that cannot be read raises `AuralignError` naming it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from auralign.errors import AuralignError

if TYPE_CHECKING:
    from auralign.apps.search_index import Hit

AudioInput = str | Path | np.ndarray
Paths = str | Path | Sequence[str | Path]
MIN_LAST_WINDOW_SECONDS = 1.0  # a shorter tail of an array is dropped when the array has longer windows


def _check_failures(failures: Sequence[tuple[Path, str]]) -> None:
    if failures:
        raise AuralignError("; ".join(f"{path}: {why}" for path, why in failures))


def _as_list(items: Any) -> list[Any]:
    return [items] if isinstance(items, (str, Path, np.ndarray)) else list(items)


class Model:
    """A loaded auralign model. `captioner` names the model `caption` and `ask` use when this one cannot
    write text (default: `auralign.models.factory.DEFAULT_CAPTIONER`)."""

    def __init__(self, model: Any, captioner: str | Path | None = None, window_seconds: float = 10.0) -> None:
        self.model = model.eval()
        self.window_seconds = window_seconds
        self._captioner_name = captioner
        self._captioner: Any = None

    @property
    def sample_rate(self) -> int:
        """The sample rate arrays given to `embed_audio` must have (mono float samples)."""
        return self.model.audio_encoder.sample_rate

    @contextmanager
    def _cache(self, model: Any) -> Iterator[Any]:
        """A feature cache in a temporary folder, as the CLI's one-off commands use."""
        from auralign.data.feature_cache import FeatureCache, WindowPolicy

        with tempfile.TemporaryDirectory(prefix="auralign-features-") as tmp:
            yield FeatureCache(model.audio_encoder, root=tmp, policy=WindowPolicy(self.window_seconds))

    def embed_audio(self, audio: AudioInput | Sequence[AudioInput]) -> np.ndarray:
        """(N, E) L2-normalised joint-space embeddings, one row per file path or 1-D array of samples at
        `sample_rate`. Long inputs are embedded window by window and averaged."""
        from auralign.evaluation.embedding import embed_clips

        items = _as_list(audio)
        rows: dict[int, np.ndarray] = {}
        paths = {i: Path(item) for i, item in enumerate(items) if not isinstance(item, np.ndarray)}
        if paths:
            with self._cache(self.model) as cache:
                clips = embed_clips(self.model, cache, list(paths.values()), progress=False)
            _check_failures(clips.failures)
            rows.update(zip([list(paths)[i] for i in clips.index], clips.vectors, strict=True))
        for i, item in enumerate(items):
            if isinstance(item, np.ndarray):
                rows[i] = self._embed_samples(item)
        return np.stack([rows[i] for i in range(len(items))]) if items else np.zeros((0, 0), np.float32)

    def _embed_samples(self, samples: np.ndarray) -> np.ndarray:
        import torch

        from auralign.data.feature_cache import encode_windows, pad_tokens

        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim != 1 or not len(samples):
            raise AuralignError(f"an audio array must be 1-D mono samples, got shape {samples.shape}")
        size = round(self.window_seconds * self.sample_rate)
        windows = [samples[start:start + size] for start in range(0, len(samples), size)]
        if len(windows) > 1 and len(windows[-1]) < MIN_LAST_WINDOW_SECONDS * self.sample_rate:
            windows.pop()
        with torch.inference_mode():
            embedded = self.model.embed_audio_tokens(*pad_tokens(encode_windows(self.model.audio_encoder, windows)))
            mean = embedded.float().mean(dim=0)
        return torch.nn.functional.normalize(mean, dim=0).numpy()

    def embed_text(self, texts: str | Sequence[str]) -> np.ndarray:
        """(N, E) L2-normalised joint-space embeddings of texts."""
        from auralign.evaluation.embedding import embed_texts

        return embed_texts(self.model, [texts] if isinstance(texts, str) else list(texts))

    def classify(self, paths: Paths, labels: Sequence[str],
                 top_k: int = 3) -> list[list[tuple[str, float]]]:
        """The `top_k` (label, probability) pairs of each file among free-text `labels`, best first."""
        from auralign.evaluation.zeroshot import classify_files

        files = [Path(p) for p in _as_list(paths)]
        result = classify_files(self.model, files, list(labels), top_k=top_k)
        _check_failures(result.failures)
        return [[(top["label"], top["score"]) for top in prediction["top"]] for prediction in result.predictions]

    def captioner(self) -> Any:
        """This model when it writes text (SLIT, MATS), else the captioner `load_captioner` gives."""
        from auralign.models.base import AudioTextGenerator
        from auralign.models.factory import load_captioner

        if isinstance(self.model, AudioTextGenerator):
            return self.model
        if self._captioner is None:
            self._captioner = load_captioner(self._captioner_name)
        return self._captioner

    def _describe(self, paths: list[Path], instruction: str | None) -> list[str]:
        from auralign.evaluation.captioning import describe_files

        model = self.captioner()
        with self._cache(model) as cache:
            described, failures = describe_files(model, cache, paths, instruction)
        _check_failures(failures)
        texts = dict(described)
        return [texts[path] for path in paths]

    def caption(self, paths: Paths) -> list[str]:
        """One caption per file, from its first window."""
        return self._describe([Path(p) for p in _as_list(paths)], None)

    def ask(self, path: str | Path, question: str) -> str:
        """The answer to a question about one file, from its first window."""
        return self._describe([Path(path)], question)[0]


def load(name: str | Path | None = None, captioner: str | Path | None = None) -> Model:
    """A shipped model by name or a model folder (default: "general", the default of the CLI).
    `captioner` is the model `caption` and `ask` use when this one cannot write text."""
    from auralign.models.factory import DEFAULT_MODEL, load_model

    return Model(load_model(name or DEFAULT_MODEL), captioner=captioner)


class Index:
    """A sound library index built by `auralign index build`, searched in words."""

    def __init__(self, library: Any) -> None:
        self.library = library
        self._model: Any = None

    @classmethod
    def open(cls, directory: str | Path) -> Index:
        from auralign.apps.search_index import SearchIndex

        return cls(SearchIndex.load(directory))

    def search(self, text: str, k: int = 10) -> list[Hit]:
        """The `k` best matching items (`Hit`: `score` and `item`, the indexed file's record)."""
        from auralign.models.factory import load_model

        if self._model is None:
            self._model = load_model(self.library.model_name)
        return self.library.search_text(self._model, text, k)
