"""Hyperparameter sweeps that outlive their process: Optuna studies in a database, resumed and shared.

``optuna_sweeper`` is the sweep loop of the Hydra plugin ``hydra_plugins.nlpops_sweeps`` (what the
``hparams_search`` configs name), ``study`` the bookkeeping of a study that several sweep processes share,
``summary`` the table and plots written at the end of a sweep. docs/scale-out.md describes the behaviour.
"""
