"""`auralign index build` across processes and machines (torchrun / accelerate launch).

Each rank embeds every `world`-th row of the file list (rank r takes rows r, r+world, ...) and writes a
shard (`shard-<rank>.npz`: row positions, vectors, failures) into a folder beside the output, which must
be on storage every rank can reach. After a barrier (torch.distributed, gloo: CPU only), rank 0 merges
the shards in row order into one index, so the result is the same index a single process builds.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from auralign.apps.search_index import SearchIndex, _record, embed_dim
from auralign.data.feature_cache import FeatureCache
from auralign.data.manifest import ManifestRow
from auralign.errors import AuralignError
from auralign.evaluation.embedding import embed_clips


def world() -> tuple[int, int]:
    """(rank, world size) from the launcher's environment; (0, 1) when run alone."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def write_shard(model, cache: FeatureCache, rows: Sequence[ManifestRow], rank: int, size: int,
                folder: Path) -> Path:
    positions = list(range(rank, len(rows), size))
    clips = embed_clips(model, cache, [rows[p].audio for p in positions], progress=rank == 0)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"shard-{rank}.npz"
    tmp = folder / f".shard-{rank}.tmp.npz"
    failures = json.dumps([[str(path), reason] for path, reason in clips.failures])
    np.savez(tmp, positions=np.asarray([positions[i] for i in clips.index], dtype=np.int64),
             vectors=clips.vectors.astype(np.float32), failures=np.asarray(failures))
    os.replace(tmp, target)
    return target


def merge_shards(model, rows: Sequence[ManifestRow], folder: Path, size: int, model_name: str,
                 out: Path) -> tuple[SearchIndex, list[tuple[Path, str]]]:
    """One index over every shard's vectors, in row order (as a single process would add them)."""
    positions, vectors, failures = [], [], []
    for rank in range(size):
        path = folder / f"shard-{rank}.npz"
        if not path.is_file():
            raise AuralignError(f"{path}: missing shard (did rank {rank} fail?)")
        with np.load(path) as shard:
            positions.append(shard["positions"])
            vectors.append(shard["vectors"])
            failures += [(Path(p), reason) for p, reason in json.loads(str(shard["failures"]))]
    order = np.argsort(np.concatenate(positions), kind="stable")
    kept = np.concatenate(positions)[order]
    if not len(kept):
        raise AuralignError("no clip could be embedded; nothing to index")
    root = Path(os.path.commonpath([str(Path(row.audio).resolve().parent) for row in rows]))
    index = SearchIndex.create(out, model_name, embed_dim(model))
    index.add_vectors([_record(rows[p], root) for p in kept], np.concatenate(vectors)[order])
    index.save()
    return index, failures


def build_distributed(model, rows: Sequence[ManifestRow], cache: FeatureCache, model_name: str, out: Path | None,
                      shard_folder: Path) -> tuple[SearchIndex | None, list[tuple[Path, str]]]:
    """Run on every rank; rank 0 merges into `out` and returns the index, the other ranks (None, [])."""
    import torch.distributed as dist

    rank, size = world()
    owns_group = not dist.is_initialized()
    if owns_group:
        dist.init_process_group("gloo")
    try:
        write_shard(model, cache, rows, rank, size, shard_folder)
        dist.barrier()
        if rank != 0 or out is None:
            return None, []
        merged = merge_shards(model, rows, shard_folder, size, model_name, out)
        shutil.rmtree(shard_folder, ignore_errors=True)
        return merged
    finally:
        if owns_group:
            dist.destroy_process_group()
