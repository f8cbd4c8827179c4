"""Lightning callbacks used by the training configs."""

from nlpops.callbacks.batch_seed import BatchSeed
from nlpops.callbacks.classification_report import WandbClassificationReport
from nlpops.callbacks.epoch_history import EpochHistory
from nlpops.callbacks.generation_samples import GenerationSamples
from nlpops.callbacks.history_plot import HistoryPlot
from nlpops.callbacks.ner_report import WandbNerReport

__all__ = [
    "BatchSeed",
    "EpochHistory",
    "GenerationSamples",
    "HistoryPlot",
    "WandbClassificationReport",
    "WandbNerReport",
]
