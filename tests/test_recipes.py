"""The recipes as data: every configs/*.yaml loads strictly into its method's run config, and the
shipped models' config files train for 2 steps through `auralign train METHOD --config FILE` on tiny
backbones and tiny data (the overrides swap in the tiny backbones, sizes and files; every other key is
the file's own), chained as the stages chain (SLIT 1 -> 2 -> 3, MATS warm-up -> LoRA)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from auralign.backbones.factory import clear_backbone_cache
from auralign.cli.main import app
from auralign.data.manifest import ManifestRow, write_manifest
from auralign.errors import AuralignError
from auralign.models.clap import ClapConfig, ClapModel
from auralign.models.factory import load_model
from auralign.training.recipe import RECIPES, load_run_config, method_of
from data_factory import tone

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
METHOD_OF_FILE = {"general.yaml": "clap"}  # else the file name's first word
LABELS = ["dog", "rain", "car", "bird"]


def file_method(path: Path) -> str:
    return METHOD_OF_FILE.get(path.name, path.name.split("-")[0])


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_config_file_loads_strictly(path: Path) -> None:
    config = load_run_config(file_method(path), path)
    assert method_of(config) == file_method(path)


def test_the_config_files_cover_every_method() -> None:
    assert {file_method(path) for path in CONFIGS.glob("*.yaml")} == set(RECIPES)


def test_a_typo_in_a_config_key_is_an_error(tmp_path: Path) -> None:
    config = tmp_path / "typo.yaml"
    config.write_text((CONFIGS / "clap-fsdd.yaml").read_text().replace("max_steps", "max_step"))
    with pytest.raises(AuralignError, match=r"unknown config key train\.max_step"):
        load_run_config("clap", config)


@pytest.fixture(scope="module")
def tiny(tiny_backbones: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Backbones, a labelled manifest (train / val), a text corpus and a tiny CLAP for MATS."""
    clear_backbone_cache()
    root = tmp_path_factory.mktemp("recipes")
    rows = []
    for i in range(12):
        label = LABELS[i % 4]
        path = root / f"clip{i}.wav"
        sf.write(path, tone(0.6 + 0.1 * (i % 3), 16000, frequency=200.0 * (1 + i % 4)), 16000)
        rows.append(ManifestRow(audio=path, labels=[label], captions=[f"a {label}"], id=f"c{i}",
                                split="val" if i >= 8 else "train"))
    rows.append(ManifestRow(audio=root / "clip0.wav", labels=["engine"], id="unseen", split="test_unseen"))
    corpus = root / "text_corpus.jsonl"  # the engine row is left out by the recipe's exclude_labels_manifest
    corpus.write_text("".join(json.dumps({"text": f"a {label} sound", "instruction": "What is it?", "answer": label,
                                          "task": "cls"}) + "\n" for label in [*LABELS, "engine"]))
    torch.manual_seed(0)
    clap = ClapModel(ClapConfig(audio_encoder=str(tiny_backbones["aisfx"]), text_encoder=str(tiny_backbones["bert"]),
                                embed_dim=16, audio_layers=0, projection_hidden=0)).save_pretrained(root / "clap")
    return {**tiny_backbones, "manifest": write_manifest(rows, root / "manifest.jsonl"), "corpus": corpus,
            "clap": clap, "cache": root / "cache"}


def audio_data(tiny: dict[str, Path]) -> list[str]:
    return [f"data.manifest={tiny['manifest']}", "data.val_split=val", f"data.cache_dir={tiny['cache']}",
            "data.val_max_clips=2"]


def tiny_overrides(method: str, tiny: dict[str, Path]) -> list[str]:
    backbones = [f"model.audio_encoder={tiny['aisfx']}", f"model.text_encoder={tiny['bert']}"]
    if method == "clap":  # general.yaml's locked text head needs embed_dim = the text encoder's width
        return [*backbones, *audio_data(tiny), "model.embed_dim=32", "model.audio_width=16", "model.audio_heads=2",
                "model.projection_hidden=16", "model.teacher_weight=0"]
    if method == "collat":
        return [*backbones, *audio_data(tiny), "model.num_tokens=10", "model.blocks=1", "model.width=16",
                "model.heads=2", "model.ffn_hidden=16"]
    if method == "slit":
        return [*backbones, *audio_data(tiny), f"model.language_model={tiny['llama']}", "model.qformer.hidden_size=32",
                "model.qformer.num_layers=2", "model.qformer.num_heads=2", "model.qformer.intermediate_size=64",
                "model.qformer.audio_width=32", "model.qformer.num_queries=4", "model.embed_dim=16",
                "model.max_text_length=12"]
    return [f"model.alignment_model={tiny['clap']}", f"model.language_model={tiny['llama']}", "model.prefix_length=3",
            "model.mapper_width=16", "model.mapper_layers=1", "model.mapper_heads=2", "model.santa.memory_size=8",
            "model.santa.clusters=2", "model.santa.top_l=3", f"data.text_corpus={tiny['corpus']}",
            f"data.exclude_labels_manifest={tiny['manifest']}",
            f"data.val_manifest={tiny['manifest']}", "data.val_max_clips=2", f"data.cache_dir={tiny['cache']}"]


# (config file, extra overrides naming the earlier stage's output: {out} is the run folder root)
CHAINS = {
    "clap": [("general.yaml", [])],
    "collat": [("collat-corpus.yaml", [])],
    "slit": [("slit-corpus-stage1.yaml", []), ("slit-corpus-stage2.yaml", ["init_from={out}/slit-corpus-stage1/final"]),
             ("slit-corpus-stage3.yaml", ["init_from={out}/slit-corpus-stage2/final"])],
    "mats": [("mats-corpus-warmup.yaml", []),
             ("mats-corpus-lora.yaml", ["init_mapper_from={out}/mats-corpus-warmup/final"])],
}


@pytest.mark.parametrize("method", list(CHAINS))
def test_each_shipped_recipe_trains_two_steps_from_its_config_file(method: str, tiny: dict[str, Path],
                                                                   tmp_path: Path) -> None:
    for name, chained in CHAINS[method]:
        out = tmp_path / name.removesuffix(".yaml")
        args = ["train", method, "--config", str(CONFIGS / name), *tiny_overrides(method, tiny),
                *[arg.format(out=tmp_path) for arg in chained], "train.max_steps=2", "train.batch_size=4",
                "train.eval_every=2", "train.save_every=2", f"train.output_dir={out}"]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, f"{name}: {result.output}"
        assert f"final model: {out / 'final'}" in result.output.replace("\n", "")
        log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
        assert max(row["step"] for row in log) == 2
        assert any(row["kind"] == "eval" and 0 <= row["val_top1"] <= 1 for row in log), name
        saved = json.loads((out / "final" / "config.json").read_text())
        assert saved["model_type"] == method and load_model(out / "final").model_type == method
        if method == "slit":
            assert saved["stage"] == load_run_config("slit", CONFIGS / name).model.stage
