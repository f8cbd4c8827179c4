"""Data sources, splits and Lightning DataModules."""

from nlpops.data.classification import TextClassificationDataModule
from nlpops.data.generation import CausalLMDataModule
from nlpops.data.ner import TokenClassificationDataModule

__all__ = ["CausalLMDataModule", "TextClassificationDataModule", "TokenClassificationDataModule"]
