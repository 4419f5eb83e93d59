"""The one logging set-up (mailferry/logging_setup.py): JSON lines or text, the run's context
on every line inside it, the settings' refusals, and the web process logging through it
(before, `mailferry web` configured no logging and its info lines were dropped). A worker's
lines over a whole sync are checked in tests/worker/test_observability.py."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from cli.processes import free_port
from mailferry.config import ConfigError
from mailferry.logging_setup import add_to_context, configure_logging, log_context
from tests.config_fixtures import build_config

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def restored_root_logger():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_json_lines_carry_the_context_set_around_them_and_only_inside(restored_root_logger):
    out = io.StringIO()
    configure_logging("json", "debug", out)
    log = logging.getLogger("mailferry.test")
    with log_context(mailbox_id=7, run_id="r1"):
        add_to_context(tenant="t-1")
        with log_context(message_id=42):
            log.debug("inside %s", "the email", extra={"outcome": "synced"})
        log.info("after the email")
    log.warning("outside")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    inside, after, outside, failed = [json.loads(line) for line in out.getvalue().splitlines()]
    assert inside["message"] == "inside the email" and inside["level"] == "debug" and inside["logger"] == "mailferry.test"
    assert (inside["tenant"], inside["mailbox_id"], inside["run_id"], inside["message_id"]) == ("t-1", 7, "r1", 42)
    assert inside["outcome"] == "synced" and inside["time"].endswith("+00:00")
    assert after["mailbox_id"] == 7 and "message_id" not in after
    assert not {"tenant", "mailbox_id", "run_id", "message_id"} & set(outside)
    assert "ValueError: boom" in failed["exception"]


def test_text_lines_name_the_context_before_the_message(restored_root_logger):
    out = io.StringIO()
    configure_logging("text", "info", out)
    with log_context(mailbox_id=3, run_id="abc"):
        logging.getLogger("x").info("hello")
        logging.getLogger("x").debug("not at info")
    logging.getLogger("x").info("plain")
    first, second = out.getvalue().splitlines()
    assert first.endswith(" INFO x mailbox_id=3 run_id=abc hello")
    assert second.endswith(" INFO x plain")


@pytest.mark.parametrize("variable, value, says", [
    ("MAILFERRY_LOG_FORMAT", "yaml", "use one of text, json"),
    ("MAILFERRY_METRICS_NETWORKS", "10.0.0.0/33", "the addresses of your Prometheus servers"),
    ("MAILFERRY_METRICS_TOKEN", "short", "shorter than 24 characters"),
])
def test_a_bad_observability_setting_is_refused_naming_it(tmp_path, variable, value, says):
    with pytest.raises(ConfigError) as refused:
        build_config(tmp_path, **{variable: value})
    assert variable in str(refused.value) and says in str(refused.value)


def test_settings_default_to_text_logs_and_a_metrics_folder_in_the_data_folder(tmp_path):
    config = build_config(tmp_path)
    assert config.log_format == "text" and config.metrics_dir == tmp_path / "metrics"
    assert not config.metrics_token and not config.metrics_networks
    assert "x" * 30 not in repr(build_config(tmp_path, MAILFERRY_METRICS_TOKEN="x" * 30))  # a secret


def test_the_web_process_logs_its_info_lines_as_json(tmp_path, migrated_database_url, redis_url):
    """`mailferry web --proxy` logs an admin consent that was not granted at info level: the line
    reaches its output, as JSON."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAILFERRY_", "DATABASE_URL", "REDIS_URL"))}
    env.update(DATABASE_URL=migrated_database_url, REDIS_URL=redis_url, MAILFERRY_DATA_DIR=str(tmp_path / "data"),
               MAILFERRY_CERTS_DIR=str(tmp_path / "certs"), MAILFERRY_LOG_FORMAT="json", MAILFERRY_LOG_LEVEL="info",
               MAILFERRY_WEB_PROCESSES="1", PYTHONUNBUFFERED="1")
    output = tmp_path / "web.log"
    with output.open("wb") as log:
        web = subprocess.Popen([sys.executable, "-m", "cli.main", "web", "--proxy", "--bind", f"127.0.0.1:{port}"],
                               cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}/auth/microsoft/admin-consent"
    try:
        start = _when_up(lambda: requests.get(f"{base}/start", allow_redirects=False, timeout=5), web, output)
        state = parse_qs(urlsplit(start.headers["Location"]).query)["state"][0]
        answer = requests.get(base, params={"state": state, "error": "access_denied",
                                            "error_description": "AADSTS65004: User declined to consent"}, timeout=5)
        assert answer.status_code == 400
        deadline = time.monotonic() + 10
        while "admin consent not granted" not in output.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(timeout=20)
    ours = [json.loads(line) for line in output.read_text().splitlines() if line.startswith('{"time"')]
    granted = [r for r in ours if r["message"].startswith("admin consent not granted")]
    assert granted and granted[0]["level"] == "info" and granted[0]["logger"] == "server.auth.consent", \
        output.read_text()[-2000:]


def _when_up(request, process, output, seconds: float = 30):
    deadline = time.monotonic() + seconds
    while True:
        try:
            return request()
        except requests.ConnectionError:
            assert process.poll() is None and time.monotonic() < deadline, output.read_text()[-2000:]
            time.sleep(0.2)
