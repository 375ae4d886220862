"""The Q-Former's three attention masks: their exact pattern, padding, and what they do to a real
Q-Former pass (which outputs can and cannot change when the text changes)."""

from __future__ import annotations

import pytest
import torch
from transformers import BertConfig, BertModel

from auralign.models.qformer import QFormer, QFormerConfig
from auralign.models.slit_masks import MASK_KINDS, qformer_attention_mask

Q = 3
TEXT_MASK = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])


def expected(kind: str, q: int, length: int) -> torch.Tensor:
    """The mask written out position by position, for comparison with the vectorised one."""
    total = q + length
    out = torch.zeros(total, total, dtype=torch.bool)
    for row in range(total):
        for key in range(total):
            row_is_query, key_is_query = row < q, key < q
            if kind == "bidirectional":
                out[row, key] = True
            elif kind == "contrastive":
                out[row, key] = row_is_query == key_is_query
            else:
                out[row, key] = key_is_query if row_is_query else (key_is_query or key <= row)
    return out


@pytest.mark.parametrize("kind", MASK_KINDS)
def test_mask_matches_the_written_out_pattern_and_hides_padding(kind: str) -> None:
    mask = qformer_attention_mask(kind, Q, TEXT_MASK)
    assert mask.shape == (2, Q + 4, Q + 4) and mask.dtype == torch.bool
    torch.testing.assert_close(mask[0], expected(kind, Q, 4))
    padded_keys = torch.tensor([False] * (Q + 2) + [True, True])
    assert not mask[1][:, padded_keys].any()
    torch.testing.assert_close(mask[1][:, ~padded_keys], expected(kind, Q, 4)[:, ~padded_keys])
    assert mask.any(dim=-1).all(), "an empty row would make softmax NaN"


def test_generation_mask_is_causal_over_text_and_queries_never_see_text() -> None:
    mask = qformer_attention_mask("generation", Q, torch.ones(1, 4))[0]
    assert not mask[:Q, Q:].any()
    assert mask[Q:, :Q].all()
    text_part = mask[Q:, Q:]
    torch.testing.assert_close(text_part, torch.ones(4, 4, dtype=torch.bool).tril())


def test_queries_only_and_text_only_masks() -> None:
    assert qformer_attention_mask("bidirectional", Q, None).shape == (1, Q, Q)
    text_only = qformer_attention_mask("contrastive", 0, TEXT_MASK)
    torch.testing.assert_close(text_only, TEXT_MASK.bool()[:, None, :].expand(-1, 4, -1))


def test_unknown_kind_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown mask kind"):
        qformer_attention_mask("causal", Q, TEXT_MASK)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def qformer() -> QFormer:
    torch.manual_seed(0)
    bert = BertModel(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                intermediate_size=32, max_position_embeddings=32))
    config = QFormerConfig(hidden_size=16, num_layers=2, num_heads=2, intermediate_size=32, audio_width=8,
                           num_queries=Q, frozen_layers=0)
    model = QFormer(config, bert.embeddings)
    model.load_bert_layers(bert.state_dict())
    return model.eval()


def run(qformer: QFormer, kind: str, ids: torch.Tensor) -> torch.Tensor:
    audio = torch.randn(1, 5, 8, generator=torch.Generator().manual_seed(1))
    mask = torch.ones(1, 5, dtype=torch.bool)
    allowed = qformer_attention_mask(kind, Q, torch.ones_like(ids))
    with torch.no_grad():
        return qformer(allowed, ids, audio, mask)


def test_masks_decide_what_a_qformer_output_depends_on(qformer: QFormer) -> None:
    ids = torch.tensor([[2, 10, 11, 12, 3]])
    changed_end = torch.tensor([[2, 10, 11, 40, 41]])
    for kind in ("contrastive", "generation"):  # queries never see the text
        torch.testing.assert_close(run(qformer, kind, ids)[:, :Q], run(qformer, kind, changed_end)[:, :Q])
    assert not torch.allclose(run(qformer, "bidirectional", ids)[:, :Q],
                              run(qformer, "bidirectional", changed_end)[:, :Q])
    # generation: text before the change is unaffected, and the text does see the audio (via queries)
    torch.testing.assert_close(run(qformer, "generation", ids)[:, : Q + 3],
                               run(qformer, "generation", changed_end)[:, : Q + 3])
    contrastive_text = run(qformer, "contrastive", ids)[:, Q:]
    assert not torch.allclose(run(qformer, "generation", ids)[:, Q:], contrastive_text)
