"""LightningModules: a shared transformer base and one small subclass per task."""

from nlpops.models.classification import TextClassifier

__all__ = ["TextClassifier"]
