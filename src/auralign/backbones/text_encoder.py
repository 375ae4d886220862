"""Any Hugging Face text encoder (BERT, RoBERTa, MiniLM, CLIP's text tower) behind `TextEncoder`.

Encoding from `inputs_embeds` goes through the model's own embedding module, so BERT-like models still
add position and token-type embeddings and apply their embedding LayerNorm (and CLIP adds positions) to
the given vectors. That is intended: CoLLAT's pseudo tokens live in the same space as E_t(ids), and
`forward(inputs_embeds=E_t(ids))` equals `forward(input_ids=ids)`.

`pooled` is the masked mean of the last hidden states (sentence-transformers' recipe for MiniLM); it is
not L2-normalised, callers normalise when they need cosine similarities.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn
from transformers import AutoConfig, AutoModel, AutoTokenizer, CLIPTextModel, PreTrainedModel
from transformers.masking_utils import create_causal_mask

from auralign.backbones.base import EncoderOutput, TextEncoder, TokenBatch, masked_mean
from auralign.errors import AuralignError

CLIP_MODEL_TYPES = ("clip", "clip_text_model")

# Where the stack of transformer blocks lives, for the architectures auralign knows.
LAYER_STACK_PATHS = ("encoder.layer", "encoder.layers", "transformer.layer", "layers")


class HFTextEncoder(TextEncoder):
    def __init__(self, model: PreTrainedModel, tokenizer, max_length: int | None = None) -> None:
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.dim = int(model.config.hidden_size)
        self.max_length = max_length or _default_max_length(model, tokenizer)
        self._unlocked: list[nn.Module] = []
        self.requires_grad_(False)
        self.train(False)

    @classmethod
    def from_pretrained(cls, path: str | Path, max_length: int | None = None) -> HFTextEncoder:
        path = Path(path)
        config = AutoConfig.from_pretrained(path)
        if config.model_type in CLIP_MODEL_TYPES:
            model = CLIPTextModel.from_pretrained(path)
        else:
            model = AutoModel.from_pretrained(path)
        tokenizer = AutoTokenizer.from_pretrained(path)
        return cls(model, tokenizer, max_length)

    @property
    def is_clip(self) -> bool:
        return self.model.config.model_type in CLIP_MODEL_TYPES

    def tokenize(self, texts: list[str], max_length: int | None = None) -> TokenBatch:
        encoded = self.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=max_length or self.max_length,
            return_tensors="pt",
        )
        return TokenBatch(encoded["input_ids"], encoded["attention_mask"])

    def input_embeddings(self) -> nn.Embedding:
        return self.model.get_input_embeddings()

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        inputs_embeds: Tensor | None = None,
    ) -> EncoderOutput:
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids and inputs_embeds")
        reference = input_ids if input_ids is not None else inputs_embeds[..., 0]
        if attention_mask is None:
            attention_mask = torch.ones(reference.shape[:2], dtype=torch.long, device=reference.device)
        if self.is_clip:
            hidden = self._clip_hidden_states(input_ids, attention_mask, inputs_embeds)
        else:
            hidden = self.model(
                input_ids=input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds
            ).last_hidden_state
        mask = attention_mask.bool()
        return EncoderOutput(tokens=hidden, mask=mask, pooled=masked_mean(hidden, mask))

    def _clip_hidden_states(
        self, input_ids: Tensor | None, attention_mask: Tensor, inputs_embeds: Tensor | None
    ) -> Tensor:
        """CLIPTextModel.forward only takes ids, so its steps are replayed here to accept embeddings."""
        model = self.model
        hidden = model.embeddings(input_ids=input_ids, inputs_embeds=inputs_embeds)
        causal_mask = create_causal_mask(
            config=model.config, inputs_embeds=hidden, attention_mask=attention_mask, past_key_values=None
        )
        hidden = model.encoder(inputs_embeds=hidden, attention_mask=causal_mask, is_causal=True).last_hidden_state
        return model.final_layer_norm(hidden)

    def unlock_last_layers(self, n: int) -> None:
        layers = _layer_stack(self.model)
        if not 0 <= n <= len(layers):
            raise AuralignError(f"cannot unlock {n} layers: the text encoder has {len(layers)}")
        self.requires_grad_(False)
        self._unlocked = list(layers)[len(layers) - n:] if n else []
        for layer in self._unlocked:
            layer.requires_grad_(True)
        self.train(self.training)

    def train(self, mode: bool = True) -> HFTextEncoder:
        """Locked layers always stay in eval mode; only unlocked layers follow `mode`."""
        super().train(False)
        self.training = mode
        for layer in self._unlocked:
            layer.train(mode)
        return self


def _default_max_length(model: PreTrainedModel, tokenizer) -> int:
    positions = getattr(model.config, "max_position_embeddings", None) or 512
    if model.config.model_type in ("roberta", "xlm-roberta", "camembert"):
        positions -= 2  # RoBERTa offsets positions by padding_idx + 1
    tokenizer_limit = getattr(tokenizer, "model_max_length", positions) or positions
    return int(min(positions, tokenizer_limit))


def _layer_stack(model: nn.Module) -> nn.ModuleList:
    for dotted in LAYER_STACK_PATHS:
        module: nn.Module | None = model
        for attribute in dotted.split("."):
            module = getattr(module, attribute, None)
        if isinstance(module, nn.ModuleList):
            return module
    raise AuralignError(f"cannot find the transformer layers of {type(model).__name__}")
