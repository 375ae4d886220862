"""Time one training step (forward + backward to a soft prompt) of the packaged SmolLM2 with logits at
every position (HF's own loss) and with logits only where a label is predicted (auralign's loss).

    python bench/bench_lm_loss.py --batch-size 16 --repeats 5
"""

from __future__ import annotations

import argparse
import time

import torch

from auralign.backbones.language_model import HFLanguageModel
from auralign.backbones.registry import backbone_path


def full_logits_loss(lm: HFLanguageModel, inputs) -> torch.Tensor:
    return lm.model(inputs_embeds=inputs.inputs_embeds, attention_mask=inputs.attention_mask,
                    labels=inputs.labels, use_cache=False).loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--prefix-length", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    lm = HFLanguageModel.from_pretrained(backbone_path("smollm2-135m-instruct"))
    torch.manual_seed(0)
    prefix = (torch.randn(args.batch_size, args.prefix_length, lm.hidden_size) * 0.1).requires_grad_()
    answers = ["acoustic grand piano", "dog barking", "spoken digit seven", "snare drum"]
    inputs = lm.build_inputs(prefix, ["Classify events in the audio clip."] * args.batch_size,
                             [answers[i % len(answers)] for i in range(args.batch_size)], chat_template=False)
    print(f"batch {args.batch_size}, sequence {inputs.labels.shape[1]} tokens, threads {torch.get_num_threads()}")
    variants = [("logits at every position", full_logits_loss), ("logits at label positions", type(lm).forward)]
    for name, loss_fn in variants:
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            loss = loss_fn(lm, inputs)
            loss.backward()
            times.append(time.perf_counter() - start)
        print(f"{name:28s} loss {loss.item():.6f}  median step {sorted(times)[len(times) // 2]:.3f} s")


if __name__ == "__main__":
    main()
