"""Clip vectors in faiss under stable int64 ids, exact while small, approximate (IVF) when large.

Up to `EXACT_LIMIT` vectors the store is an exact inner-product index (`IndexIDMap2(IndexFlatIP)`):
a brute-force scan of 50,000 512-d vectors takes a few ms on one core, well inside a 20 ms query
budget. Above it, `optimise()` switches to `IndexIVFFlat` with a hash-table direct map: IVF rather
than HNSW because it supports removing and adding vectors in place (HNSW cannot remove), which
`auralign index update` needs, and it keeps the raw vectors (no PQ), so recall depends only on how many
lists a query visits. `nprobe` is calibrated when the IVF is built: the smallest value whose recall@10
against exact search, on stored vectors used as queries, reaches `TARGET_RECALL`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import faiss
import numpy as np

from auralign.errors import AuralignError

EXACT_LIMIT = 50_000
TARGET_RECALL = 0.98
NPROBES = (4, 8, 16, 32, 64, 128, 256)


class VectorStore:
    def __init__(self, index: faiss.Index) -> None:
        self.index = index

    @classmethod
    def empty(cls, dim: int) -> VectorStore:
        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dim)))

    @classmethod
    def read(cls, path: Path) -> VectorStore:
        try:
            return cls(faiss.read_index(str(path)))
        except RuntimeError as error:
            raise AuralignError(f"{path.parent}: damaged search index ({str(error).splitlines()[0][:120]})") from None

    def write(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        faiss.write_index(self.index, str(tmp))
        os.replace(tmp, path)

    @property
    def dim(self) -> int:
        return self.index.d

    @property
    def ntotal(self) -> int:
        return self.index.ntotal

    @property
    def kind(self) -> str:
        return "ivf" if faiss.try_extract_index_ivf(self.index) is not None else "exact"

    @property
    def nprobe(self) -> int | None:
        ivf = faiss.try_extract_index_ivf(self.index)
        return None if ivf is None else ivf.nprobe

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> None:
        if len(ids):
            self.index.remove_ids(np.asarray(ids, dtype=np.int64))

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids):
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.index.reconstruct_batch(ids)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, self.ntotal)
        if k <= 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        return self.index.search(np.ascontiguousarray(queries, dtype=np.float32), k)

    def optimise(self, ids: np.ndarray, exact_limit: int = EXACT_LIMIT) -> None:
        """Pick the index kind for the current size (`ids`: every stored id, to rebuild from)."""
        if self.kind == "exact" and self.ntotal > exact_limit:
            self.index = build_ivf(ids, self.vectors(ids))
        elif self.kind == "ivf" and self.ntotal <= exact_limit // 2:  # hysteresis: no flip-flop at the edge
            vectors = self.vectors(ids)
            self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
            self.add(ids, vectors)


def build_ivf(ids: np.ndarray, vectors: np.ndarray, seed: int = 0) -> faiss.Index:
    """An IVF-Flat inner-product index over `vectors`, nlist ~ 2 sqrt(n), nprobe calibrated."""
    n, dim = vectors.shape
    nlist = int(min(65536, max(16, 2 * math.sqrt(n))))
    rng = np.random.default_rng(seed)
    train = vectors[rng.choice(n, size=min(n, 32 * nlist), replace=False)]
    quantizer = faiss.IndexFlatIP(dim)
    ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    ivf.cp.seed = seed
    ivf.cp.niter = 10
    ivf.train(np.ascontiguousarray(train, dtype=np.float32))
    ivf.set_direct_map_type(faiss.DirectMap.Hashtable)
    ivf.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))
    queries = vectors[rng.choice(n, size=min(n, 200), replace=False)]
    queries = queries + rng.normal(0.0, 0.02, queries.shape).astype(np.float32)
    ivf.nprobe = calibrate_nprobe(ivf, vectors, np.asarray(ids, dtype=np.int64), queries)
    return ivf


def exact_top_k(vectors: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Ids of the exact top-k by inner product (brute force, in chunks: memory independent of n)."""
    _, positions = faiss.knn(np.ascontiguousarray(queries, dtype=np.float32),
                             np.ascontiguousarray(vectors, dtype=np.float32), k, metric=faiss.METRIC_INNER_PRODUCT)
    return ids[positions]


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    k = truth.shape[1]
    return float(np.mean([len(set(f[:k]) & set(t)) / k for f, t in zip(found, truth, strict=True)]))


def calibrate_nprobe(ivf: faiss.Index, vectors: np.ndarray, ids: np.ndarray, queries: np.ndarray,
                     k: int = 10) -> int:
    truth = exact_top_k(vectors, ids, queries, k)
    for nprobe in NPROBES:
        if nprobe > ivf.nlist:
            break
        ivf.nprobe = nprobe
        if recall_at_k(ivf.search(np.ascontiguousarray(queries, dtype=np.float32), k)[1], truth) >= TARGET_RECALL:
            return nprobe
    return min(NPROBES[-1], ivf.nlist)
