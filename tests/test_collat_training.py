"""CoLLAT recipe and CLI on tiny random backbones: template captions, the caption table, a short
training run end to end (single-source + mixture manifests), and `auralign collat tokens`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf
import torch
from safetensors import safe_open
from typer.testing import CliRunner

from auralign.audio.io import load_audio
from auralign.backbones.factory import clear_backbone_cache
from auralign.cli.collat_cmd import app
from auralign.data.manifest import ManifestRow, write_manifest
from auralign.errors import AuralignError
from auralign.models.collat import CollatConfig, CollatModel
from auralign.models.factory import load_model
from auralign.training.collat import CaptionTable, template_captions
from auralign.training.recipe import load_run_config, run
from data_factory import tone


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def backbones(tiny_backbones: dict[str, Path]) -> dict[str, str]:
    clear_backbone_cache()
    return {"audio_encoder": str(tiny_backbones["aisfx"]), "text_encoder": str(tiny_backbones["bert"])}


def tiny_model(backbones: dict[str, str], num_tokens: int = 10) -> CollatModel:
    return CollatModel(CollatConfig(num_tokens=num_tokens, blocks=1, width=16, heads=2, ffn_hidden=16, **backbones))


def test_template_captions_cover_label_orders() -> None:
    assert template_captions(["dog"]) == ["This is a sound of dog."]
    two = template_captions(["dog", "rain"])
    assert two == ["This is a sound of dog and rain.", "This is a sound of rain and dog."]
    assert len(template_captions(["a", "b", "c", "d"])) == 6  # capped, not 24


def test_caption_table_ids_features_and_length_check(backbones: dict[str, str]) -> None:
    model = tiny_model(backbones)
    texts = ["a dog barks", "rain falls on the roof"]
    table = CaptionTable(model, texts)
    batch = table.lookup(["a dog barks"])
    assert batch["text_ids"].shape == (1, 5)  # [CLS] a dog barks [SEP]: trimmed to the batch's longest
    assert batch["text_mask"].all()
    torch.testing.assert_close(batch["text_features"], model.text_features(["a dog barks"]))
    with pytest.raises(AuralignError, match=r"raise model\.num_tokens"):
        CaptionTable(tiny_model(backbones, num_tokens=4), texts)


def write_clips(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    singles, mixtures = [], []
    for i, (label, split) in enumerate([("dog", "train"), ("rain", "train"), ("dog", "train"), ("rain", "train"),
                                        ("dog", "val"), ("rain", "val")]):
        path = folder / f"single{i}.wav"
        sf.write(path, tone(2.5, 44100, frequency=200.0 if label == "dog" else 900.0), 44100)
        singles.append(ManifestRow(audio=path, labels=[label], captions=[f"free text {i}"], split=split, id=f"s{i}"))
    for i, split in enumerate(["train", "train", "val"]):
        path = folder / f"mix{i}.wav"
        sf.write(path, tone(2.5, 44100, frequency=200.0) + tone(2.5, 44100, frequency=900.0), 44100)
        labels = ["dog", "rain"] if i % 2 == 0 else ["rain", "car"]
        mixtures.append(ManifestRow(audio=path, labels=labels, split=split, id=f"m{i}"))
    return write_manifest(singles, folder / "manifest.jsonl"), write_manifest(mixtures, folder / "mixtures.jsonl")


def test_short_training_run_and_token_export(backbones: dict[str, str], tmp_path: Path) -> None:
    manifest, mixtures = write_clips(tmp_path / "data")
    overrides = [f"data.manifest={manifest}", f"data.mixtures={mixtures}", f"data.cache_dir={tmp_path / 'cache'}",
                 f"model.audio_encoder={backbones['audio_encoder']}",
                 f"model.text_encoder={backbones['text_encoder']}", "model.num_tokens=12", "model.blocks=1",
                 "model.width=16", "model.heads=2", "model.ffn_hidden=16", "train.max_steps=3",
                 "train.batch_size=2", "train.log_every=1", f"train.output_dir={tmp_path / 'run'}"]
    final = run(load_run_config("collat", None, overrides))
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    train_rows = [row for row in log if row["kind"] == "train"]
    assert len(train_rows) == 3 and all({"cross_token", "cross_global", "uni_token"} <= set(r) for r in train_rows)
    evals = [row for row in log if row["kind"] == "eval"]
    assert evals and {"val_top1", "val_mAP"} <= set(evals[-1])
    model = load_model(final)
    assert isinstance(model, CollatModel) and model.config.num_tokens == 12

    out = tmp_path / "tokens.safetensors"
    result = CliRunner().invoke(app, ["tokens", str(tmp_path / "data" / "single0.wav"), "--out", str(out),
                                      "--model", str(final)])
    assert result.exit_code == 0, result.output
    with safe_open(str(out), "pt") as handle:
        tokens = handle.get_tensor("tokens")
        metadata = handle.metadata()
    assert tokens.shape == (1, 12, 32)
    assert metadata["text_encoder"] == backbones["text_encoder"]
    with torch.inference_mode():
        samples = load_audio(tmp_path / "data" / "single0.wav", model.audio_encoder.sample_rate)
        waveform = torch.from_numpy(samples)[None]
        encoded = model.audio_encoder(waveform)
        expected = model.audio_text_tokens(encoded.tokens, encoded.mask)
    torch.testing.assert_close(tokens, expected, atol=1e-4, rtol=1e-4)


def test_token_export_refuses_other_models(backbones: dict[str, str], tmp_path: Path) -> None:
    from auralign.models.clap import ClapConfig, ClapModel

    folder = ClapModel(ClapConfig(audio_encoder=backbones["audio_encoder"], text_encoder=backbones["text_encoder"],
                                  embed_dim=8, audio_width=16, audio_heads=2,
                                  projection_hidden=0)).save_pretrained(tmp_path / "clap")
    sf.write(tmp_path / "a.wav", tone(1.0, 44100), 44100)
    result = CliRunner().invoke(app, ["tokens", str(tmp_path / "a.wav"), "--out", str(tmp_path / "t.safetensors"),
                                      "--model", str(folder)])
    assert result.exit_code == 1 and "needs a CoLLAT model" in result.output
