"""MATS (Multiple Audio tasks with Text-only Supervision): an audio LM trained on text alone.

Training sees only text: the frozen alignment model's text tower embeds a description, Gaussian noise
is added, a mapper turns the vector into a soft prompt of `prefix_length` LLM embeddings, the
instruction follows, and the LLM (frozen, with LoRA) learns to write the answer. At inference the
audio tower's embedding takes the text embedding's place, after Santa (`auralign.models.santa`) has
pulled it towards the noisy text embeddings the mapper was trained on.

Classification follows the paper's protocol: generate an answer to the classification instruction,
embed it and every candidate label with the alignment model's frozen text encoder, and score each
candidate by cosine similarity.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from auralign.backbones.base import GREEDY, Decoding, LanguageModel
from auralign.backbones.registry import BACKBONES, backbone_path
from auralign.models.base import CAPTION_INSTRUCTION, PretrainedModel
from auralign.models.santa import Santa, SantaConfig

CLASSIFY_INSTRUCTION = "Classify events in the audio clip."

__all__ = ["CLASSIFY_INSTRUCTION", "Mapper", "MatsConfig",
           "MatsModel", "SantaConfig"]


@dataclass
class MatsConfig:
    alignment_model: str = "clap-fsdd"  # shipped name or checkpoint folder of an AudioTextEmbedder
    language_model: str = "smollm2-135m-instruct"  # backbone name or HF folder
    prefix_length: int = 40
    embedding_tokens: int = 1  # tokens the alignment embedding is expanded into before the queries
    mapper_width: int = 256
    mapper_layers: int = 8
    mapper_heads: int = 8
    mapper_ff_mult: int = 2
    dropout: float = 0.1
    lora_rank: int = 8  # 0: no LoRA
    lora_alpha: float = 32.0  # scaling alpha / rank = 4, as the paper
    lora_dropout: float = 0.1
    lora_targets: list[str] | None = None  # None: peft's default for the architecture (q_proj, v_proj)
    noise_std: float | None = None  # std of the training noise and of the Santa memory; None: training sets
    # it by the paper's rule (data.sigma_manifest)
    chat_template: bool = True
    default_instruction: str = CAPTION_INSTRUCTION
    classify_instruction: str = CLASSIFY_INSTRUCTION
    answer_tokens: int = 8  # max new tokens of a classification answer
    santa: SantaConfig = field(default_factory=SantaConfig)


class Mapper(nn.Module):
    """CLAP embedding -> soft prompt: learnable queries attend to the embedding's tokens through a
    pre-norm transformer; the query outputs are projected to the LLM's embedding size.

    A linear shortcut from the embedding is added to every prefix position (not in the paper). Without
    it the input reaches the queries only through attention, and in short CPU runs the mapper settled
    on one input-independent prompt (spread across inputs 0.016 against a prefix norm of 30 after 150
    steps): the LLM then answers the most frequent label whatever the audio.
    """

    def __init__(self, embed_dim: int, lm_hidden: int, config: MatsConfig, output_std: float = 0.02) -> None:
        super().__init__()
        width = config.mapper_width
        self.embedding_tokens = config.embedding_tokens
        self.expand = nn.Linear(embed_dim, config.embedding_tokens * width)
        self.queries = nn.Parameter(torch.randn(config.prefix_length, width) * 0.02)
        layer = nn.TransformerEncoderLayer(width, config.mapper_heads, config.mapper_ff_mult * width, config.dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, config.mapper_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.project = nn.Linear(width, lm_hidden)
        # Start the soft prompt at the scale of the LLM's own token embeddings: the default init gives
        # vectors several times larger, which the frozen LLM reads as noise and learns from slowly.
        nn.init.normal_(self.project.weight, std=output_std / width**0.5)
        nn.init.zeros_(self.project.bias)
        self.shortcut = nn.Linear(embed_dim, lm_hidden)  # unit-norm inputs: output std ~ output_std
        nn.init.normal_(self.shortcut.weight, std=output_std)
        nn.init.zeros_(self.shortcut.bias)

    def forward(self, embeddings: Tensor) -> Tensor:
        """(B, E) -> (B, prefix_length, lm_hidden)."""
        batch = embeddings.shape[0]
        context = self.expand(embeddings).view(batch, self.embedding_tokens, -1)
        sequence = torch.cat([context, self.queries.expand(batch, -1, -1)], dim=1)
        queries_out = self.transformer(sequence)[:, self.embedding_tokens:]
        return self.project(self.norm(queries_out)) + self.shortcut(embeddings).unsqueeze(1)


def load_language_model_copy(name_or_path: str) -> LanguageModel:
    """A private LLM instance: LoRA mutates it, so it must not be the factory's shared one."""
    from auralign.backbones.language_model import HFLanguageModel

    path = backbone_path(name_or_path) if name_or_path in BACKBONES else Path(name_or_path).expanduser()
    return HFLanguageModel.from_pretrained(path)


class MatsModel(PretrainedModel):
    model_type = "mats"
    config_class = MatsConfig

    def __init__(self, config: MatsConfig, alignment: nn.Module | None = None,
                 language_model: LanguageModel | None = None) -> None:
        super().__init__(config)
        from auralign.models.factory import load_model

        self.alignment = alignment if alignment is not None else load_model(config.alignment_model)
        self.alignment.requires_grad_(False)
        self.alignment.eval()
        self.audio_encoder = self.alignment.audio_encoder
        self.language_model = language_model or load_language_model_copy(config.language_model)
        if config.lora_rank > 0:  # 0: the LLM stays entirely frozen and only the mapper learns
            self.language_model.add_lora(config.lora_rank, config.lora_alpha, config.lora_dropout,
                                         config.lora_targets)
        embed_dim = self.alignment.embed_text(["a"]).shape[-1]
        token_std = float(self.language_model.embed(torch.arange(256)).std())
        self.mapper = Mapper(embed_dim, self.language_model.hidden_size, config, output_std=token_std)
        self.santa = Santa(config.santa, embed_dim)
        self._label_vectors: dict[tuple[str, ...], Tensor] = {}

    def extra_saved_tensors(self) -> set[str]:
        return {f"santa.{name}" for name in Santa.buffer_names}

    def train(self, mode: bool = True) -> MatsModel:
        """The alignment model stays in eval mode (frozen, no dropout) whatever `mode` is."""
        super().train(mode)
        self.alignment.eval()
        return self

    # -- text side (training) ------------------------------------------------------------------

    @torch.no_grad()
    def embed_text(self, texts: list[str]) -> Tensor:
        """The alignment model's (frozen) text embeddings, the training input before noise."""
        return self.alignment.embed_text(texts)

    def add_noise(self, text_embeddings: Tensor) -> Tensor:
        if not self.config.noise_std:
            return text_embeddings
        return text_embeddings + self.config.noise_std * torch.randn_like(text_embeddings)

    def training_loss(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        """Batch: `text_embedding` (B, E) precomputed clean text embeddings, `instruction` and `answer`
        lists. Fresh noise every step; cross-entropy on the answer tokens only."""
        prefix = self.mapper(self.add_noise(batch["text_embedding"]))
        loss = self.language_model.loss(prefix, list(batch["instruction"]), list(batch["answer"]),
                                        chat_template=self.config.chat_template)
        return {"loss": loss}

    @torch.no_grad()
    def build_memory(self, text_embeddings: Tensor, seed: int = 0) -> None:
        """Santa's memory from clean text embeddings of `memory_size` training texts (noise added here)."""
        generator = torch.Generator().manual_seed(seed)
        noise = torch.randn(text_embeddings.shape, generator=generator) * (self.config.noise_std or 0.0)
        self.santa.build(text_embeddings.float().cpu() + noise, seed=seed)

    # -- audio side (inference) ----------------------------------------------------------------

    @torch.no_grad()
    def embed_audio_tokens(self, tokens: Tensor, mask: Tensor) -> Tensor:
        """The alignment model's audio embedding z_a (before Santa)."""
        return self.alignment.embed_audio_tokens(tokens, mask)

    @torch.no_grad()
    def transfer(self, audio_embeddings: Tensor) -> Tensor:
        """Santa: z_a -> the vector the mapper receives."""
        return self.santa(audio_embeddings)

    @torch.no_grad()
    def generate_from_embeddings(self, embeddings: Tensor, instruction: str | None = None,
                                 decoding: Decoding | None = None) -> list[str]:
        """Text from vectors of the alignment space (an audio embedding after Santa, or a text embedding
        plus noise when testing the decoder alone)."""
        prefix = self.mapper(embeddings)
        prompts = [instruction or self.config.default_instruction] * embeddings.shape[0]
        return self.language_model.generate(prefix, prompts, decoding, chat_template=self.config.chat_template)

    @torch.no_grad()
    def generate(self, tokens: Tensor, mask: Tensor, instruction: str | None = None,
                 decoding: Decoding | None = None) -> list[str]:
        embeddings = self.transfer(self.embed_audio_tokens(tokens, mask))
        return self.generate_from_embeddings(embeddings, instruction, decoding)

    @torch.no_grad()
    def match_vectors(self, texts: list[str]) -> Tensor:
        """L2-normalised sentence vectors of the alignment model's frozen text encoder (text matching)."""
        return F.normalize(self.alignment.text_encoder.encode_texts(texts).pooled.float(), dim=-1)

    @torch.no_grad()
    def score_candidates(self, tokens: Tensor, mask: Tensor, candidates: list[str]) -> Tensor:
        """Generate an answer to the classification instruction, then cosine to each candidate label."""
        answers = self.generate(tokens, mask, self.config.classify_instruction,
                                replace(GREEDY, max_new_tokens=self.config.answer_tokens))
        key = tuple(candidates)
        if key not in self._label_vectors:
            self._label_vectors = {key: self.match_vectors(list(candidates))}
        return self.match_vectors(answers) @ self._label_vectors[key].T
