"""A sandbox server's world kept across restarts, as a real tenant and org keep theirs.

Each server hands over its state as bytes (`MicrosoftSandbox.dump` / `SalesforceSandbox.dump`,
each store pickled under its own lock). `WorldFile` writes them to one file under the data
folder (`data/sandbox/<service>.state`): atomically (a temporary file, fsync, rename), shortly
after changes and at a clean exit, and reads them back at start. A second `make run` therefore
finds the mail, delta state, subscriptions, sign-ins and org records the first one left.

A file written by another version of the sandbox (its persisted classes or the Salesforce
schema changed shape) or for another seed or scale is not loaded: the server starts a fresh
world and says so, and `mailferry run` then tells whether Mailferry's database still matches.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import pickle
import threading
import time
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)
# Autosave at most this often, and no more than a twentieth of the time (a big benchmark
# world takes a while to pickle).
MIN_INTERVAL_SECONDS = 1.0
MAX_SHARE_OF_TIME = 0.05


def shape_of(*parts: object) -> str:
    """A fingerprint of what a state file's contents depend on: dataclasses by their field
    names, anything else by its repr. A change of shape makes old files unloadable."""
    described = []
    for part in parts:
        if is_dataclass(part):
            described.append(f"{part.__module__}.{part.__qualname__}({','.join(f.name for f in fields(part))})")
        else:
            described.append(repr(part))
    return hashlib.sha256("\n".join(described).encode()).hexdigest()[:16]


def keep_world(path: Path, settings, shape: str, dump: Callable[[], dict[str, bytes]],
               restore: Callable[[dict[str, bytes]], None], load_fresh: Callable[[], None]) -> WorldFile:
    """Restore the world saved at `path` when it is of this seed, scale and shape, else
    `load_fresh()`; then keep the file up to date."""
    fingerprint = {"seed": settings.seed, "scale": settings.scale, "shape": shape}
    world_file = WorldFile(path, fingerprint, dump, restore)
    if not world_file.load():
        load_fresh()
    world_file.start()
    return world_file


class WorldFile:
    """One server's state file: `load` at start, then `start` saving in the background."""

    def __init__(self, path: Path, fingerprint: dict, dump: Callable[[], dict[str, bytes]],
                 restore: Callable[[dict[str, bytes]], None]) -> None:
        self.path = Path(path)
        self.fingerprint = fingerprint
        self._dump = dump
        self._restore = restore
        self._last_digest = b""
        self._save_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def load(self) -> bool:
        """Restore the saved world; False (and the server keeps its fresh one) when there is
        none, or it was written for another seed, scale or version of the sandbox."""
        try:
            saved = pickle.loads(self.path.read_bytes())
        except FileNotFoundError:
            return False
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as error:
            log.warning("sandbox state %s is unreadable (%s); starting a fresh world", self.path, error)
            return False
        if not isinstance(saved, dict) or saved.get("fingerprint") != self.fingerprint:
            log.warning("sandbox state %s was written for %s, not %s; starting a fresh world",
                        self.path, saved.get("fingerprint") if isinstance(saved, dict) else "?", self.fingerprint)
            return False
        self._restore(saved["state"])
        self._last_digest = _digest(saved["state"])
        return True

    def save(self) -> float:
        """Write the current state unless it is what the file holds; returns the seconds spent."""
        started = time.monotonic()
        with self._save_lock:
            state = self._dump()
            digest = _digest(state)
            if digest != self._last_digest:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
                with open(temporary, "wb") as file:
                    pickle.dump({"fingerprint": self.fingerprint, "state": state}, file,
                                protocol=pickle.HIGHEST_PROTOCOL)
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(temporary, self.path)
                self._last_digest = digest
        return time.monotonic() - started

    def start(self) -> None:
        """Save now, then in the background; and once more when the process exits cleanly
        (gunicorn's worker exits through SystemExit on SIGTERM, which runs atexit)."""
        self.save()
        self._thread = threading.Thread(target=self._autosave, name="sandbox-world-file", daemon=True)
        self._thread.start()
        atexit.register(self.stop)

    def stop(self) -> None:
        """Stop the autosave and write the state a last time."""
        self._stop.set()
        atexit.unregister(self.stop)
        try:
            self.save()
        except Exception:  # an exit must not fail on a full disk; the last autosave stands
            log.exception("could not save the sandbox state to %s", self.path)

    def _autosave(self) -> None:
        interval = MIN_INTERVAL_SECONDS
        while not self._stop.wait(interval):
            try:
                spent = self.save()
            except Exception:
                log.exception("could not save the sandbox state to %s; trying again", self.path)
                spent = 0.0
            interval = max(MIN_INTERVAL_SECONDS, spent / MAX_SHARE_OF_TIME)


def _digest(state: dict[str, bytes]) -> bytes:
    """What a state is, to skip writing one the file already holds (each part is bytes)."""
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode() + b"\0" + hashlib.sha256(state[name]).digest())
    return digest.digest()
