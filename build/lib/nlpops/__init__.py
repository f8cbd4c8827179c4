"""nlpops: take an NLP transformer from research to production."""

__version__ = "0.1.0"
