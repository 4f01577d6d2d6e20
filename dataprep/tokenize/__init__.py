"""Tokenization helpers: the HF tokenizer loader, BPE training, and the training-ready exports
(Megatron-LM indexed dataset, flat ``.bin`` with a document index)."""
