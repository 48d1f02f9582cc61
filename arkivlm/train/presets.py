"""Model presets as data: a Llama-style decoder (causal LM) and a BERT-style encoder (masked LM).

`tiny` trains on the sample archive on a laptop CPU; 125m/350m/1.3b are the MeluXina sizes; 3b and 7b
(Llama 3.2 3B- and Llama 2 7B-shaped decoders) and a 1b encoder are the sizes that must be split over
GPUs: their TRAIN_DEFAULTS shard them with FSDP (full sharding, one unit per block, activation
checkpointing, sharded checkpoints). How many nodes and how long their jobs run is the MeluXina
profile's business (profiles/meluxina/workflow.yaml, `pretrain_jobs`).
"""

from __future__ import annotations

PRESETS = {
    "causal": {
        "tiny": {"hidden_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 384,
                 "max_position_embeddings": 512},
        "125m": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 2048,
                 "max_position_embeddings": 2048},
        "350m": {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 2816,
                 "max_position_embeddings": 2048},
        "1.3b": {"hidden_size": 2048, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 5504,
                 "max_position_embeddings": 2048},
        "3b": {"hidden_size": 3072, "num_hidden_layers": 28, "num_attention_heads": 24, "num_key_value_heads": 8,
               "intermediate_size": 8192, "max_position_embeddings": 4096},
        "7b": {"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32, "intermediate_size": 11008,
               "max_position_embeddings": 4096},
    },
    "masked": {
        "tiny": {"hidden_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 512,
                 "max_position_embeddings": 512},
        "125m": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
                 "max_position_embeddings": 512},
        "350m": {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096,
                 "max_position_embeddings": 512},
        "1.3b": {"hidden_size": 2048, "num_hidden_layers": 24, "num_attention_heads": 32, "intermediate_size": 8192,
                 "max_position_embeddings": 512},
        "1b": {"hidden_size": 2048, "num_hidden_layers": 18, "num_attention_heads": 16, "intermediate_size": 8192,
               "max_position_embeddings": 512},
    },
}
# Training settings a preset needs whatever the cluster (a model's own `train` still wins).
SHARDED = {"strategy": "fsdp", "precision": "bf16-mixed"}
TRAIN_DEFAULTS = {"causal": {"3b": SHARDED, "7b": SHARDED}, "masked": {"1b": SHARDED}}


def train_defaults(family: str, preset: str) -> dict:
    return dict(TRAIN_DEFAULTS.get(family, {}).get(preset, {}))


def model_config(family: str, preset: str, vocab_size: int, special: dict, overrides: dict | None = None):
    from transformers import BertConfig, LlamaConfig

    params = {**PRESETS[family][preset], **(overrides or {})}
    if family == "causal":
        return LlamaConfig(vocab_size=vocab_size, bos_token_id=special["eos"], eos_token_id=special["eos"],
                           pad_token_id=special["pad"], tie_word_embeddings=preset == "tiny", attn_implementation="sdpa",
                           **params)
    return BertConfig(vocab_size=vocab_size, pad_token_id=special["pad"], attn_implementation="sdpa", **params)


def build_model(family: str, config):
    from transformers import BertForMaskedLM, LlamaForCausalLM

    return (LlamaForCausalLM if family == "causal" else BertForMaskedLM)(config)


def layer_classes(family: str):
    """The blocks FSDP wraps one by one."""
    from transformers.models.bert.modeling_bert import BertLayer
    from transformers.models.llama.modeling_llama import LlamaDecoderLayer

    return {LlamaDecoderLayer} if family == "causal" else {BertLayer}
