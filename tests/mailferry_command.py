"""One `mailferry` command run as an operator runs it: a child process whose environment holds
only the Mailferry variables a test names (none of the developer's or the suite's)."""

from __future__ import annotations

import os
import subprocess
import sys


def mailferry(*args: str, **variables: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MAILFERRY_") and k not in ("REDIS_URL", "DATABASE_URL")}
    return subprocess.run([sys.executable, "-m", "cli.main", *args], env={**env, **variables},
                          capture_output=True, text=True, timeout=120)
