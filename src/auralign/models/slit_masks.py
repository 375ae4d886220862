"""The Q-Former's self-attention masks, all built here (BLIP-2 section 3.2, SLIT section 2.2).

A Q-Former row is `[Q learned queries][L text tokens]`. Which position may attend to which decides
the objective:

* `contrastive` (ATC, uni-modal): queries see only queries, text sees only text, so the query outputs
  depend on the audio alone and the text [CLS] on the text alone.
* `bidirectional` (ATM, and the instruction-aware extraction of stage 3): every position sees every
  position, so queries and text exchange information in both directions.
* `generation` (ATG, multi-modal causal): queries see only queries; text token i sees every query and
  text tokens 0..i, so all audio information a text token gets must pass through the queries.

Masks are boolean (B, Q + L, Q + L) with True where attention is allowed. Padded text positions are
never attended to as keys; their own rows keep at least the queries or [CLS] visible, so no row is
empty (an all-False row would give NaN in softmax).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

MaskKind = Literal["contrastive", "bidirectional", "generation"]
MASK_KINDS: tuple[MaskKind, ...] = ("contrastive", "bidirectional", "generation")


def qformer_attention_mask(kind: MaskKind, num_queries: int, text_mask: Tensor | None) -> Tensor:
    """(B, Q + L, Q + L) bool attention mask; `text_mask` is (B, L), truthy for real text tokens.

    `text_mask=None` means no text at all (queries only): a (1, Q, Q) all-True mask.
    """
    if kind not in MASK_KINDS:
        raise ValueError(f"unknown mask kind {kind!r}; expected one of {', '.join(MASK_KINDS)}")
    if text_mask is None:
        return torch.ones(1, num_queries, num_queries, dtype=torch.bool)
    text_keys = text_mask.bool()
    batch, length = text_keys.shape
    device = text_keys.device
    total = num_queries + length
    is_query = torch.arange(total, device=device) < num_queries
    key_valid = torch.cat([torch.ones(batch, num_queries, dtype=torch.bool, device=device), text_keys], 1)
    query_rows = is_query[:, None]  # (total, 1): the attending position is a query
    query_keys = is_query[None, :]  # (1, total): the attended position is a query
    if kind == "bidirectional":
        allowed = torch.ones(total, total, dtype=torch.bool, device=device)
    elif kind == "contrastive":
        allowed = query_rows == query_keys
    else:
        position = torch.arange(total, device=device)
        causal_text = position[None, :] <= position[:, None]
        allowed = torch.where(query_rows, query_keys, query_keys | causal_text)
    return allowed[None] & key_valid[:, None, :]
