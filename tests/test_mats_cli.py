"""The MATS commands on tiny backbones: the Santa figure from a paired manifest of short tones."""

from __future__ import annotations

import json
from pathlib import Path

import soundfile as sf
import torch
from typer.testing import CliRunner

from auralign.cli.mats_cmd import app
from auralign.evaluation.santa_figure import santa_panels
from auralign.models.mats import MatsModel
from data_factory import tone
from test_mats import TEXTS, folders, tiny_config  # noqa: F401  (folders is a fixture)


def paired_manifest(root: Path, n: int = 8) -> Path:
    lines = []
    for i in range(n):
        path = root / f"clip{i}.wav"
        sf.write(path, tone(0.5, 44100, frequency=200.0 * (i + 1))[:, 0], 44100)
        lines.append(json.dumps({"audio": str(path), "captions": [TEXTS[i % len(TEXTS)]], "split": "train"}))
    manifest = root / "manifest.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def saved_model(folders: dict[str, Path], root: Path) -> Path:  # noqa: F811
    torch.manual_seed(0)
    model = MatsModel(tiny_config(folders))
    model.build_memory(model.embed_text(TEXTS))
    return model.save_pretrained(root / "mats")


def test_santa_figure_writes_a_png_and_santa_closes_part_of_the_gap(folders, tmp_path: Path,  # noqa: F811
                                                                     monkeypatch) -> None:
    monkeypatch.setenv("AURALIGN_HOME", str(tmp_path / "home"))
    manifest = paired_manifest(tmp_path)
    model_dir = saved_model(folders, tmp_path)
    out = tmp_path / "figure.png"
    result = CliRunner().invoke(app, ["santa-figure", str(manifest), "--model", str(model_dir), "--out", str(out),
                                      "--projection", "pca", "--clips", "8"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    stats = json.loads(result.stdout[result.stdout.index("{"):])
    assert set(stats) == {"clap", "noise", "memory", "santa"}
    # Santa moves audio towards the noisy text memory; memory-only moves it all the way.
    assert stats["memory"]["centroid_gap"] < stats["santa"]["centroid_gap"] < stats["noise"]["centroid_gap"]


def test_panels_pair_each_clip_with_its_own_caption(folders, tmp_path: Path, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setenv("AURALIGN_HOME", str(tmp_path / "home"))
    model = MatsModel.from_pretrained(saved_model(folders, tmp_path))
    panels = santa_panels(model, paired_manifest(tmp_path), "train", 5, seed=0)
    clap = panels["clap"]
    assert clap.text.shape == clap.audio.shape == (5, 16)
    assert {tuple(row) for row in clap.text.round(4)} <= {tuple(row) for row in model.embed_text(TEXTS).numpy().round(4)}
