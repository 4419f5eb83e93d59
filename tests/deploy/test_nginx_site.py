"""The shipped nginx site (deploy/nginx/mailferry.conf) in front of two real `mailferry web
--proxy` processes started with the web unit's command: nginx accepts it, terminates TLS for
the public name, redirects plain HTTP, forwards what the app must know about the request, and
refuses a body over the app's limit itself. The demo environment on the test's database and
Redis: the production settings are the topology test's (test_production_topology.py)."""

from __future__ import annotations

import os
import re

import pytest

from cli.processes import free_port
from mailferry.tls import https_session
from server.request_limits import MAX_CONTENT_LENGTH
from tests.db_fixtures import current_backend, empty_database
from tests.deploy.nginx_site import SITE, SiteLayout, check_config, public_host, start_nginx, stop_nginx
from tests.deploy.public_tls import issue_public_certificate
from tests.deploy.services import Service, run_mailferry, stop_all, wait_for_socket
from tests.deploy.units import mailferry_arguments

WEB_UNIT = "mailferry-web@.service"


def web_arguments(instance: str, folder) -> list[str]:
    """The web unit's command for `instance`, its socket in `folder` instead of /run/mailferry."""
    return [argument.replace("unix:/run/mailferry/", f"unix:{folder}/")
            for argument in mailferry_arguments(WEB_UNIT, instance)]


def layout_in(folder) -> SiteLayout:
    host = public_host()
    return SiteLayout(folder, host, free_port(), free_port(), issue_public_certificate(folder / "tls", host),
                      (folder / "web-1.sock", folder / "web-2.sock"))


@pytest.fixture(scope="module")
def site(tmp_path_factory, installed_mailferry, redis_url, certs):
    folder = tmp_path_factory.mktemp("nginx")
    layout = layout_in(folder)
    with empty_database(current_backend(), folder) as database_url:
        env = {"PATH": os.environ["PATH"], "MAILFERRY_DATA_DIR": str(folder / "data"),
               "MAILFERRY_CERTS_DIR": str(certs.folder), "DATABASE_URL": database_url, "REDIS_URL": redis_url,
               "MAILFERRY_BASE_URL": f"https://{layout.server_name}:{layout.https_port}",
               "MAILFERRY_WEB_PROCESSES": "1", "MAILFERRY_WEB_THREADS": "4"}
        run_mailferry(installed_mailferry / "mailferry", ["db", "upgrade"], env, folder)
        webs = [Service(f"web-{n}", installed_mailferry / "mailferry", web_arguments(n, folder), env, folder)
                for n in ("1", "2")]
        try:
            for web, path in zip(webs, layout.sockets):
                wait_for_socket(web, path)
            nginx = start_nginx(layout)
            try:
                with https_session(layout.certificate.ca_file) as http:
                    yield layout, webs, http
            finally:
                stop_nginx(nginx)
        finally:
            stop_all(webs)


def public_url(layout: SiteLayout, path: str) -> str:
    return f"https://{layout.server_name}:{layout.https_port}{path}"


def test_nginx_accepts_the_shipped_site(tmp_path):
    """docs/deploy.md's `nginx -t` on the site its `cp` and `ln -s` installed."""
    answer = check_config(layout_in(tmp_path))
    assert answer.returncode == 0, answer.stderr
    assert "syntax is ok" in answer.stderr and "test is successful" in answer.stderr


def test_the_upstreams_are_the_sockets_the_web_units_listen_on():
    upstreams = re.findall(r"server (unix:\S+?)[ ;]", SITE.read_text())
    assert upstreams == [f"unix:/run/mailferry/web-{n}.sock" for n in ("1", "2")]
    assert upstreams == [mailferry_arguments(WEB_UNIT, n)[mailferry_arguments(WEB_UNIT, n).index("--bind") + 1]
                         for n in ("1", "2")]


def test_plain_http_is_redirected_to_https(site):
    layout, _, http = site
    answer = http.get(f"http://{layout.server_name}:{layout.http_port}/history?tab=synced", allow_redirects=False,
                      timeout=30)
    assert answer.status_code == 301
    assert answer.headers["Location"] == f"https://{layout.server_name}/history?tab=synced"


def test_both_web_processes_serve_through_tls_for_the_public_name(site):
    layout, webs, http = site
    for _ in range(6):
        answer = http.get(public_url(layout, "/healthz"), timeout=30)
        assert answer.status_code == 200 and answer.json()["status"] == "ok"
    for web in webs:
        assert "GET /healthz" in web.log(), f"{web.name} served none of them"
    assert "GET /healthz HTTP/" in layout.access_log.read_text()  # nginx's access log


def test_the_app_sees_https_the_public_host_and_the_client_from_the_forwarded_headers(site):
    """A signed-out person's sign-out form: the CSRF check compares the browser's Origin and
    Referer with the scheme and host the app sees, which are nginx's only when X-Forwarded-
    Proto and -Host are believed; the access log names the client nginx saw."""
    layout, webs, http = site
    page = http.get(public_url(layout, "/"), timeout=30)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text).group(1)
    origin = f"https://{layout.server_name}:{layout.https_port}"

    def sign_out(from_origin: str):
        return http.post(public_url(layout, "/auth/sign-out"), data={"csrf_token": token},
                         headers={"Origin": from_origin, "Referer": f"{from_origin}/"}, allow_redirects=False,
                         timeout=30)

    assert sign_out(origin).status_code == 302
    assert sign_out("https://elsewhere.example").status_code == 400
    # This test connects from the public address, so nginx saw it as the client.
    client_lines = [line for web in webs for line in web.log().splitlines() if "/auth/sign-out" in line]
    assert client_lines and all(line.startswith(f"{layout.server_name} ") for line in client_lines), client_lines


def test_a_body_over_the_apps_limit_is_refused_by_nginx_with_413(site):
    layout, webs, http = site
    refused = http.post(public_url(layout, "/webhooks/graph/notifications"), data=b"x" * (MAX_CONTENT_LENGTH + 1),
                        headers={"Content-Type": "application/json"}, timeout=30)
    assert refused.status_code == 413 and "<center>nginx</center>" in refused.text  # no web process read it
    # At the limit the body reaches the app (which refuses the form for its missing CSRF token).
    within = http.post(public_url(layout, "/auth/sign-out"), data=b"x" * MAX_CONTENT_LENGTH,
                       headers={"Content-Type": "application/octet-stream"}, timeout=30)
    assert within.status_code == 400 and "nginx" not in within.text


def test_graphs_validation_handshake_passes_through_the_webhook_location(site):
    layout, _, http = site
    answer = http.post(public_url(layout, "/webhooks/graph/notifications"),
                       params={"validationToken": "Validation: Testing client application reachability"},
                       data=b"", headers={"Content-Type": "text/plain"}, timeout=30)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/plain")
    assert answer.text == "Validation: Testing client application reachability"


def test_the_add_in_pages_keep_the_apps_frame_ancestors_and_get_no_x_frame_options(site):
    layout, _, http = site
    pane = http.get(public_url(layout, "/addin/taskpane"), timeout=30)
    assert pane.status_code == 200
    assert "X-Frame-Options" not in pane.headers
    policy = pane.headers["Content-Security-Policy"]
    assert policy.count("frame-ancestors") == 1 and "https://outlook.office.com" in policy
