"""Data sources, splits and Lightning DataModules."""

from nlpops.data.classification import TextClassificationDataModule

__all__ = ["TextClassificationDataModule"]
