"""HFLanguageModel on tiny random Llama (with a chat template) and GPT-2 (without) folders, plus the
real SmolLM2 (marked backbones)."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from auralign.backbones.base import GREEDY, Decoding
from auralign.backbones.language_model import IGNORE_INDEX, HFLanguageModel, first_line
from auralign.errors import AuralignError


@pytest.fixture(scope="module")
def llama_folder(tiny_backbones: dict[str, Path]) -> Path:
    return tiny_backbones["llama"]


@pytest.fixture(scope="module")
def gpt2_folder(tiny_backbones: dict[str, Path]) -> Path:
    return tiny_backbones["gpt2"]


@pytest.fixture()
def llama(llama_folder: Path) -> HFLanguageModel:
    return HFLanguageModel.from_pretrained(llama_folder)


@pytest.fixture()
def gpt2(gpt2_folder: Path) -> HFLanguageModel:
    return HFLanguageModel.from_pretrained(gpt2_folder)


def naive_logprob(lm: HFLanguageModel, prefix: torch.Tensor | None, prompt: str, answer: str,
                  chat_template: bool = True) -> tuple[float, int]:
    """Summed log-probability of answer + EOS from one full forward pass, and its token count."""
    inputs = lm.build_inputs(prefix, [prompt], [answer], chat_template)
    with torch.no_grad():
        logits = lm.model(inputs_embeds=inputs.inputs_embeds, attention_mask=inputs.attention_mask).logits
    logprobs = logits[0, :-1].log_softmax(-1)
    labels = inputs.labels[0, 1:]
    scored = labels != IGNORE_INDEX
    return logprobs[scored].gather(-1, labels[scored, None]).sum().item(), int(scored.sum())


def test_embed_and_frozen_by_default(llama: HFLanguageModel) -> None:
    assert llama.hidden_size == 32
    assert llama.embed(torch.tensor([[3, 4, 5]])).shape == (1, 3, 32)
    assert not any(p.requires_grad for p in llama.parameters())
    llama.train()
    assert not any(module.training for module in llama.model.modules())


def test_build_inputs_labels_mask_and_prefix_placement(llama: HFLanguageModel) -> None:
    tokenizer = llama.tokenizer
    prompts = ["What sound is this?", "Name a bird."]
    targets = ["a dog barks loudly", "a sparrow"]
    prefix = torch.randn(2, 3, 32)
    inputs = llama.build_inputs(prefix, prompts, targets)
    head = tokenizer("<|im_start|>user\n", add_special_tokens=False)["input_ids"]
    for row, (prompt, target) in enumerate(zip(prompts, targets, strict=True)):
        tail = tokenizer(f"{prompt}<|im_end|>\n<|im_start|>assistant\n", add_special_tokens=False)["input_ids"]
        answer = [*tokenizer(target, add_special_tokens=False)["input_ids"], tokenizer.eos_token_id]
        n_context = len(head) + 3 + len(tail)
        n_real = n_context + len(answer)
        labels = inputs.labels[row]
        assert labels[:n_context].eq(IGNORE_INDEX).all()
        assert labels[n_context:n_real].tolist() == answer
        assert labels[n_real:].eq(IGNORE_INDEX).all()
        assert inputs.attention_mask[row].tolist() == [1] * n_real + [0] * (labels.shape[0] - n_real)
        torch.testing.assert_close(inputs.inputs_embeds[row, len(head):len(head) + 3], prefix[row])
        torch.testing.assert_close(inputs.inputs_embeds[row, :len(head)], llama.embed(torch.tensor(head)))
    assert inputs.attention_mask[0].sum() != inputs.attention_mask[1].sum()


def test_without_targets_or_prefix_rows_have_no_labels(gpt2: HFLanguageModel) -> None:
    inputs = gpt2.build_inputs(None, ["a dog", "rain falls on the roof"], chat_template=False)
    assert inputs.labels.eq(IGNORE_INDEX).all()
    ids = gpt2.tokenizer("a dog", add_special_tokens=False)["input_ids"]
    assert inputs.attention_mask[0].tolist()[: len(ids) + 1] == [1] * len(ids) + [0]
    with pytest.raises(AuralignError, match="chat template"):
        gpt2.build_inputs(None, ["a dog"], chat_template=True)
    with pytest.raises(ValueError):
        gpt2.build_inputs(torch.zeros(3, 1, 32), ["a dog"], chat_template=False)


@pytest.mark.parametrize("model_name", ["llama", "gpt2"])
def test_loss_is_the_mean_over_target_tokens_and_ignores_batch_padding(model_name: str,
                                                                       request: pytest.FixtureRequest) -> None:
    lm: HFLanguageModel = request.getfixturevalue(model_name)
    chat = model_name == "llama"
    prefix = torch.randn(2, 2, 32)
    prompts, targets = ["What sound is this?", "Name a bird. A sparrow sings."], [" rain", " the answer is a car"]
    logprob_0, n_0 = naive_logprob(lm, prefix[:1], prompts[0], targets[0], chat)
    logprob_1, n_1 = naive_logprob(lm, prefix[1:], prompts[1], targets[1], chat)
    with torch.no_grad():
        loss = lm.loss(prefix, prompts, targets, chat)
    assert loss.item() == pytest.approx(-(logprob_0 + logprob_1) / (n_0 + n_1), rel=1e-5)


def test_gradient_reaches_the_prefix(llama: HFLanguageModel) -> None:
    prefix = torch.randn(1, 2, 32, requires_grad=True)
    llama.loss(prefix, ["What sound is this?"], ["rain"]).backward()
    assert prefix.grad is not None and prefix.grad.abs().sum() > 0


@pytest.mark.parametrize("model_name", ["llama", "gpt2"])
def test_score_candidates_matches_full_forward_passes(model_name: str, request: pytest.FixtureRequest) -> None:
    lm: HFLanguageModel = request.getfixturevalue(model_name)
    chat = model_name == "llama"
    prefix = torch.randn(1, 3, 32)
    candidates = ["rain", "a dog barks loudly", "the roof", "car engine", "sparrow"]
    summed = lm.score_candidates(prefix, "What sound is this?", candidates, chat_template=chat, batch_size=2)
    mean = lm.score_candidates(prefix[0], "What sound is this?", candidates, reduction="mean", chat_template=chat)
    expected = [naive_logprob(lm, prefix, "What sound is this?", c, chat) for c in candidates]
    torch.testing.assert_close(summed, torch.tensor([lp for lp, _ in expected]), atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(mean, torch.tensor([lp / n for lp, n in expected]), atol=1e-4, rtol=1e-5)
    with pytest.raises(ValueError):
        lm.score_candidates(prefix, "What?", candidates, reduction="max", chat_template=chat)


@pytest.mark.parametrize("model_name", ["llama", "gpt2"])
def test_generate_greedy_is_unaffected_by_left_padding(model_name: str, request: pytest.FixtureRequest) -> None:
    lm: HFLanguageModel = request.getfixturevalue(model_name)
    chat = model_name == "llama"
    # a fixed prefix: with random weights, some prefixes give near-ties that padding's rounding flips
    prefix = torch.randn(2, 2, 32, generator=torch.Generator().manual_seed(0))
    prompts = ["a dog", "What sound is this? the answer is a car engine"]
    together = lm.generate(prefix, prompts, Decoding(max_new_tokens=6), chat_template=chat)
    alone = lm.generate(prefix[:1], prompts[:1], Decoding(max_new_tokens=6), chat_template=chat)
    assert len(together) == 2 and all(isinstance(text, str) for text in together)
    assert together[0] == alone[0]
    assert lm.generate(None, prompts, Decoding(max_new_tokens=3), chat_template=chat)


def test_generate_with_beams_returns_strings(llama: HFLanguageModel) -> None:
    texts = llama.generate(torch.randn(2, 2, 32), ["a dog", "Name a bird."], Decoding(max_new_tokens=5, num_beams=3))
    assert len(texts) == 2 and all(isinstance(text, str) for text in texts)


def test_lora_trains_only_adapters_and_round_trips(llama_folder: Path, llama: HFLanguageModel) -> None:
    prefix = torch.randn(1, 2, 32)
    with torch.no_grad():
        before = llama.loss(prefix, ["a dog"], ["barks"])
    llama.add_lora(r=4, alpha=16, dropout=0.1)
    trainable = [name for name, p in llama.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in name for name in trainable)
    assert any("q_proj" in name for name in trainable)
    with torch.no_grad():
        assert llama.loss(prefix, ["a dog"], ["barks"]).item() == pytest.approx(before.item(), rel=1e-6)
        for name, p in llama.named_parameters():
            if "lora_B" in name:
                p.normal_()
        changed = llama.loss(prefix, ["a dog"], ["barks"])
    assert changed.item() != pytest.approx(before.item(), rel=1e-3)

    llama.train()
    dropouts = [m for name, m in llama.model.named_modules() if name.endswith("lora_dropout")]
    assert dropouts and all(m.training for m in dropouts)
    assert not llama.model.model.layers[0].mlp.training
    llama.eval()

    state = llama.lora_state_dict()
    assert state and all("lora_" in key for key in state)
    fresh = HFLanguageModel.from_pretrained(llama_folder)
    with pytest.raises(AuralignError):
        fresh.lora_state_dict()
    fresh.add_lora(r=4, alpha=16, dropout=0.1)
    fresh.load_lora_state_dict(state)
    with torch.no_grad():
        assert fresh.loss(prefix, ["a dog"], ["barks"]).item() == pytest.approx(changed.item(), rel=1e-6)
    with pytest.raises(AuralignError):
        fresh.add_lora()


def test_gpt2_lora_uses_peft_default_targets(gpt2: HFLanguageModel) -> None:
    gpt2.add_lora()
    trainable = [name for name, p in gpt2.named_parameters() if p.requires_grad]
    assert trainable and all("c_attn.lora_" in name for name in trainable)


@pytest.fixture(scope="module")
def smollm() -> HFLanguageModel:
    from auralign.backbones.factory import load_language_model

    start = time.perf_counter()
    lm = load_language_model()
    print(f"SmolLM2 load: {time.perf_counter() - start:.1f} s")
    return lm


@pytest.mark.backbones
def test_smollm_answers_a_chat_prompt(smollm: HFLanguageModel) -> None:
    assert smollm.hidden_size == 576
    answer = smollm.generate(None, ["What is the capital of France?"], replace(GREEDY, max_new_tokens=8))[0]
    assert "Paris" in answer


@pytest.mark.backbones
def test_smollm_answers_after_a_soft_prompt_and_ranks_candidates(smollm: HFLanguageModel) -> None:
    torch.manual_seed(0)
    prefix = torch.randn(1, 4, smollm.hidden_size) * smollm.embed(torch.arange(100)).std()
    answer = smollm.generate(prefix, ["What is the capital of France?"], Decoding(max_new_tokens=6))[0]
    assert isinstance(answer, str) and answer
    scores = smollm.score_candidates(prefix, "What is the capital of France? Answer in one word.",
                                     ["Paris", "Banana", "Keyboard"])
    assert scores.shape == (3,) and scores.argmax().item() == 0


def test_generated_text_is_its_first_line() -> None:
    """A caption is one line: a small LLM that runs on into an invented next prompt is cut there."""
    assert first_line('This is a sound of "A" (loud).\nWhat does the audio caption to this text?') == \
        'This is a sound of "A" (loud).'
    assert first_line("\n  a dog barks \n\nrain") == "a dog barks"
    assert first_line("") == ""
