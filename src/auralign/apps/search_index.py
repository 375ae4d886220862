"""A text-to-audio (and audio-to-audio) search index over clip embeddings, with faiss.

An index folder holds `vectors.faiss` (an inner-product index of L2-normalised clip embeddings, so
scores are cosines), `items.jsonl` (one line per vector: the clip's path and manifest fields) and
`index.json` (the model that embedded the clips). Search needs the same model: the index refuses
a query from another one rather than returning meaningless neighbours.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from auralign.data.feature_cache import FeatureCache
from auralign.data.manifest import ManifestRow
from auralign.errors import AuralignError
from auralign.evaluation.embedding import embed_clips, embed_texts
from auralign.models.base import AudioTextEmbedder

VECTORS_NAME = "vectors.faiss"
ITEMS_NAME = "items.jsonl"
META_NAME = "index.json"


@dataclass
class Hit:
    score: float
    item: dict[str, Any]


class SearchIndex:
    def __init__(self, index: faiss.Index, items: list[dict[str, Any]], model_name: str) -> None:
        if index.ntotal != len(items):
            raise AuralignError(f"index holds {index.ntotal} vectors but {len(items)} items")
        self.index = index
        self.items = items
        self.model_name = model_name

    @classmethod
    def build(cls, model: AudioTextEmbedder, rows: list[ManifestRow], cache: FeatureCache, model_name: str,
              progress: bool = True) -> tuple[SearchIndex, list[tuple[Path, str]]]:
        """Embed every clip (bad files are returned, not indexed) into an exact inner-product index."""
        clips = embed_clips(model, cache, [row.audio for row in rows], progress=progress)
        if not clips.index:
            raise AuralignError("no clip could be embedded; nothing to index")
        vectors = np.ascontiguousarray(clips.vectors, dtype=np.float32)
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(vectors)
        items = [_item(rows[i]) for i in clips.index]
        return cls(index, items, model_name), clips.failures

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.index, str(directory / VECTORS_NAME))
        with open(directory / ITEMS_NAME, "w", encoding="utf-8") as handle:
            for item in self.items:
                handle.write(json.dumps(item, ensure_ascii=False) + "\n")
        meta = {"model": self.model_name, "dim": self.index.d, "count": self.index.ntotal}
        (directory / META_NAME).write_text(json.dumps(meta, indent=2) + "\n")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> SearchIndex:
        directory = Path(directory)
        missing = [n for n in (VECTORS_NAME, ITEMS_NAME, META_NAME) if not (directory / n).is_file()]
        if missing:
            raise AuralignError(f"{directory}: not a search index (missing {', '.join(missing)})")
        meta = json.loads((directory / META_NAME).read_text())
        items = [json.loads(line) for line in (directory / ITEMS_NAME).read_text(encoding="utf-8").splitlines()
                 if line.strip()]
        return cls(faiss.read_index(str(directory / VECTORS_NAME)), items, meta["model"])

    def search_vectors(self, queries: np.ndarray, k: int = 10) -> list[list[Hit]]:
        if queries.ndim != 2 or queries.shape[1] != self.index.d:
            raise AuralignError(f"query vectors must be (n, {self.index.d}), got {queries.shape}")
        scores, ids = self.index.search(np.ascontiguousarray(queries, dtype=np.float32), min(k, self.index.ntotal))
        return [[Hit(float(s), self.items[i]) for s, i in zip(row_scores, row_ids, strict=True) if i >= 0]
                for row_scores, row_ids in zip(scores, ids, strict=True)]

    def search_text(self, model: AudioTextEmbedder, queries: list[str], k: int = 10) -> list[list[Hit]]:
        return self.search_vectors(embed_texts(model, queries), k)


def _item(row: ManifestRow) -> dict[str, Any]:
    item: dict[str, Any] = {"id": row.id, "audio": str(Path(row.audio).resolve())}
    if row.labels:
        item["labels"] = row.labels
    if row.captions:
        item["captions"] = row.captions
    return item
