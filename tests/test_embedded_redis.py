"""Redis: the embedded server is a real Redis that RQ runs jobs on, and it stops cleanly."""

from __future__ import annotations

import os
import uuid

import pytest
import redis
from rq import Queue, SimpleWorker

from mailferry.embedded_redis import EmbeddedRedis


def test_rq_runs_a_real_job_on_our_redis(redis_url):
    connection = redis.Redis.from_url(redis_url)
    queue = Queue(f"test-{uuid.uuid4().hex}", connection=connection)
    job = queue.enqueue("tests.rq_jobs.describe_worker", "hello")
    SimpleWorker([queue], connection=connection).work(burst=True)
    job.refresh()
    assert job.is_finished
    assert job.return_value() == f"hello from pid {os.getpid()}"
    queue.delete(delete_jobs=True)


def test_embedded_server_starts_keeps_data_in_its_folder_and_stops(tmp_path):
    socket_path = tmp_path / "redis" / "redis.sock"
    server = EmbeddedRedis(socket_path).start()
    pid = server.pid
    client = redis.Redis.from_url(server.url)
    client.set("k", "v")
    client.save()
    assert (tmp_path / "redis" / "dump.rdb").exists()
    server.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not server.answers()


def test_a_second_server_on_the_same_socket_is_refused(tmp_path):
    with EmbeddedRedis(tmp_path / "redis.sock"):
        with pytest.raises(RuntimeError, match="already listens"):
            EmbeddedRedis(tmp_path / "redis.sock").start()
