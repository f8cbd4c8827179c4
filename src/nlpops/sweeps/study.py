"""An Optuna study that survives a killed sweep and that several sweep processes share through its storage.

``study.optimize`` records heartbeats and fails stale trials by itself; Hydra's sweeper drives the study with
ask/tell, where Optuna does neither. This module adds those two things with Optuna's own parts (RDBStorage
heartbeats, ``fail_stale_trials``, ``RetryFailedTrialCallback``), counts the trials a study still needs, and
seeds the sampler per trial so that processes sharing a study do not replay the same random draws.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import sqlalchemy.exc
from hydra.utils import instantiate
from omegaconf import DictConfig
from optuna.exceptions import ExperimentalWarning
from optuna.storages import BaseStorage, RDBStorage, RetryFailedTrialCallback
from optuna.trial import Trial, TrialState

from nlpops.errors import UserError

log = logging.getLogger(__name__)

# A trial whose sweep process has not written a heartbeat for GRACE_PERIOD_S is taken as interrupted (killed
# process, lost node): it is failed and queued again with the same parameters, so its run folder resumes.
HEARTBEAT_INTERVAL_S = 5
GRACE_PERIOD_S = 30
MAX_RETRY = 3  # the same interrupted trial is queued again at most this often
CLAIMED = (TrialState.COMPLETE, TrialState.RUNNING)

warnings.filterwarnings("ignore", category=ExperimentalWarning)  # heartbeats and retries are "experimental" in 2.x


def open_storage(storage: str | BaseStorage | None) -> BaseStorage | None:
    """The study's storage: a URL becomes an RDBStorage with heartbeats and re-runs of interrupted trials.

    ``None`` keeps Optuna's in-memory storage (nothing persists); a storage object built by the user's config
    (``_target_: optuna.storages.RDBStorage``) is used as it is. A URL that does not open is a ``UserError``.
    """
    if storage is None or isinstance(storage, BaseStorage):
        return storage
    if not isinstance(storage, str):
        raise UserError(f"hydra.sweeper.storage must be a database URL such as sqlite:///optuna.db, got {storage!r}")
    try:
        _create_sqlite_folder(storage)
        return _rdb_storage(storage)
    except (sqlalchemy.exc.SQLAlchemyError, ImportError, OSError) as err:
        reason = str(err).splitlines()[0]
        raise UserError(f"hydra.sweeper.storage: cannot open {redacted(storage)}: {reason}") from None


def _rdb_storage(url: str, attempts: int = 5) -> RDBStorage:
    """Open the storage, again if a try lost a race: sweep processes started together on a new database all
    create its tables, and all but one fail with "table ... already exists"."""

    def storage() -> RDBStorage:
        return RDBStorage(
            url,
            heartbeat_interval=HEARTBEAT_INTERVAL_S,
            grace_period=GRACE_PERIOD_S,
            failed_trial_callback=RetryFailedTrialCallback(max_retry=MAX_RETRY),
        )

    for attempt in range(1, attempts):
        try:
            return storage()
        except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.IntegrityError) as err:
            if isinstance(err, sqlalchemy.exc.OperationalError) and "already exists" not in str(err):
                raise
            time.sleep(0.2 * attempt)
    return storage()


def redacted(url: str) -> str:
    """``url`` without its password, for messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def _create_sqlite_folder(url: str) -> None:
    """SQLite creates its file but not the folder: a sweep folder does not exist before the first sweep."""
    parsed = sqlalchemy.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def fail_stale_trials(study: optuna.Study) -> None:
    """Fail the trials of dead sweep processes; the storage's callback queues each again with its parameters."""
    try:
        optuna.storages.fail_stale_trials(study)
    except RuntimeError:  # another sweep process failed the same trial a moment earlier, and queued it again
        log.debug("A stale trial was failed by another sweep process", exc_info=True)


def trials_to_start(study: optuna.Study, n_trials: int) -> int:
    """How many trials the study still needs: ``n_trials`` counts completed and running trials of all processes."""
    return max(0, n_trials - len(study.get_trials(deepcopy=False, states=CLAIMED)))


def running_trials(study: optuna.Study) -> list[int]:
    return [trial.number for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))]


def is_surplus(study: optuna.Study, trial: Trial, n_trials: int) -> bool:
    """Whether trials before ``trial`` already fill the study: two processes claimed its last trial at once."""
    ahead = [t for t in study.get_trials(deepcopy=False, states=CLAIMED) if t.number < trial.number]
    return len(ahead) >= n_trials


def reseed_sampler(study: optuna.Study, sampler: DictConfig | None, trial_number: int) -> None:
    """Seed the sampler from (its seed, the trial number) before the trial draws its parameters.

    A seeded sampler in every process that joins a study (a second worker, a re-run after a kill) would draw
    the same random parameters as the first, and the same parameters mean the same run folder. Seeding per
    trial keeps a sweep reproducible and the draws of different trials apart (SeedSequence mixes the two, so
    seeds 1 and 2 do not give the same draws one trial apart, as ``seed + number`` would).
    """
    seed = sampler.get("seed") if sampler is not None else None
    if seed is not None:
        trial_seed = int(np.random.SeedSequence([seed, trial_number]).generate_state(1)[0])
        study.sampler = instantiate(sampler, seed=trial_seed)


def record_heartbeats(study: optuna.Study, trials: Sequence[Trial]) -> None:
    """Mark ``trials`` alive now. Called as soon as they are claimed: Optuna never takes a RUNNING trial without
    any heartbeat for stale, so a process dying before its first one would leave a trial no sweep re-runs."""
    storage: Any = study._storage
    if storage.is_heartbeat_enabled():
        for trial in trials:
            storage.record_heartbeat(trial._trial_id)


@contextmanager
def heartbeats(study: optuna.Study, trials: Sequence[Trial]) -> Iterator[None]:
    """Record a heartbeat for ``trials`` every interval while their jobs run, as ``study.optimize`` does."""
    storage: Any = study._storage
    if not storage.is_heartbeat_enabled():
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while True:
            record_heartbeats(study, trials)
            if stop.wait(storage.get_heartbeat_interval()):
                return

    thread = threading.Thread(target=beat, name="optuna-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
