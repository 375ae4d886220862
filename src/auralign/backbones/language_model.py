"""Any Hugging Face causal LM (Llama/SmolLM2, GPT-2, Qwen, ...) behind `LanguageModel`.

Where the soft prompt goes: with `chat_template=True` the prefix embeddings sit inside the user turn,
right before the instruction, the way multimodal chat models place an image:

    <|im_start|>system ...<|im_end|> <|im_start|>user\\n [PREFIX] prompt<|im_end|> <|im_start|>assistant\\n target EOS

(the tokens around [PREFIX] are whatever the model's own chat template renders, including its default
system prompt). With `chat_template=False` the row is `[special tokens the tokenizer prepends, e.g. BOS]
[PREFIX] prompt target EOS`; prompt and target are tokenized separately, so a GPT-2 style prompt should
end without a space and the target start with one. Loss is on target tokens and the closing EOS only.

Training rows are right-padded, generation rows left-padded; padding positions get attention mask 0.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
import torch.nn.functional as F
from peft import LoraConfig, get_peft_model_state_dict, inject_adapter_in_model, set_peft_model_state_dict
from torch import Tensor
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

from auralign.backbones.base import Decoding, LanguageModel, LMInputs
from auralign.errors import AuralignError

IGNORE_INDEX = -100
PREFIX_SLOT = "<<auralign-prefix>>"


def first_line(text: str) -> str:
    """The first non-empty line of `text`, stripped."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


class HFLanguageModel(LanguageModel):
    def __init__(self, model: PreTrainedModel, tokenizer) -> None:
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.hidden_size = int(model.get_input_embeddings().embedding_dim)
        if tokenizer.eos_token_id is None:
            raise AuralignError("the language model's tokenizer defines no EOS token")
        self.eos_token_id = int(tokenizer.eos_token_id)
        pad = tokenizer.pad_token_id
        self.pad_token_id = int(pad) if pad is not None else self.eos_token_id
        self.has_lora = False
        self.requires_grad_(False)
        self.train(False)

    @classmethod
    def from_pretrained(cls, path: str | Path, dtype: torch.dtype = torch.float32) -> HFLanguageModel:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
        tokenizer = AutoTokenizer.from_pretrained(path)
        return cls(model, tokenizer)

    @property
    def device(self) -> torch.device:
        return self.model.get_input_embeddings().weight.device

    def embed(self, input_ids: Tensor) -> Tensor:
        return self.model.get_input_embeddings()(input_ids.to(self.device))

    # -- building rows -------------------------------------------------------------------------

    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _prompt_ids(self, prompt: str, chat_template: bool) -> tuple[list[int], list[int]]:
        """Token ids before the prefix slot and after it (prompt, plus the assistant header in chat mode)."""
        if not chat_template:
            return list(self.tokenizer("")["input_ids"]), self._encode(prompt)
        if not getattr(self.tokenizer, "chat_template", None):
            raise AuralignError("this language model's tokenizer has no chat template; use chat_template=False")
        rendered = self.tokenizer.apply_chat_template(
            [{"role": "user", "content": PREFIX_SLOT + prompt}], add_generation_prompt=True, tokenize=False
        )
        parts = rendered.split(PREFIX_SLOT)
        if len(parts) != 2:
            raise AuralignError("the chat template does not render the user message verbatim")
        return self._encode(parts[0]), self._encode(parts[1])

    def _target_ids(self, target: str) -> list[int]:
        return [*self._encode(target), self.eos_token_id]

    def _rows(
        self,
        prefix_embeds: Tensor | None,
        prompts: list[str],
        targets: list[str] | None,
        chat_template: bool,
    ) -> list[tuple[Tensor, Tensor]]:
        """Per row: embeddings (L, H) and labels (L,) of [head][prefix][prompt][target EOS]."""
        if targets is not None and len(targets) != len(prompts):
            raise ValueError(f"{len(prompts)} prompts but {len(targets)} targets")
        if prefix_embeds is not None and prefix_embeds.shape[0] != len(prompts):
            raise ValueError(f"{prefix_embeds.shape[0]} prefixes but {len(prompts)} prompts")
        table = self.model.get_input_embeddings()
        rows = []
        for i, prompt in enumerate(prompts):
            head, tail = self._prompt_ids(prompt, chat_template)
            target = self._target_ids(targets[i]) if targets is not None else []
            embeds = self.embed(torch.tensor([*head, *tail, *target]))
            prefix = (
                prefix_embeds[i].to(device=self.device, dtype=table.weight.dtype)
                if prefix_embeds is not None
                else embeds[:0]
            )
            row_embeds = torch.cat([embeds[: len(head)], prefix, embeds[len(head):]])
            n_context = len(head) + prefix.shape[0] + len(tail)
            labels = torch.tensor([IGNORE_INDEX] * n_context + target, device=self.device)
            rows.append((row_embeds, labels))
        return rows

    @staticmethod
    def _pad(rows: list[tuple[Tensor, Tensor]], side: str) -> LMInputs:
        length = max(embeds.shape[0] for embeds, _ in rows)
        all_embeds, all_masks, all_labels = [], [], []
        for embeds, labels in rows:
            missing = length - embeds.shape[0]
            pad_embeds = embeds.new_zeros(missing, embeds.shape[1])
            pad_labels = labels.new_full((missing,), IGNORE_INDEX)
            mask = torch.cat([labels.new_ones(embeds.shape[0]), labels.new_zeros(missing)])
            if side == "left":
                all_embeds.append(torch.cat([pad_embeds, embeds]))
                all_labels.append(torch.cat([pad_labels, labels]))
                all_masks.append(mask.flip(0))
            else:
                all_embeds.append(torch.cat([embeds, pad_embeds]))
                all_labels.append(torch.cat([labels, pad_labels]))
                all_masks.append(mask)
        return LMInputs(torch.stack(all_embeds), torch.stack(all_masks), torch.stack(all_labels))

    def build_inputs(
        self,
        prefix_embeds: Tensor | None,
        prompts: list[str],
        targets: list[str] | None = None,
        chat_template: bool = True,
    ) -> LMInputs:
        return self._pad(self._rows(prefix_embeds, prompts, targets, chat_template), side="right")

    # -- training, decoding, scoring -----------------------------------------------------------

    def forward(self, inputs: LMInputs) -> Tensor:
        """Mean cross-entropy over the label tokens. Logits are computed only at the positions that
        predict a label: the vocabulary head over every prefix and prompt position cost ~20% of a
        training step on CPU (49k-word vocabulary, answers of a few tokens)."""
        predicting = (inputs.labels[:, 1:] != IGNORE_INDEX).any(dim=0).nonzero().squeeze(1)
        logits = self.model(
            inputs_embeds=inputs.inputs_embeds,
            attention_mask=inputs.attention_mask,
            use_cache=False,
            logits_to_keep=predicting,
        ).logits
        targets = inputs.labels[:, predicting + 1]
        return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=IGNORE_INDEX)

    @torch.no_grad()
    def generate(
        self,
        prefix_embeds: Tensor | None,
        prompts: list[str],
        decoding: Decoding | None = None,
        chat_template: bool = True,
    ) -> list[str]:
        """Decoding from embeddings with the model's KV cache (HF `generate`); see `Decoding`.

        A caption or an answer is one line: text after the first line break is dropped (a small LLM
        otherwise goes on to invent the next prompt, "...\nWhat does the audio caption to this text?")."""
        new_tokens = self.generate_ids(prefix_embeds, prompts, decoding, chat_template)
        texts = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        return [first_line(text) for text in texts]

    @torch.no_grad()
    def generate_ids(
        self,
        prefix_embeds: Tensor | None,
        prompts: list[str],
        decoding: Decoding | None = None,
        chat_template: bool = True,
    ) -> Tensor:
        """(B, new tokens) ids of `generate`, before detokenisation (padded with the pad id)."""
        decoding = decoding or Decoding()
        inputs = self._pad(self._rows(prefix_embeds, prompts, None, chat_template), side="left")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(decoding.seed)
            return self.model.generate(
                inputs_embeds=inputs.inputs_embeds,
                attention_mask=inputs.attention_mask,
                max_new_tokens=decoding.max_new_tokens,
                min_new_tokens=decoding.min_new_tokens,
                num_beams=decoding.num_beams,
                no_repeat_ngram_size=decoding.no_repeat_ngram_size,
                repetition_penalty=decoding.repetition_penalty,
                do_sample=decoding.do_sample,
                temperature=decoding.temperature if decoding.do_sample else None,
                top_p=decoding.top_p if decoding.do_sample else None,
                top_k=None,
                pad_token_id=self.pad_token_id,
                eos_token_id=self.eos_token_id,
            )

    @torch.no_grad()
    def score_candidates(
        self,
        prefix_embeds: Tensor | None,
        prompt: str,
        candidates: list[str],
        reduction: str = "sum",
        chat_template: bool = True,
        batch_size: int = 32,
    ) -> Tensor:
        """Runs prefix + prompt once, then each batch of candidates on a copy of its KV cache."""
        if reduction not in ("sum", "mean"):
            raise ValueError(f"reduction must be 'sum' or 'mean', not {reduction!r}")
        if prefix_embeds is not None and prefix_embeds.dim() == 2:
            prefix_embeds = prefix_embeds.unsqueeze(0)
        context = self._pad(self._rows(prefix_embeds, [prompt], None, chat_template), side="right")
        out = self.model(inputs_embeds=context.inputs_embeds, attention_mask=context.attention_mask, use_cache=True)
        first_logprobs = out.logits[0, -1].float().log_softmax(-1)
        scores = [
            self._score_batch(candidates[start : start + batch_size], out.past_key_values, first_logprobs, reduction)
            for start in range(0, len(candidates), batch_size)
        ]
        return torch.cat(scores) if scores else torch.zeros(0)

    def _score_batch(self, candidates: list[str], cache, first_logprobs: Tensor, reduction: str) -> Tensor:
        token_lists = [self._target_ids(candidate) for candidate in candidates]
        length = max(len(tokens) for tokens in token_lists)
        ids = torch.full((len(candidates), length), self.pad_token_id, dtype=torch.long, device=self.device)
        mask = torch.zeros_like(ids)
        for i, tokens in enumerate(token_lists):
            ids[i, : len(tokens)] = torch.tensor(tokens)
            mask[i, : len(tokens)] = 1
        context_length = cache.get_seq_length()
        batch_cache = copy.deepcopy(cache)
        batch_cache.batch_repeat_interleave(len(candidates))
        logits = self.model(
            input_ids=ids,
            attention_mask=torch.cat([mask.new_ones(len(candidates), context_length), mask], dim=1),
            position_ids=(context_length + torch.arange(length, device=self.device)).expand_as(ids),
            past_key_values=batch_cache,
            use_cache=True,
        ).logits.float()
        logprobs = torch.cat(
            [first_logprobs.expand(len(candidates), 1, -1), logits[:, :-1].log_softmax(-1)], dim=1
        )
        token_logprobs = logprobs.gather(-1, ids.unsqueeze(-1)).squeeze(-1) * mask
        total = token_logprobs.sum(1)
        return total / mask.sum(1) if reduction == "mean" else total

    # -- LoRA ----------------------------------------------------------------------------------

    def add_lora(
        self,
        r: int = 8,
        alpha: float = 32.0,
        dropout: float = 0.1,
        target_modules: list[str] | None = None,
    ) -> None:
        """Inject LoRA adapters in place (peft); `target_modules=None` uses peft's per-architecture default
        (q_proj/v_proj for Llama, c_attn for GPT-2). Only adapter weights become trainable."""
        if self.has_lora:
            raise AuralignError("this language model already has LoRA adapters")
        config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=target_modules)
        inject_adapter_in_model(config, self.model)
        self.has_lora = True
        self.train(self.training)

    def lora_state_dict(self) -> dict[str, Tensor]:
        self._require_lora()
        return {name: tensor.detach().clone() for name, tensor in get_peft_model_state_dict(self.model).items()}

    def load_lora_state_dict(self, state: dict[str, Tensor]) -> None:
        self._require_lora()
        result = set_peft_model_state_dict(self.model, state)
        missing_lora = [key for key in result.missing_keys if "lora_" in key]
        if result.unexpected_keys or missing_lora:
            raise AuralignError(
                f"LoRA state does not match the adapters: missing {missing_lora[:3]}, "
                f"unexpected {result.unexpected_keys[:3]}"
            )

    def _require_lora(self) -> None:
        if not self.has_lora:
            raise AuralignError("this language model has no LoRA adapters; call add_lora first")

    def train(self, mode: bool = True) -> HFLanguageModel:
        """The frozen LM always stays in eval mode; only LoRA dropout follows `mode`."""
        super().train(False)
        self.training = mode
        for name, module in self.model.named_modules():
            if name.endswith("lora_dropout"):
                module.train(mode)
        return self
