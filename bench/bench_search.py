"""Search at 1,000,000 vectors: text query latency (with text encoding) and recall@10 of the IVF index.

Usage: python bench/bench_search.py [--model general] [--clips 300] [--total 1000000] [--noise 0.01]

Real clip embeddings (a few hundred corpus clips from ~/.cache/auralign/corpus/audio, embedded with the
model's audio tower) are tiled to `--total` vectors with small Gaussian noise and re-normalised: uniform
random vectors would be a worst case that no approximate index handles, and real collections cluster.
The index is built the way `auralign index` builds a large one (`build_ivf`: IVF-Flat, nlist ~ 2 sqrt(n),
nprobe calibrated to recall@10 >= 0.98 on stored vectors). Queries are corpus label texts encoded by the
model's text tower; recall@10 is against exact brute-force search over the same vectors. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import time

import faiss
import numpy as np

from auralign.apps.vector_store import build_ivf, exact_top_k, recall_at_k
from auralign.data.feature_cache import FeatureCache
from auralign.evaluation.embedding import embed_clips, embed_texts
from auralign.models.factory import load_model
from auralign.paths import auralign_home

QUERIES = ["a dog barking", "rain on a roof", "a car horn", "footsteps on gravel", "a door slams", "birds singing",
           "a piano note", "an explosion", "a man speaking", "a telephone ringing", "water running", "wind",
           "a cat meowing", "glass breaking", "an engine starting", "applause", "a drum hit", "a bell rings",
           "a guitar chord", "a laser zap", "coins dropping", "a siren", "a baby crying", "keyboard typing",
           "a clock ticking", "thunder", "a cow mooing", "a whistle", "a spoken digit seven", "a violin phrase"]


def clip_vectors(model, count: int, seed: int) -> np.ndarray:
    files = sorted((auralign_home() / "corpus" / "audio").rglob("*.flac"))
    if not files:
        raise SystemExit("no corpus clips in ~/.cache/auralign/corpus/audio: run `auralign data build-corpus`")
    chosen = random.Random(seed).sample(files, min(count, len(files)))
    clips = embed_clips(model, FeatureCache(model.audio_encoder), chosen, progress=True)
    return clips.vectors.astype(np.float32)


def tiled(base: np.ndarray, total: int, noise: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((total, base.shape[1]), dtype=np.float32)
    for start in range(0, total, 100_000):
        stop = min(total, start + 100_000)
        block = base[np.arange(start, stop) % len(base)] + noise * rng.standard_normal((stop - start, base.shape[1]),
                                                                                       dtype=np.float32)
        out[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def percentiles(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(float(np.percentile(values, 50)) * 1000, 2),
            "p99_ms": round(float(np.percentile(values, 99)) * 1000, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="general")
    parser.add_argument("--clips", type=int, default=300)
    parser.add_argument("--total", type=int, default=1_000_000)
    parser.add_argument("--noise", type=float, default=0.01, help="per-dimension std of the tiling noise")
    parser.add_argument("--repeats", type=int, default=7, help="passes over the query list for latency")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    model = load_model(args.model).eval()
    base = clip_vectors(model, args.clips, args.seed)
    vectors = tiled(base, args.total, args.noise, args.seed)
    ids = np.arange(len(vectors), dtype=np.int64)
    start = time.perf_counter()
    ivf = build_ivf(ids, vectors, seed=args.seed)
    build_seconds = time.perf_counter() - start
    text_queries = embed_texts(model, QUERIES)
    truth = exact_top_k(vectors, ids, text_queries, 10)
    found = ivf.search(text_queries, 10)[1]

    embed_search, search_only, exact = [], [], []
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    for _ in range(args.repeats):
        for query in QUERIES:
            t0 = time.perf_counter()
            ivf.search(embed_texts(model, [query]), 10)
            embed_search.append(time.perf_counter() - t0)
    for vector in text_queries:
        t0 = time.perf_counter()
        ivf.search(vector[None], 10)
        search_only.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        flat.search(vector[None], 10)
        exact.append(time.perf_counter() - t0)
    print(json.dumps({
        "model": args.model, "base_clips": len(base), "vectors": len(vectors), "dim": vectors.shape[1],
        "noise_std": args.noise, "index": f"IVF-Flat nlist={ivf.nlist} nprobe={ivf.nprobe}",
        "build_seconds": round(build_seconds, 1),
        "recall_at_10_text_queries": round(recall_at_k(found, truth), 4), "n_queries": len(QUERIES),
        "text_query_incl_encoding": percentiles(embed_search), "ivf_search_only": percentiles(search_only),
        "exact_search_only": percentiles(exact),
        "index_memory_mb": round(len(faiss.serialize_index(ivf)) / 2**20, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "machine": "2 CPU cores, shared with a training job (run niced)",
    }, indent=2))


if __name__ == "__main__":
    main()
