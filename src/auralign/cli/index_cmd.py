"""`auralign index build|add|remove|update|watch|tag`, `auralign search` and `auralign serve`."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from auralign.cli import decoding as opts
from auralign.cli.common import (
    FORCE,
    MAX_SECONDS,
    atomic_folder,
    bound_heap_growth,
    check_output_folder,
    console,
    print_json,
    shown,
    stdout,
    user_errors,
)

app = typer.Typer(help="Build and maintain a searchable index of sounds.", no_args_is_help=True)

INDEX_OPTION = typer.Option(..., "--index", help="The index folder (made by the first `add` if missing).")
MODEL_OPTION = typer.Option(None, help="An embedding model: shipped name or checkpoint path "
                                       "(default: the index's own model, else the default model).")


def _rows(inputs: list[Path]):
    from auralign.audio.io import find_audio_files
    from auralign.data.manifest import ManifestRow, read_manifest

    if len(inputs) == 1 and inputs[0].suffix.lower() in (".jsonl", ".csv", ".tsv"):
        return read_manifest(inputs[0])
    return [ManifestRow(audio=path) for path in find_audio_files(inputs)]


def _model_name(model: str | None):
    from auralign.models.factory import DEFAULT_MODEL

    return model or DEFAULT_MODEL


@app.command("build")
@user_errors
def build(inputs: list[Path] = typer.Argument(..., help="Audio files, folders, or one manifest."),
          out: Path = typer.Option(..., help="Index folder to write."),
          model: str | None = MODEL_OPTION,
          force: bool = FORCE,
          max_seconds: float | None = MAX_SECONDS) -> None:
    """Embed every clip and write a new index folder (faiss vectors + SQLite metadata).

    Under `torchrun` or `accelerate launch` (WORLD_SIZE > 1) the ranks share the work (docs/app.md)."""
    from auralign.apps.distributed import build_distributed, world
    from auralign.apps.search_index import build_index
    from auralign.cli.audio_cmds import report_failures
    from auralign.data.feature_cache import FeatureCache
    from auralign.models.factory import load_model

    check_output_folder(out, force=force)
    bound_heap_growth()
    name = _model_name(model)
    loaded = load_model(name)
    rows, cache = _rows(inputs), FeatureCache(loaded.audio_encoder, max_seconds=max_seconds)
    rank, size = world()
    shards = out.parent / f".{out.name}.shards"  # under torchrun: every rank writes a shard, rank 0 merges
    if size > 1 and rank != 0:
        build_distributed(loaded, rows, cache, name, None, shards)
        return
    with atomic_folder(out) as tmp:
        index, failures = (build_distributed(loaded, rows, cache, name, tmp, shards) if size > 1
                           else build_index(loaded, rows, cache, name, tmp))
    console.print(f"indexed {index.ntotal} clips into {shown(out)} ({index.store.kind} search)", highlight=False)
    report_failures(failures, index.ntotal, strict=False)


def load_index(directory: Path):  # SearchIndex is imported lazily: faiss is heavy
    """`SearchIndex.load` with one line for a damaged index instead of a faiss or SQLite traceback."""
    import sqlite3

    from auralign.apps.search_index import SearchIndex
    from auralign.errors import AuralignError

    try:
        return SearchIndex.load(directory)
    except (RuntimeError, ValueError, KeyError, UnicodeDecodeError, sqlite3.DatabaseError) as error:
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        raise AuralignError(f"{shown(directory)}: damaged search index ({reason[:200]})") from None


def _open(index_dir: Path, model: str | None):
    """The index (created on first use) and its model, loaded once."""
    from auralign.apps.search_index import SearchIndex, embed_dim
    from auralign.models.factory import load_model

    if index_dir.is_dir() and any(index_dir.iterdir()):
        index = load_index(index_dir)
        if model and model != index.model_name:
            raise typer.BadParameter(f"the index was built with {index.model_name}, not {model}")
        return index, load_model(index.model_name)
    loaded = load_model(_model_name(model))
    return SearchIndex.create(index_dir, _model_name(model), embed_dim(loaded)), loaded


@app.command("add")
@user_errors
def add(folders: list[Path] = typer.Argument(..., help="Folders or files to add."),
        index: Path = INDEX_OPTION, model: str | None = MODEL_OPTION,
        max_seconds: float | None = MAX_SECONDS) -> None:
    """Embed and add the files not indexed yet (already indexed files are left as they are)."""
    from auralign.cli.audio_cmds import report_failures
    from auralign.data.feature_cache import FeatureCache
    from auralign.data.manifest import ManifestRow

    bound_heap_growth()
    library, loaded = _open(index, model)
    cache = FeatureCache(loaded.audio_encoder, max_seconds=max_seconds)
    added, failures = 0, []
    for folder in folders:
        new, _, _, _ = library.scan(folder)
        done, failed = library.add_rows(loaded, cache, [ManifestRow(audio=p) for p in new], _root(folder))
        added, failures = added + len(done), failures + failed
    library.save()
    console.print(f"added {added} clips; the index holds {library.ntotal}", highlight=False)
    if failures:
        report_failures(failures, max(added, 1), strict=False)


@app.command("remove")
@user_errors
def remove(paths: list[Path] = typer.Argument(..., help="Folders or files to drop from the index."),
           index: Path = INDEX_OPTION) -> None:
    """Drop every indexed file at or below the given paths (the files themselves are not touched)."""
    library = load_index(index)
    removed = sum(library.remove(path) for path in paths)
    library.save()
    console.print(f"removed {removed} clips; the index holds {library.ntotal}", highlight=False)


@app.command("update")
@user_errors
def update(folders: list[Path] = typer.Argument(..., help="Folders to rescan."),
           index: Path = INDEX_OPTION, model: str | None = MODEL_OPTION,
           as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
           max_seconds: float | None = MAX_SECONDS) -> None:
    """Rescan by size and mtime: embed new and changed files, drop deleted ones; nothing else is read."""
    library, loaded = _open(index, model)
    reports = _update(library, loaded, folders, max_seconds)
    if as_json:
        print_json({str(folder): {"added": [str(p) for p in r.added], "changed": [str(p) for p in r.changed],
                                  "removed": r.removed, "unchanged": r.unchanged,
                                  "failures": [{"audio": str(p), "reason": why} for p, why in r.failures]}
                    for folder, r in zip(folders, reports, strict=True)})


def _update(library, loaded, folders: list[Path], max_seconds: float | None, quiet: bool = False) -> list:
    from auralign.data.feature_cache import FeatureCache

    bound_heap_growth()
    cache = FeatureCache(loaded.audio_encoder, max_seconds=max_seconds)
    reports = [library.update(loaded, cache, folder, progress=not quiet) for folder in folders]
    library.save()
    for folder, report in zip(folders, reports, strict=True):
        if not quiet or report.added or report.changed or report.removed:
            console.print(f"{shown(folder)}: {report.summary()}", highlight=False)
        for path, reason in report.failures:
            console.print(f"[red]failed:[/red] {shown(path)}: {shown(reason)}", highlight=False, soft_wrap=True)
    return reports


@app.command("watch")
@user_errors
def watch(folders: list[Path] = typer.Argument(..., help="Folders to follow."),
          index: Path = INDEX_OPTION, model: str | None = MODEL_OPTION,
          interval: float = typer.Option(10.0, help="Seconds between rescans."),
          rounds: int = typer.Option(0, help="Stop after this many rescans (0: until Ctrl-C)."),
          max_seconds: float | None = MAX_SECONDS) -> None:
    """Rescan the folders every --interval seconds (as `update`), printing what changed."""
    library, loaded = _open(index, model)
    done = 0
    try:
        while True:
            _update(library, loaded, folders, max_seconds, quiet=done > 0)
            done += 1
            if rounds and done >= rounds:
                return
            time.sleep(interval)
    except KeyboardInterrupt:
        console.print(f"stopped after {done} rescans", highlight=False)


@app.command("tag")
@user_errors
def tag(index: Path = INDEX_OPTION,
        labels: Path = typer.Option(..., help="A text file with one label per line."),
        top_k: int = typer.Option(3, help="Tags kept per clip."),
        min_score: float = typer.Option(0.05, help="Lowest score (softmax over the labels) kept as a tag.")
        ) -> None:
    """Auto-tag every indexed clip with its best labels from a list; scores are stored with the tags."""
    from auralign.errors import AuralignError
    from auralign.models.factory import load_model

    names = list(dict.fromkeys(line.strip() for line in labels.read_text(encoding="utf-8").splitlines()
                               if line.strip() and not line.startswith("#")))
    if len(names) < 2:
        raise AuralignError(f"{shown(labels)}: give at least two labels, one per line")
    library = load_index(index)
    tagged = library.tag(load_model(library.model_name), names, top_k=top_k, min_score=min_score)
    library.save()
    console.print(f"tagged {tagged} clips from {len(names)} labels", highlight=False)


def _root(path: Path) -> Path:
    resolved = path.resolve()
    return resolved if resolved.is_dir() else resolved.parent


def search(index: Path = typer.Argument(..., help="An index folder from `auralign index build`."),
           query: str | None = typer.Argument(None, help="What to look for, in words."),
           audio: Path | None = typer.Option(None, help="Search by example: an audio file."),
           like: int | None = typer.Option(None, help="More like this: an indexed item's id."),
           folder: str | None = typer.Option(None, help="Only items in this folder (or below it)."),
           tag: str | None = typer.Option(None, help="Only items with this tag."),
           k: int = typer.Option(10, "-k", min=1, max=1000, help="How many results."),
           as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
           max_seconds: float | None = MAX_SECONDS) -> None:
    """Find the sounds that best match a text query, an audio file or an indexed item."""
    _search(index, query, audio, like, folder, tag, k, as_json, max_seconds)


@user_errors
def _search(index_dir: Path, query: str | None, audio: Path | None, like: int | None, folder: str | None,
            tag: str | None, k: int, as_json: bool, max_seconds: float | None) -> None:
    from auralign.data.feature_cache import FeatureCache
    from auralign.errors import AuralignError
    from auralign.models.factory import load_model

    if sum(x is not None for x in (query, audio, like)) != 1:
        raise AuralignError("give exactly one of QUERY, --audio or --like")
    bound_heap_growth()
    library = load_index(index_dir)
    filters = {"folder": folder, "tag": tag}
    if like is not None:
        hits = library.similar(like, k, **filters)
    else:
        model = load_model(library.model_name)
        hits = (library.search_text(model, query, k, **filters) if query is not None
                else library.search_audio(model, FeatureCache(model.audio_encoder, max_seconds=max_seconds),
                                          audio, k, **filters))
    if as_json:
        print_json({"query": query, "audio": audio, "like": like, "model": library.model_name,
                    "hits": [{"score": h.score, "vector_score": h.vector_score, **h.item} for h in hits]})
        return
    for rank, hit in enumerate(hits, 1):
        tags = ", ".join(t["tag"] for t in hit.item["tags"][:3])
        stdout.print(f"{rank:3d}  {hit.score:.3f}  #{hit.item['id']}  {shown(hit.item['path'])}"
                     + (f"  [{shown(tags)}]" if tags else ""), highlight=False)


def serve(model: str | None = typer.Option(None, help="Shipped model name or checkpoint path "
                                                      "(default: the index's model, else the default model)."),
          index: Path | None = typer.Option(None, help="A search index folder to serve search from."),
          host: str = typer.Option("127.0.0.1", help="Address to listen on (loopback unless given)."),
          port: int = typer.Option(8000, help="Port."),
          token: str | None = typer.Option(None, envvar="AURALIGN_TOKEN",
                                           help="Bearer token required on every route (or AURALIGN_TOKEN)."),
          insecure: bool = typer.Option(False, "--insecure",
                                        help="Allow a non-loopback --host without a token."),
          max_upload_mb: float = typer.Option(50.0, help="Largest accepted upload, in MB."),
          max_seconds: float = typer.Option(600.0, help="Longest accepted upload, in decoded seconds."),
          captioner: str | None = typer.Option(None, help="A generative model (e.g. mats-caption, slit) loaded "
                                               "once to serve /caption and /ask (default: --model, if it "
                                               "generates text)."),
          caption_precision: str = opts.PRECISION) -> None:
    """Serve the sound-library page and the HTTP API (FastAPI; API docs at /docs)."""
    _serve(model, index, host, port, token, insecure, max_upload_mb, max_seconds, captioner, caption_precision)


@user_errors
def _serve(model_name: str | None, index_dir: Path | None, host: str, port: int, token: str | None,
           insecure: bool, max_upload_mb: float, max_seconds: float, captioner_name: str | None,
           caption_precision: str) -> None:
    import uvicorn

    from auralign.apps.limits import ServerLimits, check_bind
    from auralign.apps.server import create_app
    from auralign.models.factory import load_captioner, load_model

    check_bind(host, token, insecure)
    bound_heap_growth()
    limits = ServerLimits(max_upload_bytes=int(max_upload_mb * 2**20), max_seconds=max_seconds)
    index = load_index(index_dir) if index_dir else None
    if index is not None and model_name and model_name != index.model_name:
        raise typer.BadParameter(f"the index was built with {index.model_name}, not {model_name}")
    name = index.model_name if index is not None else _model_name(model_name)
    model = load_model(name)
    captioner = load_captioner(captioner_name) if captioner_name else None
    opts.with_generation_precision(captioner or model, caption_precision)
    app = create_app(model, name, index, token=token, limits=limits, captioner=captioner)
    uvicorn.run(app, host=host, port=port)
