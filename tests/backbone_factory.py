"""Tiny random backbones saved as folders, one builder per kind (the fixtures are in conftest.py):
aiSFX (audio), BERT (text), Llama with a chat template and GPT-2 without (language models)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    BertConfig,
    BertModel,
    BertTokenizer,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
)

from auralign.backbones.aisfx import AisfxConfig, AisfxNet

# 16 kHz, hop 256, 8 frames per token: one 32-d token per 128 ms; no padding of short clips.
TINY_AISFX = AisfxConfig(sample_rate=16000, n_fft=512, hop_length=256, n_mels=16, f_max=8000.0,
                         base_channels=4, min_frames=8)
WORDS = ["a", "dog", "barks", "puppy", "barking", "cat", "meows", "rain", "falls", "on", "the", "roof",
         "stock", "market", "news", "loud", "engine", "car", "bird", "sings"]
CORPUS = ["What sound is this?", "a dog barks loudly", "rain falls on the roof", "the answer is a car engine",
          "system user assistant You are a helpful assistant", "Name a bird. A sparrow sings."]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
VOCAB_SIZE = 300


def make_tiny_aisfx(folder: Path, seed: int = 0, config: AisfxConfig = TINY_AISFX) -> Path:
    """A random-weight aiSFX backbone folder (config.json + model.safetensors)."""
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    (folder / "config.json").write_text(json.dumps(config.to_dict()))
    save_file(AisfxNet(config).state_dict(), str(folder / "model.safetensors"))
    return folder


def make_tiny_bert(folder: Path, seed: int = 0) -> Path:
    """A 2-layer 32-d BERT with a word-level WordPiece vocabulary, saved as a HF folder."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    BertTokenizer(vocab_file=str(vocab)).save_pretrained(folder)
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=5 + len(WORDS), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64)
    BertModel(config).save_pretrained(folder)
    return folder


def make_tiny_tokenizer(chat_template: bool) -> PreTrainedTokenizerFast:
    """A byte-level BPE trained on a few sentences: ids 0-2 are <|endoftext|>, <|im_start|>, <|im_end|>."""
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(CORPUS, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                        pad_token="<|im_end|>", unk_token="<|endoftext|>")
    if chat_template:
        tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def make_tiny_llama(folder: Path) -> Path:
    make_tiny_tokenizer(chat_template=True).save_pretrained(folder)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=VOCAB_SIZE, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         bos_token_id=1, eos_token_id=2, pad_token_id=2)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def make_tiny_gpt2(folder: Path) -> Path:
    make_tiny_tokenizer(chat_template=False).save_pretrained(folder)
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=VOCAB_SIZE, n_embd=32, n_layer=2, n_head=2, n_positions=256,
                        bos_token_id=1, eos_token_id=2)
    GPT2LMHeadModel(config).save_pretrained(folder)
    return folder
