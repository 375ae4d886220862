"""A search index that follows a sound collection: faiss vectors + SQLite metadata, hybrid ranking.

An index folder holds `vectors.faiss` (L2-normalised clip embeddings under the item ids, so scores
are cosines; see `vector_store.py` for exact vs approximate) and `library.sqlite` (see `catalog.py`:
per-file size/mtime, folder, tags, caption, keyword terms, and the model that embedded the clips).
Search needs the same model: the index refuses a query from another one rather than returning
meaningless neighbours.

Hybrid ranking. For a text query q with keyword terms T (its lower-cased words, stopwords dropped),
an item i with clip embedding a_i scores

    score(i) = cos(text(q), a_i) + KEYWORD_WEIGHT * |T ∩ terms(i)| / |T|

where terms(i) are the words of the file name, its folder, its tags and its caption. Candidates are
the union of the vector search's best `max(4k, 50)` and the 500 items matching most terms (their
cosine computed exactly), so a file named "door_slam.wav" surfaces for "door slam" even when its
embedding is not in the vector top-k, and the vector score still orders items with equal matches.
Audio and item-id queries have no terms: their score is the cosine alone.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from auralign.apps.catalog import Catalog, FileRecord, words
from auralign.apps.vector_store import VectorStore
from auralign.audio.io import find_audio_files
from auralign.data.feature_cache import FeatureCache
from auralign.data.manifest import ManifestRow
from auralign.errors import AudioLoadError, AuralignError
from auralign.evaluation.embedding import embed_clips, embed_texts
from auralign.evaluation.zeroshot import DEFAULT_TEMPLATES, class_embeddings
from auralign.models.base import AudioTextEmbedder

VECTORS_NAME = "vectors.faiss"
CATALOG_NAME = "library.sqlite"
KEYWORD_WEIGHT = 0.1
FILTER_EXACT_LIMIT = 100_000  # a filtered search over at most this many items is exact over them
EMBED_CHUNK = 256  # files embedded (and committed) per step of a build or update


@dataclass
class Hit:
    score: float
    item: dict[str, Any]
    vector_score: float = 0.0
    keyword_score: float = 0.0


@dataclass
class UpdateReport:
    added: list[Path] = field(default_factory=list)
    changed: list[Path] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    failures: list[tuple[Path, str]] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed, "
                f"{self.unchanged} unchanged, {len(self.failures)} failed")


class SearchIndex:
    def __init__(self, directory: Path, catalog: Catalog, store: VectorStore, model_name: str) -> None:
        if store.ntotal != catalog.count():
            raise AuralignError(f"{directory}: {store.ntotal} vectors but {catalog.count()} items "
                                "(interrupted write?); rebuild it with `auralign index build`")
        self.directory = directory
        self.catalog = catalog
        self.store = store
        self.model_name = model_name

    @classmethod
    def create(cls, directory: str | Path, model_name: str, dim: int) -> SearchIndex:
        directory = Path(directory)
        if (directory / CATALOG_NAME).exists():
            raise AuralignError(f"{directory}: an index is already there (use `auralign index add` or `update`)")
        directory.mkdir(parents=True, exist_ok=True)
        catalog = Catalog(directory / CATALOG_NAME)
        catalog.set_meta(model=model_name, dim=dim)
        catalog.commit()
        return cls(directory, catalog, VectorStore.empty(dim), model_name)

    @classmethod
    def load(cls, directory: str | Path) -> SearchIndex:
        directory = Path(directory)
        missing = [n for n in (VECTORS_NAME, CATALOG_NAME) if not (directory / n).is_file()]
        if VECTORS_NAME in missing:
            raise AuralignError(f"{directory}: not a search index (missing {', '.join(missing)})")
        store = VectorStore.read(directory / VECTORS_NAME)  # first: a damaged file says so
        if missing:
            raise AuralignError(f"{directory}: not a search index of this version (missing {CATALOG_NAME}); "
                                "rebuild it with `auralign index build`")
        catalog = Catalog(directory / CATALOG_NAME)
        return cls(directory, catalog, store, catalog.get_meta()["model"])

    @classmethod
    def open_or_create(cls, directory: str | Path, model_name: str, dim: int) -> SearchIndex:
        if (Path(directory) / CATALOG_NAME).is_file():
            index = cls.load(directory)
            if index.model_name != model_name:
                raise AuralignError(f"{directory} was built with model {index.model_name}, not {model_name}")
            return index
        return cls.create(directory, model_name, dim)

    @property
    def ntotal(self) -> int:
        return self.store.ntotal

    def save(self) -> Path:
        """Commit the metadata, pick exact or approximate search for the new size, write the vectors."""
        self.store.optimise(np.asarray(self.catalog.all_ids(), dtype=np.int64))
        self.catalog.set_meta(count=self.ntotal, kind=self.store.kind, nprobe=self.store.nprobe)
        self.catalog.commit()
        self.store.write(self.directory / VECTORS_NAME)
        return self.directory

    # -- following the collection -------------------------------------------------------------

    def add_rows(self, model: AudioTextEmbedder, cache: FeatureCache, rows: Sequence[ManifestRow],
                 root: Path, progress: bool = True) -> tuple[list[Path], list[tuple[Path, str]]]:
        """Embed and add clips not indexed yet; returns (added, failures)."""
        added: list[Path] = []
        failures: list[tuple[Path, str]] = []
        for start in range(0, len(rows), EMBED_CHUNK):
            chunk = list(rows[start:start + EMBED_CHUNK])
            clips = embed_clips(model, cache, [row.audio for row in chunk], progress=progress)
            failures.extend(clips.failures)
            self.add_vectors([_record(chunk[i], root) for i in clips.index], clips.vectors)
            added.extend(Path(chunk[i].audio) for i in clips.index)
        return added, failures

    def add_vectors(self, records: Sequence[FileRecord], vectors: np.ndarray) -> None:
        ids = np.arange(self.catalog.next_id(), self.catalog.next_id() + len(records), dtype=np.int64)
        for item_id, record in zip(ids, records, strict=True):
            self.catalog.insert(int(item_id), record)
        self.store.add(ids, vectors)
        self.catalog.commit()

    def scan(self, root: str | Path) -> tuple[list[Path], list[Path], list[str], int]:
        """Compare the files under `root` with the index by size and mtime: (new, changed, gone, unchanged)."""
        root_path = Path(root).resolve()
        known = self.catalog.files_under(str(root_path))
        on_disk = find_audio_files([root_path]) if root_path.exists() else []
        new, changed, unchanged = [], [], 0
        for path in on_disk:
            resolved = str(path.resolve())
            stat = path.stat()
            if resolved not in known:
                new.append(path)
            elif known[resolved][1:] != (stat.st_size, stat.st_mtime_ns):
                changed.append(path)
            else:
                unchanged += 1
        present = {str(path.resolve()) for path in on_disk}
        return new, changed, [path for path in known if path not in present], unchanged

    def update(self, model: AudioTextEmbedder, cache: FeatureCache, root: str | Path,
               progress: bool = True) -> UpdateReport:
        """Re-embed changed files, embed new ones, drop deleted ones; unchanged files are not read."""
        new, changed, gone, unchanged = self.scan(root)
        report = UpdateReport(unchanged=unchanged, removed=gone)
        known = self.catalog.files_under(str(Path(root).resolve()))
        self._remove_ids([known[p][0] for p in gone] + [known[str(p.resolve())][0] for p in changed])
        base = _root_of(Path(root))
        added, report.failures = self.add_rows(model, cache, [ManifestRow(audio=p) for p in new + changed], base,
                                               progress)
        done = {str(p) for p in added}
        report.added = [p for p in new if str(p) in done]
        report.changed = [p for p in changed if str(p) in done]
        return report

    def remove(self, root: str | Path) -> int:
        """Drop every item at or below `root` (a folder or one file); returns how many."""
        ids = [item_id for item_id, _, _ in self.catalog.files_under(str(Path(root).resolve())).values()]
        self._remove_ids(ids)
        return len(ids)

    def _remove_ids(self, ids: list[int]) -> None:
        self.store.remove(np.asarray(ids, dtype=np.int64))
        self.catalog.delete(ids)
        self.catalog.commit()

    def tag(self, model: AudioTextEmbedder, labels: Sequence[str], top_k: int = 3, min_score: float = 0.05,
            batch: int = 4096) -> int:
        """Auto-tag every item with its `top_k` labels (softmax over `labels`, kept if >= `min_score`)."""
        classes = class_embeddings(model, labels, DEFAULT_TEMPLATES)
        scale = float(model.logit_scale().detach()) if hasattr(model, "logit_scale") else 1.0
        ids = self.catalog.all_ids()
        for start in range(0, len(ids), batch):
            chunk = ids[start:start + batch]
            logits = scale * (self.store.vectors(np.asarray(chunk)) @ classes.T)
            probs = np.exp(logits - logits.max(axis=1, keepdims=True))
            probs /= probs.sum(axis=1, keepdims=True)
            for row, item_id in enumerate(chunk):
                best = np.argsort(-probs[row], kind="stable")[:top_k]
                self.catalog.set_auto_tags(item_id, [(labels[c], float(probs[row, c])) for c in best
                                                     if probs[row, c] >= min_score])
        self.catalog.commit()
        return len(ids)

    # -- searching ----------------------------------------------------------------------------

    def search(self, query: np.ndarray, k: int = 10, text: str | None = None, folder: str | None = None,
               tag: str | None = None, exclude: Sequence[int] = ()) -> list[Hit]:
        """Hybrid search (module docstring) for one query vector, optionally within a folder and/or tag."""
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        if query.shape[0] != self.store.dim:
            raise AuralignError(f"query vector must have {self.store.dim} dimensions, got {query.shape[0]}")
        allowed = set(self.catalog.filtered_ids(folder, tag)) if (folder or tag) else None
        scores = self._vector_candidates(query, k + len(exclude), allowed)
        terms = sorted(set(words(text or "")))
        keyword = self.catalog.keyword_matches(terms)
        extra = [i for i in keyword if i not in scores and (allowed is None or i in allowed)]
        scores.update(zip(extra, (self.store.vectors(np.asarray(extra)) @ query).tolist(), strict=True))
        for item_id in exclude:
            scores.pop(item_id, None)
        matched = self.catalog.matching_terms(list(scores), terms)
        fused = {i: (s + KEYWORD_WEIGHT * matched.get(i, 0) / len(terms) if terms else s, s) for i, s in scores.items()}
        best = sorted(fused, key=lambda i: (-fused[i][0], i))[:k]
        records = self.catalog.items(best)
        return [Hit(fused[i][0], records[i], vector_score=fused[i][1],
                    keyword_score=matched.get(i, 0) / len(terms) if terms else 0.0) for i in best]

    def _vector_candidates(self, query: np.ndarray, k: int, allowed: set[int] | None) -> dict[int, float]:
        if allowed is not None and len(allowed) <= FILTER_EXACT_LIMIT:
            ids = np.fromiter(allowed, dtype=np.int64)
            return dict(zip(ids.tolist(), (self.store.vectors(ids) @ query).tolist(), strict=True))
        wanted = max(4 * k, 50) * (20 if allowed is not None else 1)
        scores, ids = self.store.search(query[None], wanted)
        return {int(i): float(s) for s, i in zip(scores[0], ids[0], strict=True)
                if i >= 0 and (allowed is None or int(i) in allowed)}

    def search_text(self, model: AudioTextEmbedder, query: str, k: int = 10, **filters: Any) -> list[Hit]:
        return self.search(embed_texts(model, [query])[0], k, text=query, **filters)

    def search_audio(self, model: AudioTextEmbedder, cache: Any, path: Path, k: int = 10,
                     **filters: Any) -> list[Hit]:
        """Nearest indexed clips to an audio file (`cache`: a FeatureCache or the server's upload cache)."""
        clips = embed_clips(model, cache, [path], progress=False)
        if clips.failures:
            raise AudioLoadError(path, clips.failures[0][1])
        return self.search(clips.vectors[0], k, **filters)

    def similar(self, item_id: int, k: int = 10, **filters: Any) -> list[Hit]:
        """"More like this": the clips nearest to an indexed item, itself excluded."""
        if self.catalog.path_of(item_id) is None:
            raise AuralignError(f"no item {item_id} in the index")
        return self.search(self.store.vectors(np.asarray([item_id]))[0], k, exclude=[item_id], **filters)


def _root_of(path: Path) -> Path:
    resolved = path.resolve()
    return resolved if resolved.is_dir() else resolved.parent


def _record(row: ManifestRow, root: Path) -> FileRecord:
    path = Path(row.audio).resolve()
    stat = path.stat()
    try:
        relative = path.parent.relative_to(root)
        folder = "/".join(part for part in (root.name, *relative.parts) if part)
    except ValueError:
        folder = path.parent.name
    return FileRecord(path=str(path), root=str(root), folder=folder, name=path.name, size=stat.st_size,
                      mtime_ns=stat.st_mtime_ns, caption=row.captions[0] if row.captions else None,
                      labels=list(row.labels or []))


def build_index(model: AudioTextEmbedder, rows: Sequence[ManifestRow], cache: FeatureCache, model_name: str,
                directory: str | Path, progress: bool = True) -> tuple[SearchIndex, list[tuple[Path, str]]]:
    """A new index folder over `rows` (bad files are returned, not indexed)."""
    if not rows:
        raise AuralignError("no audio files to index")
    root = Path(os.path.commonpath([str(Path(row.audio).resolve().parent) for row in rows]))
    index = SearchIndex.create(directory, model_name, embed_dim(model))
    added, failures = index.add_rows(model, cache, rows, root, progress)
    if not added:
        raise AuralignError("no clip could be embedded; nothing to index")
    index.save()
    return index, failures


def embed_dim(model: AudioTextEmbedder) -> int:
    """The joint space's dimension, measured (models do not all expose it under one name)."""
    return int(embed_texts(model, ["dimension probe"]).shape[1])
