"""Lightning callbacks used by the training configs."""

from nlpops.callbacks.classification_report import WandbClassificationReport
from nlpops.callbacks.epoch_seed import EpochSeed

__all__ = ["EpochSeed", "WandbClassificationReport"]
