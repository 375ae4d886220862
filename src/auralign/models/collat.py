"""CoLLAT: token-level locked-language tuning (CoLLAT paper, section 3).

One locked text encoder f_t serves both modalities. Text enters it as its static token embeddings
h^t = E_t x^t; audio enters it as pseudo text tokens h^{a-t} predicted from the frozen audio encoder's
frame tokens by a token-interaction module: a series of blocks that start from fixed N(0, 1) random
vectors and refine them by attending to the audio (self-attention among the pseudo tokens,
cross-attention to the audio tokens, a feed-forward layer; pre-norm residuals). The global embeddings
are the encoder's pooled outputs, z^a = f_t(h^{a-t}) and z^t = f_t(h^t), L2-normalised. Nothing on
the text side trains: text embeddings are exactly the locked encoder's sentence vectors, and the only
trainable weights are the interaction module and the contrastive temperature.

Training (`training_loss`) combines L_cross-token, L_cross-global and L_uni-token (see
`auralign.models.losses`). The token losses are taken at `token_loss_layer`: 0 compares the
encoder inputs (h^{a-t} against E_t x^t, the paper's choice); k >= 1 compares the outputs of
transformer block k, which costs a pass of the noisy pseudo tokens through the encoder as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from auralign.backbones.base import AudioEncoder, TextEncoder, masked_mean
from auralign.errors import AuralignError
from auralign.models.base import PretrainedModel, frozen_backbones
from auralign.models.losses import (
    INIT_LOGIT_SCALE,
    LogitScale,
    cross_global_loss,
    cross_token_loss,
    uni_token_loss,
)


@dataclass
class CollatConfig:
    audio_encoder: str = "aisfx"
    text_encoder: str = "minilm-l6-v2"
    num_tokens: int = 20  # N pseudo tokens; must cover the longest tokenized training caption
    blocks: int = 8  # token-interaction blocks (the paper's 8)
    width: int = 128
    heads: int = 4
    ffn_hidden: int = 256
    dropout: float = 0.1
    max_audio_tokens: int = 64  # learned positions over the audio tokens (~12 s of aiSFX tokens)
    query_seed: int = 0  # seed of the fixed N(0, 1) vectors the first block starts from
    token_loss_layer: int = 0  # 0 = encoder inputs (E_t x^t), k >= 1 = output of transformer block k
    cross_token_weight: float = 1.0  # lambda_1
    cross_global_weight: float = 0.1  # lambda_2
    uni_token_weight: float = 0.01  # lambda_3
    uni_noise_std: float = 1.0  # Gaussian noise on the frame tokens, in units of each clip's token std
    init_logit_scale: float = INIT_LOGIT_SCALE


class InteractionBlock(nn.Module):
    """Pseudo tokens attend to each other, then to the audio tokens, then a feed-forward layer."""

    def __init__(self, width: int, heads: int, ffn_hidden: int, dropout: float) -> None:
        super().__init__()
        self.norm_self = nn.LayerNorm(width)
        self.self_attention = nn.MultiheadAttention(width, heads, dropout=dropout, batch_first=True)
        self.norm_cross = nn.LayerNorm(width)
        self.cross_attention = nn.MultiheadAttention(width, heads, dropout=dropout, batch_first=True)
        self.norm_ffn = nn.LayerNorm(width)
        self.ffn = nn.Sequential(nn.Linear(width, ffn_hidden), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(ffn_hidden, width))
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries: Tensor, audio: Tensor, audio_padding: Tensor) -> Tensor:
        x = self.norm_self(queries)
        queries = queries + self.dropout(self.self_attention(x, x, x, need_weights=False)[0])
        x = self.norm_cross(queries)
        attended = self.cross_attention(x, audio, audio, key_padding_mask=audio_padding, need_weights=False)[0]
        queries = queries + self.dropout(attended)
        return queries + self.dropout(self.ffn(self.norm_ffn(queries)))


class TokenInteraction(nn.Module):
    """f_{a-t}: audio frame tokens (B, T, D_a) -> N pseudo text-token embeddings (B, N, D_text_in)."""

    def __init__(self, audio_dim: int, text_input_dim: int, config: CollatConfig) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(config.query_seed)
        self.register_buffer("initial_queries", torch.randn(config.num_tokens, config.width, generator=generator))
        self.audio_input = nn.Linear(audio_dim, config.width)
        self.audio_position = nn.Parameter(torch.zeros(1, config.max_audio_tokens, config.width))
        nn.init.normal_(self.audio_position, std=0.02)
        self.blocks = nn.ModuleList(
            InteractionBlock(config.width, config.heads, config.ffn_hidden, config.dropout)
            for _ in range(config.blocks)
        )
        self.norm_out = nn.LayerNorm(config.width)
        self.output = nn.Linear(config.width, text_input_dim)

    def forward(self, tokens: Tensor, mask: Tensor) -> Tensor:
        limit = self.audio_position.shape[1]
        tokens, mask = tokens[:, :limit], mask[:, :limit]
        audio = self.audio_input(tokens) + self.audio_position[:, : tokens.shape[1]]
        padding = ~mask
        padding[:, 0] &= mask.any(dim=1)  # an all-padding row (empty clip) would give NaN attention
        queries = self.initial_queries.unsqueeze(0).expand(tokens.shape[0], -1, -1).to(audio.dtype)
        for block in self.blocks:
            queries = block(queries, audio, padding)
        return self.output(self.norm_out(queries))


class CollatModel(PretrainedModel):
    model_type = "collat"
    config_class = CollatConfig

    def __init__(self, config: CollatConfig, audio_encoder: AudioEncoder | None = None,
                 text_encoder: TextEncoder | None = None) -> None:
        super().__init__(config)
        self.audio_encoder, self.text_encoder = frozen_backbones(config, audio_encoder, text_encoder)
        self.text_input_dim = self.text_encoder.input_embeddings().embedding_dim
        self.interaction = TokenInteraction(self.audio_encoder.dim, self.text_input_dim, config)
        self.logit_scale = LogitScale(config.init_logit_scale)
        if config.token_loss_layer < 0:
            raise AuralignError(f"token_loss_layer must be >= 0, got {config.token_loss_layer}")

    def extra_saved_tensors(self) -> set[str]:
        return {"interaction.initial_queries"}

    # -- inference -------------------------------------------------------------------------------

    def audio_text_tokens(self, tokens: Tensor, mask: Tensor) -> Tensor:
        """h^{a-t}: (B, T, D) frame tokens -> (B, N, D_in) pseudo tokens in the text encoder's
        input-embedding space; `text_encoder(inputs_embeds=...)` or any model that takes this
        encoder's token embeddings can consume them."""
        return self.interaction(tokens, mask)

    def encode_pseudo_tokens(self, pseudo: Tensor) -> Tensor:
        """f_t(h^{a-t}) pooled over all N pseudo tokens (B, D), not normalised."""
        return self.text_encoder(inputs_embeds=pseudo, attention_mask=self._full_mask(pseudo)).pooled

    def embed_audio_tokens(self, tokens: Tensor, mask: Tensor) -> Tensor:
        return F.normalize(self.encode_pseudo_tokens(self.audio_text_tokens(tokens, mask)), dim=-1)

    def text_features(self, texts: list[str]) -> Tensor:
        """The locked encoder's pooled sentence vectors (B, D): z^t before normalisation."""
        with torch.no_grad():
            return self.text_encoder.encode_texts(texts).pooled

    def embed_text(self, texts: list[str]) -> Tensor:
        return F.normalize(self.text_features(texts), dim=-1)

    def embed_audio(self, waveforms: Tensor, lengths: Tensor | None = None) -> Tensor:
        encoded = self.audio_encoder(waveforms, lengths)
        return self.embed_audio_tokens(encoded.tokens, encoded.mask)

    # -- training --------------------------------------------------------------------------------

    def training_loss(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        """Batch: `tokens` (B, T, D) + `mask` frame tokens; `text_ids` + `text_mask` (B, L <= N) the
        tokenized captions; optional `text_features` (B, D) precomputed f_t(h^t) (else computed) and
        `match_ids` (B,) (equal ids = same label set = positives of each other)."""
        config = self.config
        text_ids, text_mask = batch["text_ids"], batch["text_mask"].bool()
        if text_ids.shape[1] > config.num_tokens:
            raise AuralignError(f"captions of {text_ids.shape[1]} tokens exceed num_tokens={config.num_tokens}")
        pseudo = self.audio_text_tokens(batch["tokens"], batch["mask"])
        audio_pooled, pseudo_layer = self._encode_with_layer(pseudo)
        text_features = batch.get("text_features")
        with torch.no_grad():
            text_layer = self._text_layer(text_ids, text_mask)
            if text_features is None:
                text_features = self.text_encoder(text_ids, text_mask.long()).pooled
        token_scale = text_layer[text_mask].std().clamp_min(1e-6)
        losses = {
            "cross_token": cross_token_loss(pseudo_layer, text_layer, text_mask, token_scale),
            "cross_global": cross_global_loss(F.normalize(audio_pooled, dim=-1), F.normalize(text_features, dim=-1),
                                              self.logit_scale(), batch.get("match_ids")),
        }
        if config.uni_token_weight > 0:
            noisy = self.audio_text_tokens(self.perturb(batch["tokens"], batch["mask"]), batch["mask"])
            noisy_layer = noisy if config.token_loss_layer == 0 else self._encode_with_layer(noisy)[1]
            losses["uni_token"] = uni_token_loss(pseudo_layer, noisy_layer, token_scale)
        weights = {"cross_token": config.cross_token_weight, "cross_global": config.cross_global_weight,
                   "uni_token": config.uni_token_weight}
        total = sum(weights[name] * value for name, value in losses.items() if weights[name] > 0)
        return {"loss": total, **{name: value.detach() for name, value in losses.items()},
                "logit_scale": self.logit_scale().detach()}

    def perturb(self, tokens: Tensor, mask: Tensor) -> Tensor:
        """Frame tokens + Gaussian noise of std `uni_noise_std` x the clip's own token std (padding kept 0)."""
        valid = mask.unsqueeze(-1).to(tokens.dtype)
        mean = masked_mean(tokens, mask).unsqueeze(1)
        count = (valid.sum(dim=(1, 2)) * tokens.shape[-1]).clamp_min(1.0)
        spread = ((((tokens - mean) * valid) ** 2).sum(dim=(1, 2)) / count).sqrt()
        noise = torch.randn_like(tokens) * (self.config.uni_noise_std * spread)[:, None, None]
        return tokens + noise * valid

    def _full_mask(self, pseudo: Tensor) -> Tensor:
        return torch.ones(pseudo.shape[:2], dtype=torch.long, device=pseudo.device)

    def _encode_with_layer(self, pseudo: Tensor) -> tuple[Tensor, Tensor]:
        """Pooled f_t(pseudo) and the pseudo tokens at `token_loss_layer`, in one encoder pass."""
        layer = self.config.token_loss_layer
        if layer == 0:
            return self.encode_pseudo_tokens(pseudo), pseudo
        mask = self._full_mask(pseudo)
        states = self._hidden_states(inputs_embeds=pseudo, attention_mask=mask)
        return masked_mean(states[-1], mask.bool()), states[layer]

    def _text_layer(self, text_ids: Tensor, text_mask: Tensor) -> Tensor:
        """h^t at `token_loss_layer`: E_t x^t for layer 0, else the output of block k."""
        layer = self.config.token_loss_layer
        if layer == 0:
            return self.text_encoder.input_embeddings()(text_ids)
        return self._hidden_states(input_ids=text_ids, attention_mask=text_mask.long())[layer]

    def _hidden_states(self, **inputs: Tensor) -> tuple[Tensor, ...]:
        """Per-layer states of a Hugging Face BERT-like encoder (index 0 = embedding output)."""
        model = getattr(self.text_encoder, "model", None)
        if model is None or getattr(self.text_encoder, "is_clip", False):
            raise AuralignError("token_loss_layer > 0 needs a Hugging Face BERT-like text encoder")
        states = model(**inputs, output_hidden_states=True).hidden_states
        if self.config.token_loss_layer >= len(states):
            raise AuralignError(f"token_loss_layer={self.config.token_loss_layer} but the text encoder has "
                                f"{len(states) - 1} layers")
        return states
