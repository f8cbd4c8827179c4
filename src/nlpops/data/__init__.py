"""Data sources, splits and Lightning DataModules."""

from nlpops.data.classification import TextClassificationDataModule
from nlpops.data.ner import TokenClassificationDataModule

__all__ = ["TextClassificationDataModule", "TokenClassificationDataModule"]
