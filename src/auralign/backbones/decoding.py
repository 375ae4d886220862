"""How a language model turns a prompt into text. Torch-free, so the CLI can build its options
without importing torch (`auralign --help` stays fast)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Decoding:
    """How a language model turns a prompt into text.

    The defaults never loop: a 3-gram may not repeat (`no_repeat_ngram_size`) and tokens already
    written are penalised (`repetition_penalty`, CTRL-style; 1.0 turns it off). Small models decoding
    greedily from a soft prompt otherwise fall into "is played by a sound of ... is played by ...".
    `num_beams > 1` is beam search; `do_sample` draws with `temperature` and nucleus `top_p`, seeded
    by `seed` so a run can be repeated.
    """

    max_new_tokens: int = 30
    min_new_tokens: int = 1
    num_beams: int = 1
    no_repeat_ngram_size: int = 3
    repetition_penalty: float = 1.2
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 0.9
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.min_new_tokens <= self.max_new_tokens:
            raise ValueError(f"need 1 <= min_new_tokens <= max_new_tokens, got {self.min_new_tokens}, "
                             f"{self.max_new_tokens}")
        if self.num_beams < 1 or self.repetition_penalty <= 0 or self.temperature <= 0 or not 0 < self.top_p <= 1:
            raise ValueError("need num_beams >= 1, repetition_penalty > 0, temperature > 0 and 0 < top_p <= 1")


#: Plain greedy decoding, no loop blocking: for short fixed answers (labels, yes/no) and descriptions.
GREEDY = Decoding(no_repeat_ngram_size=0, repetition_penalty=1.0)
