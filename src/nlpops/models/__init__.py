"""LightningModules: a shared transformer base and one small subclass per task."""

from nlpops.models.classification import TextClassifier
from nlpops.models.generation import CausalLanguageModel
from nlpops.models.ner import TokenClassifier

__all__ = ["CausalLanguageModel", "TextClassifier", "TokenClassifier"]
