"""nlpops' Hydra plugins: Hydra accepts a plugin only from the ``hydra_plugins`` namespace package, so the
class that configs name lives here and the work is done in ``nlpops.sweeps``."""
