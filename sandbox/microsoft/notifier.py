"""Outbound HTTPS calls to subscribers: the synchronous validation handshake and change and
lifecycle notifications, delivered from one background thread (reference §1.8).

Trusts `settings.ca_file` only (trust_env off, so REQUESTS_CA_BUNDLE cannot swap it). Failed
deliveries (network error, timeout, non-2xx) are retried a few times with a short back-off —
real Graph keeps trying for up to 4 hours, which no test wants to wait for — and then dropped,
which the subscription hears about (it sends a `missed` lifecycle notification).
"""

from __future__ import annotations

import collections
import queue
import threading
import time
import uuid
from urllib.parse import urlencode

import requests


class Notifier:
    def __init__(self, ca_file: str | None, tunables) -> None:
        self._ca_file = ca_file
        self._tunables = tunables
        self._queue: queue.Queue = queue.Queue()
        self._local = threading.local()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._pending = 0
        self._generation = 0  # bumped by reset: queued or retrying deliveries of a past world stop
        self._idle = threading.Condition()
        self.log: collections.deque = collections.deque(maxlen=1000)
        # Called with (url, payload) when a change notification could not be delivered at all.
        self.on_undelivered = None
        self.counts = collections.Counter()  # delivered / failed, per kind

    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False
            session.verify = self._ca_file or True
            self._local.session = session
        return session

    # -- validation handshake (synchronous, inside the subscription request) ----------------
    def validate(self, url: str) -> tuple[bool, str]:
        """POST `?validationToken=…` and check the plain-text echo; returns (ok, why not)."""
        token = f"Validation: Testing client application reachability for subscription Request-Id: {uuid.uuid4()}"
        target = url + ("&" if "?" in url else "?") + urlencode({"validationToken": token})
        try:
            answer = self.session().post(target, data=b"", timeout=self._tunables.validation_timeout_s,
                                         headers={"Content-Type": "text/plain; charset=utf-8"})
        except requests.RequestException as exc:
            return False, f"could not reach the endpoint ({type(exc).__name__})"
        if answer.status_code != 200:
            return False, f"the endpoint answered {answer.status_code}"
        if not answer.headers.get("Content-Type", "").lower().startswith("text/plain"):
            return False, "the endpoint must answer with Content-Type text/plain"
        if answer.text != token:
            return False, "the response must exactly match the validationToken query parameter"
        return True, ""

    # -- notifications (asynchronous) --------------------------------------------------------
    def deliver(self, url: str, payload: dict, kind: str = "change") -> None:
        self._ensure_thread()
        with self._idle:
            self._pending += 1
        self._queue.put((url, payload, kind, self._generation))

    def reset(self) -> None:
        """Drop what is queued for the previous world and wait for a delivery in flight."""
        with self._idle:
            self._generation += 1
        self.log.clear()
        self.counts.clear()
        self.wait_idle(timeout=5.0)
        self.log.clear()
        self.counts.clear()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every queued notification was delivered or given up (for tests/control)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def _ensure_thread(self) -> None:
        # Started on first use, not at import: under gunicorn that is after the worker forked.
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="graph-notifier", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            url, payload, kind, generation = self._queue.get()
            try:
                if generation == self._generation:
                    self._post(url, payload, kind, generation)
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def _post(self, url: str, payload: dict, kind: str, generation: int) -> None:
        attempts = max(1, self._tunables.notification_attempts)
        status: int | str = "not sent"
        for attempt in range(1, attempts + 1):
            if generation != self._generation:
                return
            try:
                answer = self.session().post(url, json=payload, timeout=self._tunables.notification_timeout_s)
                status = answer.status_code
                if 200 <= status < 300:
                    break
            except requests.RequestException as exc:
                status = type(exc).__name__
            if attempt < attempts:
                time.sleep(0.2 * 2 ** (attempt - 1))
        self.log.append({"url": url, "kind": kind, "status": status, "payload": payload,
                         "at": time.time()})
        delivered = isinstance(status, int) and 200 <= status < 300
        self.counts[f"{kind}.{'delivered' if delivered else 'failed'}"] += 1
        if not delivered and kind == "change" and self.on_undelivered is not None:
            self.on_undelivered(url, payload)
