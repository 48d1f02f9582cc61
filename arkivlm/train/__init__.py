"""Pretraining: tokens -> a Lightning run around a `transformers` model -> a Hugging Face export."""
