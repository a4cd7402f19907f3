"""Build a tiny, randomly initialised CLIP checkpoint on disk for offline tests.

The directory holds what ``save_pretrained`` writes for a real CLIP (config,
safetensors weights, a byte-level BPE tokenizer from a small local vocabulary, and a
``CLIPImageProcessor``), so the production loader reads it through
``AutoModel``/``AutoProcessor`` with ``local_files_only=True``. Weights are random:
use it to exercise code paths, never to judge accuracy.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

IMAGE_SIZE = 32
PROJECTION_DIM = 16


def _vocab() -> tuple[dict[str, int], list[str]]:
    """Characters as word pieces (with and without end-of-word marker), plus specials."""
    tokens = ["<|startoftext|>", "<|endoftext|>", "<unk>"]
    chars = string.ascii_lowercase + string.digits + ".,'-!?&%/():;"
    tokens += list(chars) + [c + "</w>" for c in chars]
    merges = ["t h", "th e</w>", "o f</w>"]
    tokens += ["th", "the</w>", "of</w>"]
    return {tok: i for i, tok in enumerate(tokens)}, merges


def build_tiny_clip(directory: Path, seed: int = 0, *, full_vision: bool = False) -> Path:
    """Write a tiny CLIP model + processor to ``directory`` and return it.

    ``full_vision``: the image tower (and image size, projection) of ViT-B/32 instead of
    a tiny one, for throughput benchmarks (same compute, random weights).
    """
    import torch
    from transformers import (
        CLIPConfig,
        CLIPImageProcessor,
        CLIPModel,
        CLIPProcessor,
        CLIPTokenizer,
    )

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    vocab, merges = _vocab()
    # the files a CLIP tokenizer is made from, kept beside the saved tokenizer.json
    (directory / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (directory / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", "utf-8")
    tokenizer = CLIPTokenizer(
        vocab=dict(vocab),
        merges=[tuple(m.split()) for m in merges],
        unk_token="<unk>",
        bos_token="<|startoftext|>",
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        model_max_length=48,
    )
    bos, eos = vocab["<|startoftext|>"], vocab["<|endoftext|>"]
    config = CLIPConfig(
        text_config={
            "vocab_size": len(vocab),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "max_position_embeddings": 48,
            "bos_token_id": bos,
            "eos_token_id": eos,
            "pad_token_id": eos,
        },
        vision_config=(
            {"image_size": 224, "patch_size": 32}  # the defaults are ViT-B/32's
            if full_vision
            else {
                "hidden_size": 32,
                "intermediate_size": 64,
                "num_hidden_layers": 2,
                "num_attention_heads": 2,
                "image_size": IMAGE_SIZE,
                "patch_size": 8,
            }
        ),
        projection_dim=512 if full_vision else PROJECTION_DIM,
    )
    torch.manual_seed(seed)
    model = CLIPModel(config)
    side = 224 if full_vision else IMAGE_SIZE
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": side}, crop_size={"height": side, "width": side}
    )
    model.save_pretrained(directory)
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(directory)
    return directory
