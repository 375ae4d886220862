"""SLIT on tiny random backbones: Q-Former initialisation from BERT, hard-negative mining, the three
stages' losses and where their gradients go, vocabulary ranking, generation, checkpoints across
stages, and the multi-task stage-3 data."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from safetensors.torch import load_file

from auralign.backbones.base import Decoding
from auralign.backbones.factory import (
    clear_backbone_cache,
    load_audio_encoder,
    load_language_model,
    load_text_encoder,
)
from auralign.data.manifest import ManifestRow
from auralign.errors import AuralignError, CheckpointError
from auralign.models.base import WEIGHTS_NAME, AudioTextEmbedder, AudioTextGenerator, CandidateScorer
from auralign.models.factory import load_model
from auralign.models.qformer import QFormerConfig
from auralign.models.slit import SlitConfig, SlitModel, max_over_queries, mine_hard_negatives
from auralign.models.slit_masks import qformer_attention_mask
from auralign.training.config import TrainConfig
from auralign.training.recipe import run
from auralign.training.slit import TASKS, SlitDataConfig, SlitRunConfig, spoken_digit
from backbone_factory import WORDS
from data_factory import tone

TEXTS = ["a dog barks", "rain falls on the roof", "a bird sings", "loud engine"]


@pytest.fixture(scope="module")
def backbones(tiny_backbones: dict[str, Path]) -> dict[str, Path]:
    return {"audio": tiny_backbones["aisfx"], "text": tiny_backbones["bert"], "llm": tiny_backbones["llama"]}


@pytest.fixture(autouse=True)
def fresh_backbone_cache() -> None:
    clear_backbone_cache()


def tiny_config(backbones: dict[str, Path], stage: int = 1, **changes: object) -> SlitConfig:
    qformer = QFormerConfig(hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64, audio_width=32,
                            num_queries=4, frozen_layers=1)
    config = SlitConfig(audio_encoder=str(backbones["audio"]), text_encoder=str(backbones["text"]),
                        language_model=str(backbones["llm"]), stage=stage, qformer=qformer, embed_dim=16,
                        max_text_length=12)
    return dataclasses.replace(config, **changes)


def tiny_model(backbones: dict[str, Path], stage: int = 1, seed: int = 0, **changes: object) -> SlitModel:
    torch.manual_seed(seed)
    return SlitModel(tiny_config(backbones, stage, **changes), audio_encoder=load_audio_encoder(backbones["audio"]),
                     text_encoder=load_text_encoder(backbones["text"]),
                     language_model=load_language_model(backbones["llm"]))


def token_batch(seed: int = 0, lengths: tuple[int, ...] = (8, 5, 12, 3)) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.randn(len(lengths), max(lengths), 32, generator=generator)
    mask = torch.arange(max(lengths))[None, :] < torch.tensor(lengths)[:, None]
    return tokens, mask


def stage1_batch() -> dict:
    tokens, mask = token_batch()
    return {"tokens": tokens, "mask": mask, "texts": TEXTS, "match_ids": torch.tensor([0, 1, 2, 1])}


def generative_batch() -> dict:
    tokens, mask = token_batch()
    return {"tokens": tokens, "mask": mask, "instructions": ["What sound is this?"] * 2 + ["Name a bird."] * 2,
            "answers": ["a dog barks", "rain falls", "a sparrow sings", "a car engine"]}


# -- hard-negative mining ----------------------------------------------------------------------

def test_mining_never_draws_a_positive_and_follows_the_similarities() -> None:
    similarity = torch.tensor([[5.0, 4.0, 0.0, -9.0], [0.0, 5.0, 4.0, 1.0], [1.0, 1.0, 1.0, 1.0]])
    positives = torch.tensor([[1, 0, 0, 0], [0, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.bool)
    generator = torch.Generator().manual_seed(0)
    draws = mine_hard_negatives(similarity.repeat(400, 1), positives.repeat(400, 1), generator)[0].view(400, 3)
    valid = mine_hard_negatives(similarity, positives)[1]
    assert valid.tolist() == [True, True, False]
    assert not positives[torch.arange(3)[None, :2].expand(400, -1), draws[:, :2]].any()
    # row 0: column 1 has e^4 / (e^4 + e^0 + e^-9) of the mass
    assert (draws[:, 0] == 1).float().mean() > 0.9
    assert set(draws[:, 1].tolist()) <= {0, 3}
    hardest, _ = mine_hard_negatives(similarity, positives, hardest=True)
    assert hardest[:2].tolist() == [1, 3]


def test_max_over_queries_is_the_best_query() -> None:
    audio = torch.nn.functional.normalize(torch.randn(2, 5, 8), dim=-1)
    text = torch.nn.functional.normalize(torch.randn(3, 8), dim=-1)
    brute = torch.tensor([[max(float(audio[b, q] @ text[n]) for q in range(5)) for n in range(3)] for b in range(2)])
    torch.testing.assert_close(max_over_queries(audio, text), brute)


# -- the Q-Former --------------------------------------------------------------------------

def test_qformer_text_pass_reproduces_the_bert_it_was_built_from(backbones: dict[str, Path]) -> None:
    model = tiny_model(backbones).eval()
    ids, text_mask = model.tokenize(TEXTS)
    with torch.no_grad():
        ours = model.qformer(qformer_attention_mask("contrastive", 0, text_mask), ids, use_queries=False)
        theirs = model.text_encoder.model(input_ids=ids, attention_mask=text_mask).last_hidden_state
    valid = text_mask.bool()
    torch.testing.assert_close(ours[valid], theirs[valid], atol=1e-5, rtol=1e-4)


def test_frozen_and_shared_parts_are_not_trainable(backbones: dict[str, Path]) -> None:
    model = tiny_model(backbones, stage=3)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert not any(name.startswith(("audio_encoder.", "text_encoder.", "language_model.")) for name in trainable)
    assert not any("embeddings" in name for name in trainable)
    assert not any(name.startswith(("qformer.layers.0.self_attention", "qformer.layers.0.feed_forward"))
                   for name in trainable)
    assert {"qformer.layers.0.cross_attention.key.weight", "qformer.layers.1.feed_forward.output.weight",
            "qformer.queries", "llm_proj.weight"} <= trainable
    assert model.qformer.layers[1].cross_attention is None  # every other layer


def test_padding_audio_tokens_do_not_change_the_queries(backbones: dict[str, Path]) -> None:
    model = tiny_model(backbones).eval()
    tokens, mask = token_batch()
    garbage = tokens.masked_fill(~mask[..., None], 1e3)
    with torch.no_grad():
        torch.testing.assert_close(model.query_states(garbage, mask), model.query_states(tokens, mask))


def test_embedder_protocol_gives_unit_vectors(backbones: dict[str, Path]) -> None:
    model = tiny_model(backbones).eval()
    assert isinstance(model, AudioTextEmbedder)
    with torch.no_grad():
        audio, text = model.embed_audio_tokens(*token_batch()), model.embed_text(TEXTS)
        similarity = model.similarity(*token_batch(), TEXTS)
        mean_query = model.audio_query_embeddings(*token_batch()).mean(dim=1)
    assert audio.shape == (4, 16) and text.shape == (4, 16) and similarity.shape == (4, 4)
    torch.testing.assert_close(audio.norm(dim=-1), torch.ones(4))
    torch.testing.assert_close(text.norm(dim=-1), torch.ones(4))
    torch.testing.assert_close(audio, torch.nn.functional.normalize(mean_query, dim=-1))
    assert (similarity >= mean_query @ text.T - 1e-6).all()  # the max over queries bounds their mean


# -- losses and gradients --------------------------------------------------------------------

def grads_of(model: SlitModel, prefix: str) -> list[torch.Tensor | None]:
    return [p.grad for name, p in model.named_parameters() if name.startswith(prefix)]


def test_stage1_losses_train_the_qformer_only(backbones: dict[str, Path]) -> None:
    model = tiny_model(backbones).train()
    out = model.training_loss(stage1_batch())
    assert set(out) >= {"loss", "atc", "atm", "atg"}
    torch.testing.assert_close(out["loss"].detach(), out["atc"] + out["atm"] + out["atg"])
    out["loss"].backward()
    for frozen in ("audio_encoder.", "text_encoder.", "qformer.word_embeddings", "qformer.layers.0.feed_forward"):
        assert all(g is None for g in grads_of(model, frozen)), frozen
    for trained in ("qformer.layers.0.cross_attention", "qformer.queries", "audio_proj", "text_proj",
                    "matching_head", "generation_transform", "decoder_start", "logit_scale"):
        assert all(g is not None and g.abs().sum() > 0 for g in grads_of(model, trained)), trained


@pytest.mark.parametrize("stage", [2, 3])
def test_generative_stages_send_no_gradient_into_the_frozen_llm(backbones: dict[str, Path], stage: int) -> None:
    model = tiny_model(backbones, stage=stage).train()
    model.training_loss(generative_batch())["loss"].backward()
    assert all(g is None for g in grads_of(model, "language_model."))
    assert all(g is None for g in grads_of(model, "audio_encoder."))
    assert all(g is not None for g in grads_of(model, "llm_proj"))
    assert all(g is not None and g.abs().sum() > 0 for g in grads_of(model, "qformer.layers.0.cross_attention"))


def test_generative_loss_is_the_llm_loss_on_the_answers(backbones: dict[str, Path]) -> None:
    model = tiny_model(backbones, stage=2).eval()
    batch = generative_batch()
    with torch.no_grad():
        prefix = model.soft_prompt(batch["tokens"], batch["mask"])
        expected = model.language_model.loss(prefix, batch["instructions"], batch["answers"], chat_template=False)
        torch.testing.assert_close(model.training_loss(batch)["loss"], expected)


def test_only_stage3_feeds_the_instruction_to_the_qformer(backbones: dict[str, Path]) -> None:
    tokens, mask = token_batch()
    for stage, should_change in ((2, False), (3, True)):
        model = tiny_model(backbones, stage=stage).eval()
        with torch.no_grad():
            first = model.soft_prompt(tokens, mask, ["What sound is this?"] * 4)
            second = model.soft_prompt(tokens, mask, ["Name a bird."] * 4)
        assert (not torch.allclose(first, second)) == should_change


# -- inference -------------------------------------------------------------------------------

def test_vocabulary_ranking_is_the_llm_log_likelihood_after_the_instruction(backbones: dict[str, Path]) -> None:
    model = tiny_model(backbones, stage=3).eval()
    assert isinstance(model, CandidateScorer) and isinstance(model, AudioTextGenerator)
    tokens, mask = token_batch()
    candidates = ["dog", "a car engine", "rain"]
    scores = model.score_candidates(tokens, mask, candidates)
    assert scores.shape == (4, 3)
    with torch.no_grad():
        prefix = model.soft_prompt(tokens[1:2], mask[1:2], ["This is a sound of"])
        expected = model.language_model.score_candidates(prefix, "This is a sound of", candidates, "sum",
                                                         chat_template=False)
    torch.testing.assert_close(scores[1], expected)


def test_stage1_model_ranks_by_similarity_and_cannot_generate(backbones: dict[str, Path]) -> None:
    model = tiny_model(backbones).eval()
    tokens, mask = token_batch()
    with torch.no_grad():
        expected = model.similarity(tokens, mask, ["This is a sound of dog.", "This is a sound of rain."])
    torch.testing.assert_close(model.score_candidates(tokens, mask, ["dog", "rain"]), expected)
    with pytest.raises(AuralignError, match="stage-1"):
        model.generate(tokens, mask)


def test_generate_greedy_and_beam(backbones: dict[str, Path]) -> None:
    model = tiny_model(backbones, stage=3).eval()
    tokens, mask = token_batch()
    greedy = model.generate(tokens, mask, decoding=Decoding(max_new_tokens=4))
    beams = model.generate(tokens, mask, instruction="Name a bird.", decoding=Decoding(max_new_tokens=4, num_beams=2))
    assert len(greedy) == 4 and len(beams) == 4 and all(isinstance(t, str) for t in greedy + beams)
    assert model.generate(tokens[:1], mask[:1], decoding=Decoding(max_new_tokens=4)) == greedy[:1]


# -- checkpoints -----------------------------------------------------------------------------

def test_save_load_round_trip_stores_no_backbone_weights(backbones: dict[str, Path], tmp_path: Path) -> None:
    model = tiny_model(backbones, stage=3).eval()
    model.save_pretrained(tmp_path / "slit", dtype=torch.float16)
    saved = load_file(str(tmp_path / "slit" / WEIGHTS_NAME))
    assert not any(k.startswith(("audio_encoder.", "text_encoder.", "language_model.")) for k in saved)
    assert not any("embeddings" in k or k.startswith("qformer.layers.0.self_attention") for k in saved)
    assert all(t.dtype == torch.float16 for t in saved.values())
    clear_backbone_cache()
    loaded = load_model(tmp_path / "slit")
    assert isinstance(loaded, SlitModel) and loaded.config.stage == 3
    tokens, mask = token_batch()
    with torch.no_grad():
        torch.testing.assert_close(loaded.soft_prompt(tokens, mask, ["x"] * 4),
                                   model.soft_prompt(tokens, mask, ["x"] * 4), atol=2e-2, rtol=2e-2)


def test_a_later_stage_starts_from_the_earlier_one(backbones: dict[str, Path], tmp_path: Path) -> None:
    stage1 = tiny_model(backbones, seed=1)
    stage1.save_pretrained(tmp_path / "s1")
    stage2 = tiny_model(backbones, stage=2, seed=2)
    fresh = stage2.load_weights(tmp_path / "s1", allow_missing=True)
    assert fresh == ["llm_proj.bias", "llm_proj.weight"]
    torch.testing.assert_close(stage2.qformer.queries, stage1.qformer.queries)
    with pytest.raises(CheckpointError):
        tiny_model(backbones).load_weights(tmp_path, allow_missing=True)
    with pytest.raises(CheckpointError, match="missing"):  # without allow_missing, a fresh weight is an error
        tiny_model(backbones, stage=2).load_weights(tmp_path / "s1")


# -- stage-3 data and an end-to-end run --------------------------------------------------------

def test_tasks_read_their_answers_from_the_row() -> None:
    note = ManifestRow(audio=Path("n.wav"), labels=["flute"], extra={"instrument": "flute", "family": "reed",
                                                                      "note": "C4"})
    digit = ManifestRow(audio=Path("d.wav"), labels=["spoken digit seven"], captions=["a voice says seven"])
    fsdd = ManifestRow(audio=Path("f.wav"), labels=["seven"], extra={"source": "fsdd"})
    plain = ManifestRow(audio=Path("p.wav"), labels=["seven"])
    answers = {name: [task.answers(row) for row in (note, digit, fsdd, plain)] for name, task in TASKS.items()}
    assert answers["instrument"] == [["flute"], [], [], []]
    assert answers["note"] == [["C4"], [], [], []]
    assert answers["caption"] == [[], ["a voice says seven"], [], []]
    assert answers["label"][1] == ["spoken digit seven"]
    assert [spoken_digit(row) for row in (note, digit, fsdd, plain)] == [[], ["seven"], ["seven"], []]


def write_manifest(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    words = [w for w in WORDS if len(w) > 3][:4]
    lines = []
    for i in range(12):
        path = folder / f"clip{i}.wav"
        sf.write(path, tone(0.6 + 0.1 * (i % 3), 16000, frequency=200.0 * (1 + i % 4)), 16000)
        word = words[i % 4]
        lines.append({"audio": path.name, "labels": [word], "captions": [f"a {word}"],
                      "split": "val" if i >= 8 else "train", "instrument": word})
    manifest = folder / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return manifest


def test_three_stages_train_resume_and_evaluate_end_to_end(backbones: dict[str, Path], tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "data")
    data = SlitDataConfig(manifest=str(manifest), cache_dir=str(tmp_path / "cache"), val_max_clips=4)
    finals = {}
    for stage, init in ((1, ""), (2, "1"), (3, "2")):
        train = TrainConfig(batch_size=4, max_steps=2, log_every=1, eval_every=2, output_dir=str(tmp_path / f"s{stage}"))
        config = SlitRunConfig(model=tiny_config(backbones, stage), data=data, train=train,
                               init_from=str(finals[init]) if init else "")
        finals[str(stage)] = run(config)
        rows = [json.loads(line) for line in (tmp_path / f"s{stage}" / "log.jsonl").read_text().splitlines()]
        assert any(row["kind"] == "eval" and 0 <= row["val_top1"] <= 1 for row in rows)
        assert all(np.isfinite(row["loss"]) for row in rows if row["kind"] == "train")
    model = load_model(finals["3"])
    assert model.config.stage == 3
    resumed = SlitRunConfig(model=tiny_config(backbones, 3), data=data, init_from=str(finals["2"]),
                            train=TrainConfig(batch_size=4, max_steps=3, output_dir=str(tmp_path / "s3")))
    run(resumed, resume=True)
    steps = [json.loads(line)["step"] for line in (tmp_path / "s3" / "log.jsonl").read_text().splitlines()]
    assert max(steps) == 3


def test_later_stages_require_init_from(backbones: dict[str, Path], tmp_path: Path) -> None:
    config = SlitRunConfig(model=tiny_config(backbones, 2), data=SlitDataConfig(manifest=str(write_manifest(tmp_path))))
    with pytest.raises(AuralignError, match="init_from"):
        run(config)


def test_the_shipped_slit_loads_by_name_ranks_and_generates() -> None:
    shipped = load_model("slit")
    assert isinstance(shipped, SlitModel) and shipped.config.stage == 3
    assert isinstance(shipped, CandidateScorer) and isinstance(shipped, AudioTextGenerator)
    tokens, mask = torch.randn(1, 10, shipped.audio_encoder.dim), torch.ones(1, 10, dtype=torch.bool)
    scores = shipped.score_candidates(tokens, mask, ["dog bark", "piano", "rain"])
    assert scores.shape == (1, 3) and torch.isfinite(scores).all()
    assert isinstance(shipped.generate(tokens, mask, decoding=Decoding(max_new_tokens=4))[0], str)
