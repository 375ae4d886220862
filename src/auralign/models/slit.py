"""SLIT: a Q-Former between a frozen audio encoder and a frozen LLM, trained in three stages.

Stage 1 (representation learning, no LLM) trains the Q-Former on audio-text pairs with three losses
sharing one forward structure (masks in `auralign.models.slit_masks`):

* ATC, audio-text contrastive: each query output is projected and normalised, the text [CLS] too;
  the audio-text similarity is the maximum over queries of the cosine similarities.
* ATM, audio-text matching: a 2-class linear head on every query output of a joint (bidirectional)
  pass, logits averaged over queries; negatives are mined from the ATC similarities
  (`mine_hard_negatives`).
* ATG, audio-grounded generation: the text decodes causally from the queries (generation mask)
  through a BERT-style LM head whose output matrix is the frozen word-embedding table.

Stage 2 (generative learning) projects the query outputs to the LLM's embedding size and prepends
them as soft prompts; the loss is the LLM's cross entropy on the answer only. Stage 3 (instruction
tuning) also feeds the instruction into the Q-Former (bidirectional with the queries), so the
queries extract what the instruction asks for.

Inference: `score_candidates` ranks candidate labels by their log-likelihood under the LLM after the
classification instruction (vocabulary ranking); a stage-1 model, which has no LLM, ranks them by
the max-over-queries similarity instead. `generate` writes captions or answers. `embed_audio_tokens`
/ `embed_text` give the single-vector embeddings the shared evaluation expects: the audio vector is
the normalised mean of the normalised query projections (its dot product with a text vector is the
mean, not the max, over queries of the similarities); `similarity` gives the trained max-over-queries
score for retrieval.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from auralign.backbones.base import AudioEncoder, Decoding, LanguageModel, TextEncoder
from auralign.backbones.factory import load_language_model
from auralign.errors import AuralignError
from auralign.models.base import CAPTION_INSTRUCTION, PretrainedModel, frozen_backbones
from auralign.models.losses import (
    INIT_LOGIT_SCALE,
    LogitScale,
    gather_with_grad,
    positives_from_labels,
    soft_cross_entropy,
)
from auralign.models.qformer import QFormer, QFormerConfig, bert_layer_count
from auralign.models.slit_masks import qformer_attention_mask

CLASSIFICATION_INSTRUCTION = "This is a sound of"


@dataclass
class SlitConfig:
    audio_encoder: str = "aisfx"
    text_encoder: str = "minilm-l6-v2"  # BERT-style: its weights initialise the Q-Former
    language_model: str = "smollm2-135m-instruct"
    stage: int = 1  # 1: Q-Former only; 2: + LLM, instruction-agnostic; 3: + instruction-aware Q-Former
    qformer: QFormerConfig = field(default_factory=QFormerConfig)
    embed_dim: int = 256  # ATC projection width
    max_text_length: int = 30  # Q-Former text tokens (the paper's 30)
    init_logit_scale: float = INIT_LOGIT_SCALE
    atg_label_smoothing: float = 0.1
    chat_template: bool = False  # soft prompt inside the LLM's chat turn (True) or a plain row (cheaper)
    ranking_reduction: Literal["sum", "mean"] = "sum"  # candidate log-likelihood: total or per token
    caption_instruction: str = CAPTION_INSTRUCTION
    classification_instruction: str = CLASSIFICATION_INSTRUCTION


def mine_hard_negatives(similarity: Tensor, positives: Tensor, generator: torch.Generator | None = None,
                        hardest: bool = False) -> tuple[Tensor, Tensor]:
    """For each row of `similarity` (B, N), one negative column: sampled with probability softmax(sim)
    over the non-positive columns (BLIP-2), or the most similar non-positive column (`hardest`).

    `positives` (B, N) bool marks pairs that must never be drawn. Returns (indices (B,), valid (B,)):
    rows with no negative column at all get valid False (and an arbitrary index).
    """
    candidates = ~positives.bool()
    valid = candidates.any(dim=1)
    masked = similarity.detach().float().masked_fill(~candidates, float("-inf"))
    masked[~valid] = 0.0  # any finite row; its index is flagged invalid
    if hardest:
        return masked.argmax(dim=1), valid
    return torch.multinomial(masked.softmax(dim=1), 1, generator=generator).squeeze(1), valid


def max_over_queries(audio_queries: Tensor, text: Tensor) -> Tensor:
    """(B, Q, E) normalised query projections x (N, E) normalised texts -> (B, N) max cosine."""
    return torch.einsum("bqe,ne->bnq", audio_queries, text).amax(dim=-1)


class SlitModel(PretrainedModel):
    model_type = "slit"
    config_class = SlitConfig

    def __init__(self, config: SlitConfig, audio_encoder: AudioEncoder | None = None,
                 text_encoder: TextEncoder | None = None, language_model: LanguageModel | None = None) -> None:
        super().__init__(config)
        if config.stage not in (1, 2, 3):
            raise AuralignError(f"SLIT stage must be 1, 2 or 3, not {config.stage}")
        self.audio_encoder, self.text_encoder = frozen_backbones(config, audio_encoder, text_encoder)
        bert = getattr(self.text_encoder, "model", None)
        bert_state = bert.state_dict() if bert is not None else {}
        if bert is None or not hasattr(bert, "embeddings") or bert_layer_count(bert_state) < config.qformer.num_layers:
            raise AuralignError(f"the Q-Former needs a BERT-style text encoder with at least "
                                f"{config.qformer.num_layers} layers ({config.text_encoder!r} is not)")
        q = config.qformer
        if q.hidden_size != self.text_encoder.dim or q.audio_width != self.audio_encoder.dim:
            raise AuralignError(f"qformer.hidden_size/audio_width must be {self.text_encoder.dim}/"
                                f"{self.audio_encoder.dim} for these backbones")
        self.qformer = QFormer(q, bert.embeddings)
        self.qformer.load_bert_layers(bert_state)
        hidden = q.hidden_size
        self.audio_norm = nn.LayerNorm(self.audio_encoder.dim)
        # Stage 1 heads.
        self.audio_proj = nn.Linear(hidden, config.embed_dim)
        self.text_proj = nn.Linear(hidden, config.embed_dim)
        self.logit_scale = LogitScale(config.init_logit_scale)
        self.matching_head = nn.Linear(hidden, 2)
        self.generation_transform = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(),
                                                  nn.LayerNorm(hidden, eps=q.layer_norm_eps))
        self.generation_bias = nn.Parameter(torch.zeros(self.qformer.word_embeddings.num_embeddings))
        cls_id = self.text_encoder.tokenizer.cls_token_id
        self.decoder_start = nn.Parameter(self.qformer.word_embeddings.weight[cls_id].detach().clone())
        # Stages 2-3: the frozen LLM and the projection into its embedding space.
        self.language_model: LanguageModel | None = None
        if config.stage >= 2:
            self.language_model = (language_model or load_language_model(config.language_model)).requires_grad_(False)
            self.llm_proj = nn.Linear(hidden, self.language_model.hidden_size)
            _match_embedding_scale(self.llm_proj, self.language_model)

    # -- Q-Former passes ---------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        return self.qformer.queries.device

    @property
    def num_queries(self) -> int:
        return self.qformer.num_queries

    def tokenize(self, texts: list[str]) -> tuple[Tensor, Tensor]:
        batch = self.text_encoder.tokenize(list(texts), max_length=self.config.max_text_length)
        return batch.input_ids.to(self.device), batch.attention_mask.to(self.device)

    def _audio(self, tokens: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        return self.audio_norm(tokens.to(self.device)), mask.to(self.device).bool()

    def query_states(self, tokens: Tensor, mask: Tensor, instructions: list[str] | None = None) -> Tensor:
        """(B, Q, H) query outputs for audio tokens; with `instructions` (stage 3) the instruction text
        shares the self-attention with the queries (bidirectional mask)."""
        audio, audio_mask = self._audio(tokens, mask)
        if instructions is None:
            allowed = qformer_attention_mask("bidirectional", self.num_queries, None).to(self.device)
            return self.qformer(allowed, audio=audio, audio_mask=audio_mask)
        ids, text_mask = self.tokenize(instructions)
        allowed = qformer_attention_mask("bidirectional", self.num_queries, text_mask)
        return self.qformer(allowed, ids, audio, audio_mask)[:, : self.num_queries]

    def audio_query_embeddings(self, tokens: Tensor, mask: Tensor) -> Tensor:
        """(B, Q, E) normalised ATC projections of the query outputs."""
        return F.normalize(self.audio_proj(self.query_states(tokens, mask)), dim=-1)

    def embed_text(self, texts: list[str]) -> Tensor:
        """(N, E) normalised ATC projection of the [CLS] output of a text-only pass."""
        ids, text_mask = self.tokenize(texts)
        allowed = qformer_attention_mask("contrastive", 0, text_mask)
        hidden = self.qformer(allowed, ids, use_queries=False)
        return F.normalize(self.text_proj(hidden[:, 0]), dim=-1)

    def embed_audio_tokens(self, tokens: Tensor, mask: Tensor) -> Tensor:
        """(B, E): the normalised mean of the normalised query projections (see the module docstring)."""
        return F.normalize(self.audio_query_embeddings(tokens, mask).mean(dim=1), dim=-1)

    def similarity(self, tokens: Tensor, mask: Tensor, texts: list[str]) -> Tensor:
        """(B, N) ATC similarity (max over queries) of clips and texts, as trained; for retrieval."""
        return max_over_queries(self.audio_query_embeddings(tokens, mask), self.embed_text(texts))

    # -- stage 1 -----------------------------------------------------------------------------

    def representation_losses(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        audio, audio_mask = self._audio(batch["tokens"], batch["mask"])
        ids, text_mask = self.tokenize(batch["texts"])
        match_ids = batch.get("match_ids")
        match_ids = match_ids.to(self.device) if match_ids is not None else torch.arange(len(ids), device=self.device)
        atc, similarity = self._contrastive_loss(audio, audio_mask, ids, text_mask, match_ids)
        atm = self._matching_loss(audio, audio_mask, ids, text_mask, similarity,
                                  match_ids[:, None] == match_ids[None, :])
        atg = self._generation_loss(audio, audio_mask, ids, text_mask)
        return {"loss": atc + atm + atg, "atc": atc.detach(), "atm": atm.detach(), "atg": atg.detach(),
                "logit_scale": self.logit_scale().detach()}

    def _contrastive_loss(self, audio: Tensor, audio_mask: Tensor, ids: Tensor, text_mask: Tensor,
                          match_ids: Tensor) -> tuple[Tensor, Tensor]:
        """ATC in one pass (the uni-modal mask keeps queries and text apart); also returns the local
        (B, B) similarity matrix for negative mining."""
        allowed = qformer_attention_mask("contrastive", self.num_queries, text_mask)
        hidden = self.qformer(allowed, ids, audio, audio_mask)
        queries = F.normalize(self.audio_proj(hidden[:, : self.num_queries]), dim=-1)
        text = F.normalize(self.text_proj(hidden[:, self.num_queries]), dim=-1)
        all_queries, all_text = gather_with_grad(queries), gather_with_grad(text)
        scale = self.logit_scale()
        audio_to_text = scale * max_over_queries(queries, all_text)
        text_to_audio = scale * max_over_queries(all_queries, text).T
        soft = positives_from_labels(match_ids)
        soft = soft / soft.sum(dim=1, keepdim=True)
        loss = (soft_cross_entropy(audio_to_text, soft) + soft_cross_entropy(text_to_audio, soft)) / 2
        return loss, max_over_queries(queries, text)

    def _matching_loss(self, audio: Tensor, audio_mask: Tensor, ids: Tensor, text_mask: Tensor,
                       similarity: Tensor, positives: Tensor) -> Tensor:
        """ATM on the positive pairs, one hard negative text per clip and one hard negative clip per text."""
        scaled = self.logit_scale().detach() * similarity
        negative_text, text_ok = mine_hard_negatives(scaled, positives)
        negative_audio, audio_ok = mine_hard_negatives(scaled.T, positives.T)
        rows = torch.arange(len(ids), device=self.device)
        audio_index = torch.cat([rows, rows[text_ok], negative_audio[audio_ok]])
        text_index = torch.cat([rows, negative_text[text_ok], rows[audio_ok]])
        labels = torch.cat([torch.ones_like(rows), torch.zeros_like(audio_index[len(rows):])])
        allowed = qformer_attention_mask("bidirectional", self.num_queries, text_mask[text_index])
        hidden = self.qformer(allowed, ids[text_index], audio[audio_index], audio_mask[audio_index])
        logits = self.matching_head(hidden[:, : self.num_queries]).mean(dim=1)
        return F.cross_entropy(logits, labels)

    def _generation_loss(self, audio: Tensor, audio_mask: Tensor, ids: Tensor, text_mask: Tensor) -> Tensor:
        """ATG: next-token cross entropy of the text, decoding from a learned start token ([CLS] slot)."""
        allowed = qformer_attention_mask("generation", self.num_queries, text_mask)
        hidden = self.qformer(allowed, ids, audio, audio_mask, first_token=self.decoder_start)
        text_hidden = self.generation_transform(hidden[:, self.num_queries:-1])
        logits = text_hidden @ self.qformer.word_embeddings.weight.T + self.generation_bias
        targets = ids[:, 1:].masked_fill(~text_mask[:, 1:].bool(), -100)
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100,
                               label_smoothing=self.config.atg_label_smoothing)

    # -- stages 2 and 3 ----------------------------------------------------------------------

    def soft_prompt(self, tokens: Tensor, mask: Tensor, instructions: list[str] | None = None) -> Tensor:
        """(B, Q, LLM hidden) soft prompts; the instruction enters the Q-Former only from stage 3."""
        self._require_llm()
        aware = instructions if self.config.stage >= 3 else None
        return self.llm_proj(self.query_states(tokens, mask, aware))

    def generative_loss(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        """LLM cross entropy on the answers; batch: tokens, mask, instructions, answers."""
        instructions = batch["instructions"]
        prefix = self.soft_prompt(batch["tokens"], batch["mask"], instructions)
        loss = self.language_model.loss(prefix, instructions, batch["answers"], self.config.chat_template)
        return {"loss": loss}

    def training_loss(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        return self.representation_losses(batch) if self.config.stage == 1 else self.generative_loss(batch)

    # -- inference ---------------------------------------------------------------------------

    @torch.no_grad()
    def score_candidates(self, tokens: Tensor, mask: Tensor, candidates: list[str],
                         instruction: str | None = None) -> Tensor:
        """(B, C) scores: log-likelihood of each candidate after the classification instruction
        (vocabulary ranking); a stage-1 model scores "<instruction> <candidate>." by max-over-queries
        similarity instead."""
        instruction = instruction or self.config.classification_instruction
        if self.language_model is None:
            return self.similarity(tokens, mask, [f"{instruction} {c}." for c in candidates])
        prefix = self.soft_prompt(tokens, mask, [instruction] * len(tokens))
        return torch.stack([
            self.language_model.score_candidates(row[None], instruction, list(candidates),
                                                 self.config.ranking_reduction, self.config.chat_template)
            for row in prefix
        ]).to(prefix.device)

    @torch.no_grad()
    def generate(self, tokens: Tensor, mask: Tensor, instruction: str | None = None,
                 decoding: Decoding | None = None) -> list[str]:
        instructions = [instruction or self.config.caption_instruction] * len(tokens)
        prefix = self.soft_prompt(tokens, mask, instructions)
        return self.language_model.generate(prefix, instructions, decoding, self.config.chat_template)

    def _require_llm(self) -> None:
        if self.language_model is None:
            raise AuralignError("this SLIT model is a stage-1 model (no language model); it embeds and "
                                "ranks but cannot generate text")


def _match_embedding_scale(projection: nn.Linear, language_model: LanguageModel) -> None:
    """Initialise the LLM projection so that soft prompts start at the scale of the LLM's own token
    embeddings (the Q-Former's outputs are LayerNorm-ed, about unit variance per feature): a default
    init gives prompts several times larger, which the frozen LLM reads as noise and which slows the
    first steps of stage 2 down."""
    with torch.no_grad():
        token_std = float(language_model.embed(torch.arange(256)).float().std())
        nn.init.normal_(projection.weight, std=token_std / projection.in_features ** 0.5)
        nn.init.zeros_(projection.bias)
