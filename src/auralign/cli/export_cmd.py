"""`auralign export onnx`: a model's audio and text towers as ONNX files, checked against PyTorch."""

from __future__ import annotations

from pathlib import Path

import typer

from auralign.cli.common import console, print_json, shown, user_errors

app = typer.Typer(help="Export models to other runtimes.", no_args_is_help=True)


@app.command("onnx")
def onnx(model: str = typer.Option("general", help="Shipped model name or checkpoint path."),
         out: Path = typer.Option(..., help="Folder to write the ONNX files, tokenizer and export.json to."),
         as_json: bool = typer.Option(False, "--json", help="Print export.json.")) -> None:
    """Write audio_encoder.onnx, audio_head.onnx, text_tower.onnx (parity-checked with ONNX Runtime)."""
    _onnx(model, out, as_json)


@user_errors
def _onnx(model_name: str, out: Path, as_json: bool) -> None:
    from auralign.models.export import export_model
    from auralign.models.factory import load_model

    info = export_model(load_model(model_name), out)
    if as_json:
        print_json(info)
    else:
        parity = info["parity"]
        console.print(f"wrote {', '.join(info['files'])} to {shown(out)}; parity: audio cosine "
                      f"{parity['audio_end_to_end_min_cosine']:.6f}, text cosine {parity['text_tower_min_cosine']:.6f}",
                      highlight=False)
