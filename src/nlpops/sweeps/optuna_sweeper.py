"""Hydra's Optuna sweeper, made to continue its study: ``python train.py -m hparams_search=...`` run again goes on.

The stock sweeper (hydra-optuna-sweeper 1.3) runs ``n_trials`` new trials on every call, leaves a killed trial
RUNNING forever, and stops the sweep at the first failed job. This subclass keeps its config schema, search
space parsing and launching, and changes the loop: ``n_trials`` counts the completed trials of the whole study,
interrupted trials are run again with their parameters (so their run folder resumes from ``last.ckpt``),
processes sharing a storage split the trials between them, and failed jobs are recorded as FAIL trials while
the sweep goes on, up to ``max_failure_rate * n_trials`` of them per run. It ends with a summary in the sweep folder.
"""

from __future__ import annotations

import functools
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import optuna
from hydra.core.utils import JobReturn
from hydra.types import HydraContext, TaskFunction
from hydra_plugins.hydra_optuna_sweeper._impl import OptunaSweeperImpl, create_params_from_overrides
from omegaconf import DictConfig
from optuna.distributions import BaseDistribution
from optuna.trial import Trial, TrialState

from nlpops.errors import UserError
from nlpops.sweeps import study as studies
from nlpops.sweeps.summary import write_summary
from nlpops.utils.runs import EXIT_USER_ERROR

log = logging.getLogger(__name__)


class PersistentSweeperImpl(OptunaSweeperImpl):
    """The loop of ``hydra_plugins.nlpops_sweeps.persistent_optuna_sweeper.PersistentOptunaSweeper``."""

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)
        self.sampler_config: DictConfig | None = config.hydra.sweeper.get("sampler")
        self.failures: list[str] = []

    def sweep(self, arguments: list[str]) -> None:
        """Run trials until the study holds ``n_trials`` completed ones; a ``UserError`` is one line and exit 2."""
        try:
            self._sweep(arguments)
        except UserError as err:
            print(f"error: {err}", file=sys.stderr)
            raise SystemExit(EXIT_USER_ERROR) from None

    def _sweep(self, arguments: list[str]) -> None:
        distributions, fixed_params = self._search_space(arguments)
        study = optuna.create_study(
            study_name=self.study_name,
            storage=studies.open_storage(self.storage),
            sampler=self.sampler,
            directions=self._get_directions(),
            load_if_exists=True,
        )
        log.info("Study %r in %s", study.study_name, studies.redacted(str(self.storage or "memory (not kept)")))
        while trials := self._claim_trials(study):
            overrides = self._configure_trials(trials, distributions, fixed_params)
            with studies.heartbeats(study, trials):
                returns = self.launcher.launch(overrides, initial_job_idx=self.job_idx)
            self.job_idx += len(returns)
            self._tell(study, trials, returns)
            self._check_failures()
        write_summary(study, Path(self.config.hydra.sweep.dir))

    def _search_space(self, arguments: list[str]) -> tuple[dict[str, BaseDistribution], dict[str, Any]]:
        """The stock sweeper's search space: ``hydra.sweeper.params`` and sweep overrides on the command line."""
        if isinstance(self.sampler, functools.partial):
            raise UserError("GridSampler is not supported here: sweep a grid with `python train.py -m a=1,2 b=3,4`")
        self._process_searchspace_config()
        distributions, fixed_params = create_params_from_overrides(self._parse_sweeper_params_config() + arguments)
        distributions = {**(self.search_space_distributions or {}), **distributions}
        return {name: d for name, d in distributions.items() if name not in fixed_params}, fixed_params

    def _claim_trials(self, study: optuna.Study) -> list[Trial]:
        """The next batch of trials for this process; none once the study is done (waits for other processes)."""
        announced: list[int] = []
        while True:
            studies.fail_stale_trials(study)
            wanted = min(self.n_jobs, studies.trials_to_start(study, self.n_trials))
            if wanted:
                trials = [study.ask() for _ in range(wanted)]
                studies.record_heartbeats(study, trials)
                claimed = [trial for trial in trials if not self._give_up_surplus(study, trial)]
                if claimed:
                    return claimed
                continue
            running = studies.running_trials(study)
            if not running:
                return []
            if running != announced:
                log.info(
                    "Waiting for trials %s: running in another sweep process, or interrupted (then run again "
                    "here once %d s pass without a heartbeat)",
                    running,
                    studies.GRACE_PERIOD_S,
                )
                announced = running
            time.sleep(studies.HEARTBEAT_INTERVAL_S)

    def _give_up_surplus(self, study: optuna.Study, trial: Trial) -> bool:
        if not studies.is_surplus(study, trial, self.n_trials):
            return False
        trial.set_user_attr("note", "not run: another sweep process took the study's last trial at the same time")
        study.tell(trial, state=TrialState.FAIL)
        return True

    def _configure_trials(
        self, trials: list[Trial], distributions: dict[str, BaseDistribution], fixed_params: dict[str, Any]
    ) -> Sequence[Sequence[str]]:
        overrides: list[Sequence[str]] = []
        for trial in trials:
            studies.reseed_sampler(study=trial.study, sampler=self.sampler_config, trial_number=trial.number)
            overrides.extend(super()._configure_trials([trial], distributions, fixed_params))
        return overrides

    def _tell(self, study: optuna.Study, trials: list[Trial], returns: Sequence[JobReturn]) -> None:
        """Record each job's result; a job that raised (out of memory, ...) is a FAIL trial with its error."""
        for trial, job in zip(trials, returns, strict=True):
            trial.set_user_attr("run_dir", str(job.hydra_cfg.hydra.runtime.output_dir))
            try:
                values = _values(job, len(study.directions))
            except Exception as err:  # whatever the job raised fails this trial, not the sweep
                error = f"{type(err).__name__}: {err}".splitlines()[0][:300]
                trial.set_user_attr("error", error)
                log.warning("Trial %d failed: %s", trial.number, error)
                study.tell(trial, state=TrialState.FAIL)
                self.failures.append(f"trial {trial.number}: {error}")
            else:
                study.tell(trial, values=values)

    def _check_failures(self) -> None:
        """Stop once this run's failed trials exceed ``max_failure_rate * n_trials`` (a re-run starts afresh)."""
        if len(self.failures) > self.max_failure_rate * self.n_trials:
            raise RuntimeError(
                f"{len(self.failures)} trials failed, more than max_failure_rate={self.max_failure_rate} of "
                f"n_trials={self.n_trials} allow; last: {self.failures[-1]}"
            )


def _values(job: JobReturn, n_objectives: int) -> list[float]:
    """The job's objective values; ``job.return_value`` raises the job's own exception if it failed."""
    returned = job.return_value
    if returned is None:
        raise ValueError("the job returned no value: is optimized_metric a metric the run logs?")
    values = [float(v) for v in returned] if n_objectives > 1 else [float(returned)]
    if len(values) != n_objectives:
        raise ValueError(f"the job returned {len(values)} values for {n_objectives} objectives")
    return values
