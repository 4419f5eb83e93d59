"""The shipped nginx site (deploy/nginx/mailferry.conf) run by Debian's nginx in a folder of
the test's standing for /etc/nginx: the site installed there by docs/deploy.md's own `cp` and
`ln -s` (tests/deploy/deploy_doc.py), then edited as the document asks (its host paths, name
and ports replaced; each replacement must find its text, so the site cannot drift from what
is tested), inside a minimal main configuration in place of /etc/nginx/nginx.conf."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.deploy import deploy_doc
from tests.deploy.public_tls import PublicCertificate

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SITE = PROJECT_ROOT / "deploy" / "nginx" / "mailferry.conf"
NGINX = "/usr/sbin/nginx"
SHIPPED_SOCKETS = ("/run/mailferry/web-1.sock", "/run/mailferry/web-2.sock")


@dataclass(frozen=True)
class SiteLayout:
    folder: Path
    server_name: str
    http_port: int
    https_port: int
    certificate: PublicCertificate
    sockets: tuple[Path, Path]  # where web@1 and web@2 listen in this test

    @property
    def access_log(self) -> Path:
        return self.folder / "mailferry.access.log"

    @property
    def etc_nginx(self) -> Path:
        """What /etc/nginx is on a host."""
        return self.folder / "etc" / "nginx"

    @property
    def main_config(self) -> Path:
        return self.etc_nginx / "nginx.conf"


def render_site(text: str, layout: SiteLayout) -> str:
    """The shipped site's `text` edited for this test's host."""
    replacements = [
        ("server_name mailferry.example.com;", f"server_name {layout.server_name};"),
        ("/etc/ssl/mailferry/fullchain.pem", str(layout.certificate.cert_file)),
        ("/etc/ssl/mailferry/privkey.pem", str(layout.certificate.key_file)),
        ("/var/log/nginx/", f"{layout.folder}/"),
        *zip(SHIPPED_SOCKETS, map(str, layout.sockets)),
    ]
    for shipped, here in replacements:
        assert shipped in text, f"{SITE} no longer has {shipped!r}"
        text = text.replace(shipped, here)
    for shipped, port in ((80, layout.http_port), (443, layout.https_port)):
        text, count = re.subn(rf"listen (\[::\]:)?{shipped}\b", lambda m: f"listen {m.group(1) or ''}{port}", text)
        assert count == 2, f"{SITE}: expected IPv4 and IPv6 listen lines for port {shipped}"
    return text


def install_site(layout: SiteLayout) -> None:
    """The document's `cp` and `ln -s` into a fresh etc/nginx of the test's (its two site
    folders as Debian's package makes them), then the edit it asks for."""
    shutil.rmtree(layout.etc_nginx, ignore_errors=True)
    for folder in ("sites-available", "sites-enabled"):
        (layout.etc_nginx / folder).mkdir(parents=True)
    for line in (deploy_doc.command("cp deploy/nginx/mailferry.conf"),
                 deploy_doc.command("ln -s ../sites-available/mailferry")):
        deploy_doc.run(deploy_doc.rewrite(line, {"/etc/nginx": str(layout.etc_nginx)}), PROJECT_ROOT)
    installed = layout.etc_nginx / "sites-available" / "mailferry"
    installed.write_text(render_site(installed.read_text(), layout))


def write_config(layout: SiteLayout) -> Path:
    """The site installed as the document does, inside a main configuration of the test's
    (what /etc/nginx/nginx.conf is on a host); returns the main configuration's path."""
    folder = layout.folder
    install_site(layout)
    # Running as root, nginx's workers would switch to nobody, who cannot enter pytest's
    # private folders.
    user = "user root;\n" if os.geteuid() == 0 else ""
    layout.main_config.write_text(f"""{user}worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {layout.etc_nginx}/sites-enabled/*;
}}
""")
    return layout.main_config


def nginx_command(layout: SiteLayout, *args: str) -> list[str]:
    return [NGINX, "-p", f"{layout.folder}/", "-e", str(layout.folder / "error.log"),
            "-c", str(layout.main_config), *args]


def check_config(layout: SiteLayout) -> subprocess.CompletedProcess:
    """The document's `nginx -t` on the site, nginx pointed at the test's folder for /etc/nginx."""
    write_config(layout)
    line = deploy_doc.with_program(deploy_doc.command("nginx -t"), "nginx", shlex.join(nginx_command(layout)))
    return deploy_doc.run(line, layout.folder, check=False, timeout=60)


def start_nginx(layout: SiteLayout) -> subprocess.Popen:
    """nginx in the foreground (`daemon off`), once it accepts TLS connections."""
    write_config(layout)
    process = subprocess.Popen(nginx_command(layout, "-g", "daemon off;"), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read()
        try:
            socket.create_connection((layout.server_name, layout.https_port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError(f"nginx did not listen on {layout.https_port}: {(layout.folder / 'error.log').read_text()}")


def stop_nginx(process: subprocess.Popen) -> None:
    process.terminate()  # SIGTERM: nginx's fast shutdown
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def public_host() -> str:
    """The machine's first non-loopback IPv4 address (`hostname -I`): a public name that is
    not localhost, which production refuses as MAILFERRY_BASE_URL."""
    addresses = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=True).stdout.split()
    ipv4 = [a for a in addresses if ":" not in a and not a.startswith("127.")]
    assert ipv4, f"`hostname -I` names no non-loopback IPv4 address: {addresses}"
    return ipv4[0]
