"""`auralign bench-eval DATASET --root PATH --model NAME`: a standard benchmark from its official layout."""

from __future__ import annotations

import json
import re
import tempfile
from contextlib import ExitStack
from pathlib import Path

import typer

from auralign.cli.common import console, print_json, user_errors


def _report_stem(dataset: str, model: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", f"{dataset}_{Path(model).name}")


@user_errors
def bench_eval(
    dataset: str = typer.Argument(..., help="esc50, urbansound8k, fsd50k, gtzan, nsynth, nsynth-source, tut2017, "
                                            "vggsound, clotho, audiocaps, musiccaps, clotho-aqa."),
    root: Path = typer.Option(..., "--root", help="The dataset's folder, in its official layout "
                                                  "(see docs/benchmarks.md)."),
    model: str = typer.Option("general", help="Shipped model name or checkpoint path."),
    split: str | None = typer.Option(None, help="Official split/fold to evaluate (default: the one papers use)."),
    out: Path | None = typer.Option(None, help="Folder to write <dataset>_<model>.md and .json results into."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of the markdown table."),
    template: list[str] = typer.Option(None, help="Zero-shot prompt template(s) with '{label}' (repeatable)."),
    cache: bool = typer.Option(True, help="Reuse (and fill) the frame-token cache in $AURALIGN_HOME/features."),
    linear_probe: bool = typer.Option(False, "--linear-probe", help="Also probe the frozen audio encoder "
                                      "(classification benchmarks; official folds where they exist)."),
) -> None:
    """Evaluate a model on a standard benchmark with its official split and protocol; print a results table."""
    from auralign.data.feature_cache import FeatureCache
    from auralign.evaluation.benchmarks import run_benchmark
    from auralign.evaluation.zeroshot import DEFAULT_TEMPLATES
    from auralign.models.factory import load_model

    loaded = load_model(model)
    with ExitStack() as stack:
        cache_root = None if cache else stack.enter_context(tempfile.TemporaryDirectory(prefix="auralign-features-"))
        report = run_benchmark(dataset, root, loaded, split, FeatureCache(loaded.audio_encoder, root=cache_root),
                               model_name=model, templates=template or DEFAULT_TEMPLATES, progress=not as_json,
                               linear_probe=linear_probe)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        stem = _report_stem(report.benchmark.name, model)
        (out / f"{stem}.md").write_text(report.to_markdown())
        (out / f"{stem}.json").write_text(json.dumps(report.to_json(), indent=2, default=str) + "\n")
        console.print(f"wrote {out / stem}.md and .json", highlight=False)
    if as_json:
        print_json(report.to_json())
    else:
        typer.echo(report.to_markdown(), nl=False)
