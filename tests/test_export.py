"""`auralign export onnx`: the towers written as ONNX match the PyTorch model (run by ONNX Runtime)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from typer.testing import CliRunner

from app_factory import make_tiny_clap
from auralign.cli.main import app
from auralign.errors import AuralignError
from auralign.models.export import export_model


def test_cli_exports_towers_that_match_the_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AURALIGN_HOME", str(tmp_path / "home"))
    model = make_tiny_clap(tmp_path / "backbones")
    folder = model.save_pretrained(tmp_path / "model")
    out = tmp_path / "onnx"
    result = CliRunner().invoke(app, ["export", "onnx", "--model", str(folder), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads((out / "export.json").read_text())
    assert set(info["files"]) == {"audio_encoder.onnx", "audio_head.onnx", "text_tower.onnx"}
    assert (out / "tokenizer").is_dir()
    assert info["parity"]["text_tower_min_cosine"] >= 0.9999
    # Independently of the exporter's own check: texts it never saw, through the saved tokenizer.
    texts = ["an engine idling", "birds"]
    batch = model.text_encoder.tokenize(texts)
    session = ort.InferenceSession(str(out / "text_tower.onnx"), providers=["CPUExecutionProvider"])
    onnx_vectors = session.run(None, {"input_ids": batch.input_ids.numpy(),
                                      "attention_mask": batch.attention_mask.numpy()})[0]
    with torch.inference_mode():
        expected = model.embed_text(texts).numpy()
    np.testing.assert_allclose(onnx_vectors, expected, atol=1e-4)


def test_models_without_towers_are_refused(tmp_path: Path) -> None:
    with pytest.raises(AuralignError, match="no audio and text towers"):
        export_model(torch.nn.Linear(2, 2), tmp_path)
