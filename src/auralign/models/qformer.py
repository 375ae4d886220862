"""A BERT-style Q-Former (BLIP-2) built from the packaged text encoder's weights.

Learned query vectors and text tokens run through one stack of BERT layers (post-LayerNorm, as
BERT): they share every self-attention and feed-forward weight, and the attention mask decides how
they interact (see `auralign.models.slit_masks`). Every `cross_attention_every`-th layer (0, 2, 4, ...
for 2) also has a randomly initialised cross-attention from the query positions to the frozen audio
encoder's frame tokens; text positions never see the audio directly.

Initialisation copies a Hugging Face `BertModel` state dict (layer by layer, by name). The word,
position and token-type tables stay the text encoder's own frozen modules (shared, not copied, so a
checkpoint does not store them); the embedding LayerNorm is copied and trains. Differences from
BLIP-2, for the size budget of these backbones: the queries share the feed-forward layers with the
text (BLIP-2 gives them a separate copy), and the bottom `frozen_layers` layers keep the text
encoder's weights (their cross-attention still trains).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class QFormerConfig:
    hidden_size: int = 384
    num_layers: int = 6
    num_heads: int = 12
    intermediate_size: int = 1536
    audio_width: int = 512  # width of the frozen audio encoder's frame tokens
    num_queries: int = 32
    cross_attention_every: int = 2
    frozen_layers: int = 1  # bottom layers whose self-attention and feed-forward keep BERT's weights
    dropout: float = 0.1
    layer_norm_eps: float = 1e-12


class MultiHeadAttention(nn.Module):
    """BERT attention block: q/k/v projections, scaled dot product, output dense + residual LayerNorm."""

    def __init__(self, hidden: int, heads: int, key_width: int, dropout: float, eps: float) -> None:
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden size {hidden} is not divisible by {heads} heads")
        self.heads = heads
        self.dropout = dropout
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(key_width, hidden)
        self.value = nn.Linear(key_width, hidden)
        self.output = nn.Linear(hidden, hidden)
        self.norm = nn.LayerNorm(hidden, eps=eps)

    def _split(self, x: Tensor) -> Tensor:
        batch, length, width = x.shape
        return x.view(batch, length, self.heads, width // self.heads).transpose(1, 2)

    def forward(self, hidden: Tensor, keys: Tensor, allowed: Tensor) -> Tensor:
        """hidden (B, L, H) attends to keys (B, S, K); allowed (B, L, S) bool."""
        attended = F.scaled_dot_product_attention(
            self._split(self.query(hidden)), self._split(self.key(keys)), self._split(self.value(keys)),
            attn_mask=allowed[:, None], dropout_p=self.dropout if self.training else 0.0,
        )
        merged = attended.transpose(1, 2).reshape(hidden.shape)
        return self.norm(hidden + F.dropout(self.output(merged), self.dropout, self.training))


class FeedForward(nn.Module):
    def __init__(self, hidden: int, intermediate: int, dropout: float, eps: float) -> None:
        super().__init__()
        self.intermediate = nn.Linear(hidden, intermediate)
        self.output = nn.Linear(intermediate, hidden)
        self.norm = nn.LayerNorm(hidden, eps=eps)
        self.dropout = dropout

    def forward(self, hidden: Tensor) -> Tensor:
        update = self.output(F.gelu(self.intermediate(hidden)))
        return self.norm(hidden + F.dropout(update, self.dropout, self.training))


class QFormerLayer(nn.Module):
    def __init__(self, config: QFormerConfig, cross_attention: bool) -> None:
        super().__init__()
        c = config
        self.self_attention = MultiHeadAttention(c.hidden_size, c.num_heads, c.hidden_size, c.dropout,
                                                 c.layer_norm_eps)
        self.cross_attention = (
            MultiHeadAttention(c.hidden_size, c.num_heads, c.audio_width, c.dropout, c.layer_norm_eps)
            if cross_attention else None
        )
        self.feed_forward = FeedForward(c.hidden_size, c.intermediate_size, c.dropout, c.layer_norm_eps)

    def forward(self, hidden: Tensor, allowed: Tensor, num_queries: int, audio: Tensor | None,
                audio_mask: Tensor | None) -> Tensor:
        hidden = self.self_attention(hidden, hidden, allowed)
        if self.cross_attention is not None and audio is not None and num_queries:
            queries = self.cross_attention(hidden[:, :num_queries], audio,
                                           audio_mask[:, None, :].expand(-1, num_queries, -1))
            hidden = torch.cat([queries, hidden[:, num_queries:]], dim=1)
        return self.feed_forward(hidden)


class QFormer(nn.Module):
    """Queries (+ optional text) -> hidden states (B, Q + L, H), cross-attending to audio tokens."""

    def __init__(self, config: QFormerConfig, bert_embeddings: nn.Module) -> None:
        """`bert_embeddings`: a HF BertEmbeddings (word/position/token-type tables and LayerNorm)."""
        super().__init__()
        self.config = config
        if not 0 <= config.frozen_layers <= config.num_layers:
            raise ValueError(f"frozen_layers must be in [0, {config.num_layers}], got {config.frozen_layers}")
        self.word_embeddings: nn.Embedding = bert_embeddings.word_embeddings
        self.position_embeddings: nn.Embedding = bert_embeddings.position_embeddings
        self.token_type_embeddings: nn.Embedding = bert_embeddings.token_type_embeddings
        for table in (self.word_embeddings, self.position_embeddings, self.token_type_embeddings):
            table.requires_grad_(False)
        self.embedding_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.embedding_norm.load_state_dict(bert_embeddings.LayerNorm.state_dict())
        self.queries = nn.Parameter(torch.randn(1, config.num_queries, config.hidden_size) * 0.02)
        self.layers = nn.ModuleList(
            QFormerLayer(config, cross_attention=i % config.cross_attention_every == 0)
            for i in range(config.num_layers)
        )
        for layer in self.layers:
            if layer.cross_attention is not None:
                _init_bert_style(layer.cross_attention)

    @property
    def num_queries(self) -> int:
        return self.config.num_queries

    def load_bert_layers(self, bert_state: dict[str, Tensor]) -> None:
        """Copy self-attention and feed-forward weights of `encoder.layer.{i}` from a BertModel state dict,
        then freeze the bottom `frozen_layers` layers (their cross-attention stays trainable)."""
        own = self.state_dict()
        with torch.no_grad():
            for i in range(self.config.num_layers):
                for ours, theirs in _BERT_LAYER_NAMES.items():
                    own[f"layers.{i}.{ours}"].copy_(bert_state[f"encoder.layer.{i}.{theirs}"])
        for layer in self.layers[: self.config.frozen_layers]:
            layer.self_attention.requires_grad_(False)
            layer.feed_forward.requires_grad_(False)

    def text_embeddings(self, input_ids: Tensor, first_token: Tensor | None = None) -> Tensor:
        """BERT input embeddings of text (word + position + token type 0), before the LayerNorm.

        `first_token` (H,) replaces the word embedding of position 0 (the generation objective's
        decoder start token, which the frozen table cannot learn).
        """
        words = self.word_embeddings(input_ids)
        if first_token is not None:
            words = torch.cat([first_token.expand(words.shape[0], 1, -1), words[:, 1:]], dim=1)
        positions = self.position_embeddings(torch.arange(input_ids.shape[1], device=input_ids.device))
        return words + positions + self.token_type_embeddings.weight[0]

    def forward(self, allowed: Tensor, input_ids: Tensor | None = None, audio: Tensor | None = None,
                audio_mask: Tensor | None = None, use_queries: bool = True,
                first_token: Tensor | None = None) -> Tensor:
        """Hidden states of [queries][text]; `allowed` is the (B|1, Q + L, Q + L) mask of `slit_masks`.

        `use_queries=False` runs text alone (then `allowed` is (B, L, L)).
        """
        parts = []
        batch = input_ids.shape[0] if input_ids is not None else audio.shape[0]
        if use_queries:
            parts.append(self.queries.expand(batch, -1, -1))
        if input_ids is not None:
            parts.append(self.text_embeddings(input_ids, first_token))
        hidden = F.dropout(self.embedding_norm(torch.cat(parts, dim=1)), self.config.dropout, self.training)
        num_queries = self.num_queries if use_queries else 0
        allowed = allowed.expand(batch, -1, -1)
        for layer in self.layers:
            hidden = layer(hidden, allowed, num_queries, audio, audio_mask)
        return hidden


_BERT_LAYER_NAMES = {
    "self_attention.query.weight": "attention.self.query.weight",
    "self_attention.query.bias": "attention.self.query.bias",
    "self_attention.key.weight": "attention.self.key.weight",
    "self_attention.key.bias": "attention.self.key.bias",
    "self_attention.value.weight": "attention.self.value.weight",
    "self_attention.value.bias": "attention.self.value.bias",
    "self_attention.output.weight": "attention.output.dense.weight",
    "self_attention.output.bias": "attention.output.dense.bias",
    "self_attention.norm.weight": "attention.output.LayerNorm.weight",
    "self_attention.norm.bias": "attention.output.LayerNorm.bias",
    "feed_forward.intermediate.weight": "intermediate.dense.weight",
    "feed_forward.intermediate.bias": "intermediate.dense.bias",
    "feed_forward.output.weight": "output.dense.weight",
    "feed_forward.output.bias": "output.dense.bias",
    "feed_forward.norm.weight": "output.LayerNorm.weight",
    "feed_forward.norm.bias": "output.LayerNorm.bias",
}


def _init_bert_style(module: nn.Module, std: float = 0.02) -> None:
    """BERT's initialisation for new layers: N(0, 0.02) weights, zero biases, unit LayerNorms."""
    for child in module.modules():
        if isinstance(child, nn.Linear):
            nn.init.normal_(child.weight, std=std)
            nn.init.zeros_(child.bias)
        elif isinstance(child, nn.LayerNorm):
            nn.init.ones_(child.weight)
            nn.init.zeros_(child.bias)


def bert_layer_count(bert_state: dict[str, Tensor]) -> int:
    indices = {int(k.split(".")[2]) for k in bert_state if k.startswith("encoder.layer.")}
    return max(indices) + 1 if indices else 0

