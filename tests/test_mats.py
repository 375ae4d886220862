"""MATS on tiny random backbones: text-only training, Santa at inference, text-matching scores,
checkpoints, and a training run during which any attempt to read audio fails the test."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from auralign.backbones.base import GREEDY, Decoding
from auralign.data.manifest import ManifestRow
from auralign.data.text_rows import TextRow, read_text_corpus
from auralign.errors import AuralignError
from auralign.models.clap import ClapConfig, ClapModel
from auralign.models.factory import load_model
from auralign.models.mats import MatsConfig, MatsModel
from auralign.models.santa import SantaConfig
from auralign.training.config import TrainConfig
from auralign.training.mats import (
    MatsDataConfig,
    MatsRunConfig,
    cap_per_task,
    caption_rows,
    label_rows,
    load_mapper_weights,
    without_answers,
)
from auralign.training.recipe import run

TEXTS = ["a dog barks", "a cat meows", "rain falls on the roof", "a loud car engine", "a bird sings",
         "the dog barks loud", "a puppy barking", "stock market news"]


@pytest.fixture(scope="module")
def folders(tiny_backbones: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    clap_config = ClapConfig(audio_encoder=str(tiny_backbones["aisfx"]), text_encoder=str(tiny_backbones["bert"]),
                             embed_dim=16, audio_layers=0, projection_hidden=0)
    torch.manual_seed(0)
    clap_folder = ClapModel(clap_config).save_pretrained(tmp_path_factory.mktemp("mats") / "clap")
    return {"clap": clap_folder, "llama": tiny_backbones["llama"]}


def tiny_config(folders: dict[str, Path], **overrides) -> MatsConfig:
    values = dict(alignment_model=str(folders["clap"]), language_model=str(folders["llama"]), prefix_length=3,
                  mapper_width=16, mapper_layers=2, mapper_heads=2, noise_std=0.05, answer_tokens=4,
                  santa=SantaConfig(memory_size=len(TEXTS), clusters=2, top_l=3))
    values.update(overrides)
    return MatsConfig(**values)


@pytest.fixture()
def model(folders: dict[str, Path]) -> MatsModel:
    torch.manual_seed(0)
    mats = MatsModel(tiny_config(folders))
    mats.build_memory(mats.embed_text(TEXTS))
    return mats


def batch_of(model: MatsModel, n: int = 4) -> dict:
    return {"text_embedding": model.embed_text(TEXTS[:n]), "instruction": ["What sound is this?"] * n,
            "answer": TEXTS[:n]}


def audio_tokens(model: MatsModel, n: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    return torch.randn(n, 5, model.audio_encoder.dim), torch.ones(n, 5, dtype=torch.bool)


def test_only_mapper_and_lora_train(model: MatsModel) -> None:
    model.train()
    loss = model.training_loss(batch_of(model))["loss"]
    loss.backward()
    with_grad = {name for name, p in model.named_parameters() if p.grad is not None}
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert with_grad == trainable
    assert all(name.startswith("mapper.") or "lora_" in name for name in trainable)
    assert any("lora_" in name for name in trainable) and any(name.startswith("mapper.") for name in trainable)
    assert not model.alignment.training


def test_without_lora_only_the_mapper_trains(folders: dict[str, Path]) -> None:
    mats = MatsModel(tiny_config(folders, lora_rank=0))
    mats.build_memory(mats.embed_text(TEXTS))
    mats.train()
    mats.training_loss(batch_of(mats))["loss"].backward()
    trainable = {name for name, p in mats.named_parameters() if p.requires_grad}
    assert trainable and all(name.startswith("mapper.") for name in trainable)
    assert all(p.grad is not None for name, p in mats.named_parameters() if p.requires_grad)


def test_noise_is_fresh_every_step_and_absent_when_zero(model: MatsModel) -> None:
    model.eval()
    batch = batch_of(model)
    with torch.no_grad():
        noisy = [model.training_loss(batch)["loss"] for _ in range(2)]
        model.config.noise_std = 0.0
        clean = [model.training_loss(batch)["loss"] for _ in range(2)]
    assert noisy[0] != noisy[1]
    assert clean[0] == clean[1]


def test_generation_passes_the_audio_embedding_through_santa(model: MatsModel, monkeypatch) -> None:
    tokens, mask = audio_tokens(model)
    seen = []
    original = model.santa.forward
    monkeypatch.setattr(model.santa, "forward", lambda z: seen.append(z) or original(z))
    texts = model.generate(tokens, mask, "What sound is this?", Decoding(max_new_tokens=3))
    assert len(texts) == 2 and all(isinstance(t, str) for t in texts)
    torch.testing.assert_close(seen[0], model.embed_audio_tokens(tokens, mask))
    model.config.santa.balance = 0.0
    torch.testing.assert_close(model.transfer(seen[0]), seen[0])
    model.config.santa.balance = 0.3
    assert not torch.allclose(model.transfer(seen[0]), seen[0])


def test_candidate_scores_are_cosines_of_the_generated_answer(model: MatsModel) -> None:
    tokens, mask = audio_tokens(model, 3)
    candidates = ["dog", "cat", "rain", "car engine"]
    scores = model.score_candidates(tokens, mask, candidates)
    answers = model.generate(tokens, mask, model.config.classify_instruction,
                             replace(GREEDY, max_new_tokens=model.config.answer_tokens))
    expected = model.match_vectors(answers) @ model.match_vectors(candidates).T
    assert scores.shape == (3, 4)
    torch.testing.assert_close(scores, expected)
    assert scores.abs().max() <= 1 + 1e-5


def test_checkpoint_holds_mapper_lora_and_memory_and_reloads_by_path(model: MatsModel, tmp_path: Path) -> None:
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)  # LoRA B starts at zero; make the adapters matter
    folder = model.save_pretrained(tmp_path / "mats", dtype=torch.float16)
    keys = set(load_file(str(folder / "model.safetensors")))
    assert {"santa.memory", "santa.centroids", "santa.cluster_of", "santa.built"} <= keys
    assert all(k.startswith(("mapper.", "santa.")) or "lora_" in k for k in keys)
    reloaded = load_model(folder)
    assert isinstance(reloaded, MatsModel)
    torch.testing.assert_close(reloaded.santa.memory, model.santa.memory.half().float())
    model.eval()
    model.load_weights(folder)  # same fp16-rounded weights
    tokens, mask = audio_tokens(model)
    assert reloaded.generate(tokens, mask, decoding=Decoding(max_new_tokens=4)) == model.generate(
        tokens, mask, decoding=Decoding(max_new_tokens=4))


def test_row_builders(tmp_path: Path) -> None:
    manifest_rows = [ManifestRow(audio=Path("a.wav"), labels=["seven"], captions=["the spoken digit seven"]),
                     ManifestRow(audio=Path("b.wav"), labels=["two"], captions=["a person saying two", "two"])]
    rows = label_rows(manifest_rows)
    assert [(r.text, r.answer) for r in rows] == [("a person saying two", "two"), ("the spoken digit seven", "seven"),
                                                 ("two", "two")]
    csv_file = tmp_path / "clotho.csv"
    csv_file.write_text("file_name,caption_1,caption_2\nx.wav,A dog barks.,Rain falls.\n")
    assert [r.answer for r in caption_rows(csv_file)] == ["A dog barks.", "Rain falls."]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(json.dumps({"text": "t", "instruction": "i", "answer": "a", "task": "cls"}) + "\n"
                      + json.dumps({"text": "u", "instruction": "j", "answer": "b", "task": "cap"}) + "\n")
    assert [r.text for r in read_text_corpus(corpus, tasks=["cap"])] == ["u"]


def test_unseen_answers_are_dropped_and_tasks_capped() -> None:
    rows = [TextRow(f"t{i}", "i", "Wolf Growl" if i % 3 == 0 else "dog", "cls" if i < 6 else "cap") for i in range(9)]
    assert [r.text for r in without_answers(rows, ["wolf growl"])] == ["t1", "t2", "t4", "t5", "t7", "t8"]
    capped = cap_per_task(rows, 2, seed=0)
    assert sorted(r.task for r in capped) == ["cap", "cap", "cls", "cls"]
    assert capped == sorted(capped, key=rows.index)
    assert cap_per_task(rows, 2, seed=0) == capped and cap_per_task(rows, 10, seed=0) == rows


def test_training_reads_no_audio(folders: dict[str, Path], tmp_path: Path, monkeypatch) -> None:
    """Every audio entry point raises: a text-only run must still train, save and build its memory."""
    import soundfile

    import auralign.audio.io as audio_io
    from auralign.data.feature_cache import FeatureCache

    def forbidden(*args, **kwargs):
        raise AssertionError("audio was read during text-only training")

    for module, name in [(audio_io, "load_audio"), (audio_io, "iter_windows"), (audio_io, "load_many"),
                         (soundfile, "read"), (soundfile, "SoundFile"), (soundfile, "info"),
                         (FeatureCache, "get"), (FeatureCache, "ensure")]:
        monkeypatch.setattr(module, name, forbidden)
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"text": t, "instruction": "What sound is this?", "answer": t.split()[-1],
                                          "task": "cls"}) + "\n" for t in TEXTS))
    config = MatsRunConfig(model=tiny_config(folders, santa=SantaConfig(memory_size=100, clusters=3)),
                           data=MatsDataConfig(text_corpus=str(corpus)),
                           train=TrainConfig(output_dir=str(tmp_path / "run"), max_steps=3, batch_size=2,
                                             lr=1e-3, save_every=2, log_every=1))
    final = run(config)
    reloaded = load_model(final)
    assert reloaded.santa.memory.shape == (100, 16) and bool(reloaded.santa.built)
    assert reloaded.config.noise_std == pytest.approx(0.05)
    logged = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert any("loss" in entry for entry in logged)


def test_a_run_can_start_from_an_earlier_runs_mapper_and_then_train_lora(folders: dict[str, Path],
                                                                        tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"text": t, "instruction": "Classify events in the audio clip.",
                                          "answer": t.split()[-1], "task": "cls"}) + "\n" for t in TEXTS))

    def stage(name: str, **overrides) -> MatsRunConfig:
        lora_rank = overrides.pop("lora_rank", 8)
        return MatsRunConfig(model=tiny_config(folders, lora_rank=lora_rank, noise_std=0.0),
                             data=MatsDataConfig(text_corpus=str(corpus)),
                             train=TrainConfig(output_dir=str(tmp_path / name), max_steps=2, batch_size=2, lr=1e-2,
                                               save_every=2), **overrides)

    warm = run(stage("warm", lora_rank=0))
    warm_mapper = {k: v for k, v in load_file(str(warm / "model.safetensors")).items() if k.startswith("mapper.")}
    started = MatsModel(tiny_config(folders))
    load_mapper_weights(started, warm)
    assert all(torch.equal(started.state_dict()[k], v) for k, v in warm_mapper.items())

    final = run(stage("lora", init_mapper_from=str(warm)))
    state = load_file(str(final / "model.safetensors"))
    assert any("lora_" in name for name in state)
    assert any(not torch.equal(state[k], v) for k, v in warm_mapper.items())  # the mapper kept training

    other = tiny_config(folders, mapper_width=8, mapper_heads=2)
    with pytest.raises(AuralignError, match="does not fit"):
        load_mapper_weights(MatsModel(other), warm)
    moved = tmp_path / "other-alignment"
    shutil.copytree(warm, moved)
    config = json.loads((moved / "config.json").read_text())
    (moved / "config.json").write_text(json.dumps({**config, "alignment_model": "clap-corpus"}))
    with pytest.raises(AuralignError, match="alignment model"):
        load_mapper_weights(started, moved)


def test_run_config_defaults_to_the_noise_rule_even_with_model_overrides() -> None:
    from auralign.training.config import load_config

    config = load_config(MatsRunConfig, None, ["model.prefix_length=3", "data.sigma_manifest=m.jsonl"])
    assert config.model.noise_std is None and config.model.prefix_length == 3
    assert load_config(MatsRunConfig, None, ["model.noise_std=0"]).model.noise_std == 0.0
    with pytest.raises(AuralignError, match="noise_std"):  # the run-level key is gone: one place for the noise
        load_config(MatsRunConfig, None, ["noise_std=0"])


def test_the_noise_rule_needs_its_manifest(folders: dict[str, Path], tmp_path: Path) -> None:
    from auralign.training.mats import prepare_model

    config = MatsRunConfig(model=tiny_config(folders, noise_std=None),
                           train=TrainConfig(output_dir=str(tmp_path / "run")))
    with pytest.raises(AuralignError, match=r"data\.sigma_manifest"):
        prepare_model(config, [TextRow("a dog barks", "i", "dog", "cls")])


def test_the_soft_prompt_depends_on_the_embedding_from_the_start(model: MatsModel) -> None:
    """Guards the shortcut: different inputs must give clearly different prefixes at init."""
    model.eval()
    torch.manual_seed(0)
    with torch.no_grad():
        prefix = model.mapper(torch.nn.functional.normalize(torch.randn(8, 16), dim=-1))
    spread = (prefix - prefix.mean(0)).norm(dim=-1).mean()
    assert spread > 0.1 * prefix.norm(dim=-1).mean()


@pytest.mark.backbones
@pytest.mark.parametrize(("name", "alignment"), [("mats", "clap-fsdd"), ("mats-corpus", "clap-corpus")])
def test_the_shipped_mats_loads_by_name_and_answers(name: str, alignment: str) -> None:
    shipped = load_model(name)
    assert isinstance(shipped, MatsModel) and shipped.config.alignment_model == alignment
    assert bool(shipped.santa.built)
    tokens, mask = torch.randn(1, 10, shipped.audio_encoder.dim), torch.ones(1, 10, dtype=torch.bool)
    assert len(shipped.score_candidates(tokens, mask, ["one", "two", "three"])[0]) == 3
