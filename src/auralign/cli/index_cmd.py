"""`auralign index build`, `auralign search` and `auralign serve`."""

from __future__ import annotations

from pathlib import Path

import typer

from auralign.cli.common import console, print_json, stdout, user_errors

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
          model: str = typer.Option("clap", help="An embedding model: shipped name or checkpoint path.")) -> None:
    """Embed every clip and write a faiss index folder."""
    from auralign.apps.search_index import SearchIndex
    from auralign.cli.audio_cmds import report_failures
    from auralign.data.feature_cache import FeatureCache
    from auralign.models.factory import load_model

    loaded = load_model(model)
    rows = _rows(inputs)
    index, failures = SearchIndex.build(loaded, rows, FeatureCache(loaded.audio_encoder), model)
    index.save(out)
    console.print(f"indexed {index.index.ntotal} clips into {out}")
    report_failures(failures, index.index.ntotal, strict=False)


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

    index = SearchIndex.load(index_dir)
    hits = index.search_text(load_model(index.model_name), [query], k)[0]
    if as_json:
        print_json({"query": query, "model": index.model_name, "hits": [{"score": h.score, **h.item} for h in hits]})
        return
    for rank, hit in enumerate(hits, 1):
        stdout.print(f"{rank:3d}  {hit.score:.3f}  {hit.item['audio']}", highlight=False)


def serve(model: str = typer.Option("clap", help="Shipped model name or checkpoint path."),
          index: Path | None = typer.Option(None, help="A search index folder to serve /search from."),
          host: str = typer.Option("127.0.0.1", help="Address to listen on."),
          port: int = typer.Option(8000, help="Port.")) -> None:
    """Serve the model over HTTP (FastAPI; docs at /docs)."""
    _serve(model, index, host, port)


@user_errors
def _serve(model_name: str, index_dir: Path | None, host: str, port: int) -> None:
    import uvicorn

    from auralign.apps.search_index import SearchIndex
    from auralign.apps.server import create_app
    from auralign.models.factory import load_model

    index = SearchIndex.load(index_dir) if index_dir else None
    uvicorn.run(create_app(load_model(model_name), model_name, index), host=host, port=port)
