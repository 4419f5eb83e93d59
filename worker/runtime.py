"""What a worker process holds for its lifetime: configuration, database, Redis, the secret
box, and the HTTPS session its clients share. Built once per process, lazily, because RQ
imports job functions by name and calls them with ids only."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Iterator

import redis
import requests
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from mailferry.config import Config, load_config
from mailferry.crypto import SecretBox
from mailferry.db import make_engine, make_session_factory
from mailferry.tls import https_session


@dataclass
class Runtime:
    config: Config

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.config.database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return make_session_factory(self.engine)

    @cached_property
    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.config.redis_url)

    @cached_property
    def box(self) -> SecretBox:
        return SecretBox(self.config.encryption_keys)

    @cached_property
    def http(self) -> requests.Session:
        """One keep-alive HTTPS session for Graph and Salesforce calls."""
        return https_session(self.config.client_ca_file)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A database session committed on success and rolled back on error."""
        with self.sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise


_runtime: Runtime | None = None
_lock = threading.Lock()


def runtime() -> Runtime:
    """The process's Runtime, built from the environment on first use."""
    global _runtime
    with _lock:
        if _runtime is None:
            _runtime = Runtime(load_config())
        return _runtime


def use_runtime(value: Runtime | None) -> None:
    """Install a Runtime built from another configuration (tests, benchmarks)."""
    global _runtime
    with _lock:
        _runtime = value
