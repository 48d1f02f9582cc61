"""Model presets as data: a Llama-style decoder (causal LM) and a BERT-style encoder (masked LM).

`tiny` trains on the sample archive on a laptop CPU; 125m/350m/1.3b are the MeluXina sizes.
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
    },
}


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
