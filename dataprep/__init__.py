"""dataprep: Ray-parallel stages that turn raw text into LLM pretraining data."""

__version__ = "0.1.0"
