"""The `auralign` command: one Typer app with a sub-command group per area."""

from __future__ import annotations

import os

import typer

from auralign.cli import (
    audio_cmds,
    bench_cmd,
    collat_cmd,
    data_cmd,
    demo_cmd,
    eval_cmd,
    export_cmd,
    generate_cmds,
    index_cmd,
    mats_cmd,
    models_cmd,
    train_cmd,
)

# Weights come from local folders only; a hub look-up can never succeed here and only adds delay.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
# The CLI draws its own progress; per-tensor bars from transformers only clutter the output.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

app = typer.Typer(
    name="auralign",
    help="Audio-language models on frozen backbones: classify, search, caption and ask about sound.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(models_cmd.app, name="models")
app.add_typer(data_cmd.app, name="data")
app.add_typer(eval_cmd.app, name="eval")
app.add_typer(export_cmd.app, name="export")
app.add_typer(train_cmd.app, name="train")
app.command("embed")(audio_cmds.embed)
app.command("embed-text")(audio_cmds.embed_text)
app.command("classify")(audio_cmds.classify)
app.command("caption")(generate_cmds.caption)
app.command("ask")(generate_cmds.ask)
app.command("demo")(demo_cmd.demo)
app.add_typer(index_cmd.app, name="index")
app.command("search")(index_cmd.search)
app.command("serve")(index_cmd.serve)
app.command("bench-eval")(bench_cmd.bench_eval)
app.add_typer(collat_cmd.app, name="collat")
app.add_typer(mats_cmd.app, name="mats")


if __name__ == "__main__":
    app()
