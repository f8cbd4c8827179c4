"""Lightning callbacks used by the training configs."""

from nlpops.callbacks.batch_seed import BatchSeed
from nlpops.callbacks.classification_report import WandbClassificationReport

__all__ = ["BatchSeed", "WandbClassificationReport"]
