"""`auralign index build`, `auralign search` and `auralign serve`."""

from __future__ import annotations

from pathlib import Path

import typer

from auralign.cli.common import (
    FORCE,
    atomic_folder,
    check_output_folder,
    console,
    print_json,
    shown,
    stdout,
    user_errors,
)

app = typer.Typer(help="Build a searchable index of sounds.", no_args_is_help=True)


def _rows(inputs: list[Path]):
    from auralign.audio.io import find_audio_files
    from auralign.data.manifest import ManifestRow, read_manifest

    if len(inputs) == 1 and inputs[0].suffix.lower() in (".jsonl", ".csv", ".tsv"):
        return read_manifest(inputs[0])
    return [ManifestRow(audio=path) for path in find_audio_files(inputs)]


@app.command("build")
@user_errors
def build(inputs: list[Path] = typer.Argument(..., help="Audio files, folders, or one manifest."),
          out: Path = typer.Option(..., help="Index folder to write."),
          model: str = typer.Option("clap", help="An embedding model: shipped name or checkpoint path."),
          force: bool = FORCE) -> None:
    """Embed every clip and write a faiss index folder."""
    from auralign.apps.search_index import SearchIndex
    from auralign.cli.audio_cmds import report_failures
    from auralign.data.feature_cache import FeatureCache
    from auralign.models.factory import load_model

    check_output_folder(out, force=force)
    loaded = load_model(model)
    rows = _rows(inputs)
    index, failures = SearchIndex.build(loaded, rows, FeatureCache(loaded.audio_encoder), model)
    with atomic_folder(out) as tmp:
        index.save(tmp)
    console.print(f"indexed {index.index.ntotal} clips into {shown(out)}", highlight=False)
    report_failures(failures, index.index.ntotal, strict=False)


def load_index(directory: Path):  # noqa: ANN201 (SearchIndex is imported lazily: faiss is heavy)
    """`SearchIndex.load` with one line for a truncated or corrupted index instead of faiss's traceback."""
    from auralign.apps.search_index import SearchIndex
    from auralign.errors import AuralignError

    try:
        return SearchIndex.load(directory)
    except (RuntimeError, ValueError, KeyError, UnicodeDecodeError) as error:
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        raise AuralignError(f"{shown(directory)}: damaged search index ({reason[:200]})") from None


def search(index: Path = typer.Argument(..., help="An index folder from `auralign index build`."),
           query: str = typer.Argument(..., help="What to look for, in words."),
           k: int = typer.Option(10, "-k", help="How many results."),
           as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Find the sounds that best match a text query."""
    _search(index, query, k, as_json)


@user_errors
def _search(index_dir: Path, query: str, k: int, as_json: bool) -> None:
    from auralign.apps.search_index import SearchIndex
    from auralign.models.factory import load_model

    index = load_index(index_dir)
    hits = index.search_text(load_model(index.model_name), [query], k)[0]
    if as_json:
        print_json({"query": query, "model": index.model_name, "hits": [{"score": h.score, **h.item} for h in hits]})
        return
    for rank, hit in enumerate(hits, 1):
        stdout.print(f"{rank:3d}  {hit.score:.3f}  {shown(hit.item['audio'])}", highlight=False)


def serve(model: str = typer.Option("clap", help="Shipped model name or checkpoint path."),
          index: Path | None = typer.Option(None, help="A search index folder to serve /search from."),
          host: str = typer.Option("127.0.0.1", help="Address to listen on (loopback unless given)."),
          port: int = typer.Option(8000, help="Port."),
          token: str | None = typer.Option(None, envvar="AURALIGN_TOKEN",
                                           help="Bearer token required on every route (or AURALIGN_TOKEN)."),
          insecure: bool = typer.Option(False, "--insecure",
                                        help="Allow a non-loopback --host without a token."),
          max_upload_mb: float = typer.Option(50.0, help="Largest accepted upload, in MB."),
          max_seconds: float = typer.Option(600.0, help="Longest accepted upload, in decoded seconds.")) -> None:
    """Serve the model over HTTP (FastAPI; docs at /docs)."""
    _serve(model, index, host, port, token, insecure, max_upload_mb, max_seconds)


@user_errors
def _serve(model_name: str, index_dir: Path | None, host: str, port: int, token: str | None, insecure: bool,
           max_upload_mb: float, max_seconds: float) -> None:
    import uvicorn

    from auralign.apps.limits import ServerLimits, check_bind
    from auralign.apps.search_index import SearchIndex
    from auralign.apps.server import create_app
    from auralign.models.factory import load_model

    check_bind(host, token, insecure)
    limits = ServerLimits(max_upload_bytes=int(max_upload_mb * 2**20), max_seconds=max_seconds)
    index = load_index(index_dir) if index_dir else None
    app = create_app(load_model(model_name), model_name, index, token=token, limits=limits)
    uvicorn.run(app, host=host, port=port)
