"""Where the processes of one installation keep their Prometheus samples
(PROMETHEUS_MULTIPROC_DIR, by default `metrics/` in the data folder).

gunicorn's processes and every worker write their counters to memory-mapped files in this
folder; the web app's `/metrics` adds them up (server/metrics.py). prometheus_client decides
at import whether to write files, from the environment variable, so `use_metrics_folder` runs
first in each process (cli/main.py), and this module imports nothing of it.

Counters of processes that have stopped stay in the folder: their totals keep counting, as a
counter should across restarts. Only a start of the whole installation empties it
(`mailferry run`). Under systemd it is `/var/lib/mailferry/metrics`, kept across restarts and
never emptied by a unit (docs/operations.md, "Metrics").
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

ENVIRONMENT_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
log = logging.getLogger(__name__)


def use_metrics_folder(folder: Path, *, empty: bool = False) -> None:
    """Make this process (and the processes it starts) write its samples into `folder`;
    `empty` removes the sample files earlier processes left there (only at the start of them
    all), and nothing else: the folder may be one an operator named."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if empty:
        for samples in folder.glob("*.db"):  # prometheus_client's files: counter_<pid>.db …
            samples.unlink(missing_ok=True)
    if "prometheus_client" in sys.modules and os.environ.get(ENVIRONMENT_VARIABLE) != str(folder):
        # Too late for this process (a test calling the CLI in-process): its samples stay in
        # its memory; the processes it starts still write to the folder.
        log.debug("prometheus_client was imported before the metrics folder was set")
    os.environ[ENVIRONMENT_VARIABLE] = str(folder)
