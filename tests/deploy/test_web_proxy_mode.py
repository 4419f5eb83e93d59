"""`mailferry web --proxy`: plain HTTP on a local port or a Unix socket for a reverse proxy that
terminates TLS, forwarded headers believed from the proxy only, the request size limit, the
access log, process counts (docs/deploy.md, "The web server behind nginx").

"Another peer" is 127.0.0.2: a loopback address, yet not the proxy's 127.0.0.1, which is what
a local process going around the proxy looks like. (This workplace sends test traffic to
loopback only, and 127.0.0.2 is as good a stranger as the host's own public address.)
"""

from __future__ import annotations

import re
import stat
import subprocess
from urllib.parse import urlencode

import psutil
import pytest

from cli.processes import free_port
from tests.deploy.log_lines import json_records
from tests.deploy.web_server import CHECKOUT_MAILFERRY, access_log_line, request, serving, web_environment

PUBLIC_ORIGIN = "https://mailferry.example.com"
#: What nginx sends for a browser at 203.0.113.7 on https://mailferry.example.com.
FORWARDED = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "mailferry.example.com"}
STRANGER = "127.0.0.2"


def proxy_arguments(bind: str, *extra: str) -> list[str]:
    return ["web", "--proxy", "--bind", bind, "--threads", "4", *extra]


@pytest.fixture(scope="module")
def port_server(tmp_path_factory, engine, database_url, redis_url):
    """One `mailferry web --proxy` on a local port, two processes, default trust."""
    folder = tmp_path_factory.mktemp("web-on-a-port")
    bind = f"127.0.0.1:{free_port()}"
    with serving(CHECKOUT_MAILFERRY, proxy_arguments(bind, "--processes", "2"),
                 web_environment(folder, database_url, redis_url), folder) as service:
        yield service, bind


def sign_out_from_the_public_origin(bind: str, source: str | None = None):
    """A browser's form POST on https://mailferry.example.com, as the proxy forwards it: the
    landing page's session cookie and CSRF token, then POST /auth/sign-out with its Origin."""
    page = request(bind, "GET", "/", headers=FORWARDED, source=source)
    assert page.status == 200
    cookie = page.headers["Set-Cookie"].split(";", 1)[0]
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.body.decode()).group(1)
    return request(bind, "POST", "/auth/sign-out", source=source, body=urlencode({"csrf_token": token}), headers={
        **FORWARDED, "Cookie": cookie, "Origin": PUBLIC_ORIGIN, "Referer": f"{PUBLIC_ORIGIN}/",
        "Content-Type": "application/x-www-form-urlencoded"})


def test_a_unix_socket_serves_plain_http_to_the_proxy_and_its_group_only(tmp_path, engine, database_url, redis_url):
    bind = f"unix:{tmp_path / 'web.sock'}"
    with serving(CHECKOUT_MAILFERRY, proxy_arguments(bind), web_environment(tmp_path, database_url, redis_url),
                 tmp_path) as service:
        assert stat.S_IMODE((tmp_path / "web.sock").stat().st_mode) == 0o660
        answer = request(bind, "GET", "/addin/taskpane", headers=FORWARDED)
        assert answer.status == 200
        assert access_log_line(service, r'"GET /addin/taskpane HTTP/1.1" 200').startswith("203.0.113.7 ")
        assert sign_out_from_the_public_origin(bind).status == 302  # a Unix socket peer is the proxy


def test_a_local_port_logs_one_line_per_request_without_its_query(port_server):
    service, bind = port_server
    answer = request(bind, "GET", "/healthz?code=secret-authorization-code",
                     headers={**FORWARDED, "User-Agent": "probe/1.0", "Referer": f"{PUBLIC_ORIGIN}/history"})
    assert answer.status == 200
    line = access_log_line(service, r"probe/1\.0")
    assert re.fullmatch(rf'203\.0\.113\.7 - - \[[^]]+\] "GET /healthz HTTP/1\.1" 200 {len(answer.body)} '
                        rf'"{PUBLIC_ORIGIN}/history" "probe/1\.0" \d+ms', line), line
    assert "secret-authorization-code" not in service.log()


def test_forwarded_headers_from_loopback_let_the_public_origins_form_pass_csrf(port_server):
    service, bind = port_server
    answer = sign_out_from_the_public_origin(bind)
    assert answer.status == 302, answer.body
    assert access_log_line(service, r'"POST /auth/sign-out HTTP/1\.1" 302').startswith("203.0.113.7 ")


def test_forwarded_headers_from_another_peer_change_neither_address_nor_scheme(port_server):
    service, bind = port_server
    answer = sign_out_from_the_public_origin(bind, source=STRANGER)
    # The scheme stayed http and the host 127.0.0.1:port, so the https Origin is another site.
    assert answer.status == 400
    assert b"Origin header names another site" in answer.body
    assert access_log_line(service, r'"POST /auth/sign-out HTTP/1\.1" 400').startswith(f"{STRANGER} ")


def test_mailferry_trusted_proxies_adds_a_proxy_address(tmp_path, engine, database_url, redis_url):
    bind = f"127.0.0.1:{free_port()}"
    env = web_environment(tmp_path, database_url, redis_url, MAILFERRY_TRUSTED_PROXIES=f"10.0.0.0/8, {STRANGER}")
    with serving(CHECKOUT_MAILFERRY, proxy_arguments(bind, "--processes", "1"), env, tmp_path) as service:
        assert sign_out_from_the_public_origin(bind, source=STRANGER).status == 302
        assert access_log_line(service, r'"POST /auth/sign-out HTTP/1\.1" 302').startswith("203.0.113.7 ")


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_the_limit_is_refused_with_413(port_server, chunked):
    from server.request_limits import MAX_CONTENT_LENGTH

    _, bind = port_server
    body = b"{" + b" " * MAX_CONTENT_LENGTH + b"}"
    answer = request(bind, "POST", "/webhooks/graph/notifications", body=iter([body]) if chunked else body,
                     chunked=chunked, headers={**FORWARDED, "Content-Type": "application/json"})
    assert answer.status == 413
    assert b"too_large" in answer.body


def test_processes_come_from_the_option_or_mailferry_web_processes(port_server, tmp_path, engine, database_url,
                                                                  redis_url):
    service, _ = port_server  # --processes 2
    assert len(psutil.Process(service.process.pid).children()) == 2
    bind = f"127.0.0.1:{free_port()}"
    env = web_environment(tmp_path, database_url, redis_url, MAILFERRY_WEB_PROCESSES="3")
    with serving(CHECKOUT_MAILFERRY, proxy_arguments(bind), env, tmp_path) as service:
        assert len(psutil.Process(service.process.pid).children()) == 3


def test_a_unix_socket_without_proxy_is_refused(tmp_path, engine, database_url, redis_url):
    result = subprocess.run([str(CHECKOUT_MAILFERRY), "web", "--bind", f"unix:{tmp_path / 'web.sock'}"],
                            env=web_environment(tmp_path, database_url, redis_url),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "add --proxy" in result.stderr


def test_without_proxy_https_keeps_its_scheme_whatever_a_local_client_forwards(tmp_path, engine, database_url,
                                                                              redis_url, certs, client_session):
    """gunicorn used to take X-Forwarded-Proto from any loopback client: `http` made the
    browser's own https Origin fail the CSRF check. Now only --proxy reads forwarded headers."""
    port = free_port()
    origin = f"https://localhost:{port}"
    env = web_environment(tmp_path, database_url, redis_url, MAILFERRY_PORT=str(port),
                          MAILFERRY_TLS_CERT_FILE=str(certs.server_cert), MAILFERRY_TLS_KEY_FILE=str(certs.server_key))
    spoofed = {"X-Forwarded-Proto": "http", "X-Forwarded-Host": "elsewhere.example", "X-Forwarded-For": "203.0.113.7"}
    with serving(CHECKOUT_MAILFERRY, ["web", "--processes", "1", "--threads", "4"], env, tmp_path,
                 healthy=lambda: client_session.get(f"{origin}/healthz", timeout=5).status_code == 200):
        page = client_session.get(f"{origin}/", headers=spoofed, timeout=30)
        token = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
        answer = client_session.post(f"{origin}/auth/sign-out", data={"csrf_token": token}, allow_redirects=False,
                                     headers={**spoofed, "Origin": origin, "Referer": f"{origin}/"}, timeout=30)
    assert answer.status_code == 302, answer.text


def test_a_trusted_proxy_that_is_not_an_address_stops_start_up_naming_the_setting(tmp_path):
    env = web_environment(tmp_path, f"sqlite:///{tmp_path / 'unused.db'}", "redis://127.0.0.1:1/0",
                          MAILFERRY_TRUSTED_PROXIES="10.0.0.5, proxy.example")
    result = subprocess.run([str(CHECKOUT_MAILFERRY), "web", "--proxy"], env=env, cwd=tmp_path, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert "MAILFERRY_TRUSTED_PROXIES: 'proxy.example' is not an IP address or network" in result.stderr


def test_json_logs_make_gunicorns_own_lines_json_and_keep_the_access_log_format(tmp_path, engine, database_url,
                                                                               redis_url):
    """MAILFERRY_LOG_FORMAT=json: everything on standard error, gunicorn's start, worker boot and
    stop lines included, is a JSON object; the access log on standard output keeps its format."""
    bind = f"127.0.0.1:{free_port()}"
    env = web_environment(tmp_path, database_url, redis_url, MAILFERRY_LOG_FORMAT="json")
    with serving(CHECKOUT_MAILFERRY, proxy_arguments(bind, "--processes", "1"), env, tmp_path,
                 stderr_apart=True) as service:
        assert request(bind, "GET", "/healthz", headers={**FORWARDED, "User-Agent": "json/1.0"}).status == 200
        line = access_log_line(service, r"json/1\.0")
    assert line.startswith('203.0.113.7 - - [') and '"GET /healthz HTTP/1.1" 200' in line, line
    records = json_records(service.errors(), "mailferry web --proxy")
    gunicorn = [record["message"] for record in records if record["logger"] == "gunicorn.error"]
    assert [m for m in gunicorn if m.startswith("Starting gunicorn")], records
    assert [m for m in gunicorn if m.startswith("Booting worker with pid")], records
    assert [m for m in gunicorn if m.startswith("Shutting down")], records  # written after SIGTERM
    assert "json/1.0" not in service.errors()  # the access log stayed on standard output
