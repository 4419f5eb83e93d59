"""The sandbox keeps its world across restarts (issue 10): a server started on the state file
another one left finds the same mail, delta state, subscriptions, sign-ins and org records;
a file of another seed or shape is not loaded."""

from __future__ import annotations

import dataclasses
import os
import pickle
import signal
import time

import jwt
import pytest
import requests

from sandbox.microsoft import create_app as create_microsoft
from sandbox.salesforce import create_app as create_salesforce
from sandbox.persistence import WorldFile
from sandbox.settings import SandboxSettings


@pytest.fixture
def settings(tmp_path, certs, sandbox_settings) -> SandboxSettings:
    return SandboxSettings(seed=1, ca_file=str(certs.ca_cert), state_dir=str(tmp_path / "sandbox"),
                           microsoft_demo_app=sandbox_settings.microsoft_demo_app,
                           salesforce_demo_app=sandbox_settings.salesforce_demo_app)


def _stop(app, key):
    app.extensions[key].world_file.stop()


def test_the_microsoft_world_is_the_same_after_a_restart(settings):
    first = create_microsoft(settings)
    sandbox = first.extensions["mailferry_microsoft_sandbox"]
    mailbox = next(iter(sandbox.store.mailboxes.values()))
    inbox = mailbox.folder("inbox")
    message = next(m for m in mailbox.messages.values() if m.folder_id == inbox.id)
    sandbox.store.update_message(mailbox, message, {"categories": ["CRM"]})
    refresh_token = sandbox.grants.issue_refresh(_grant(mailbox.user.oid))
    token = sandbox.key.mint({"sub": mailbox.user.oid, "exp": time.time() + 600})
    seq = mailbox.seq
    _stop(first, "mailferry_microsoft_sandbox")

    again = create_microsoft(settings).extensions["mailferry_microsoft_sandbox"]
    restored = again.store.mailbox(mailbox.user.upn)
    assert restored.seq == seq  # delta tokens of the first run still point into this log
    assert restored.messages[message.id].categories == ["CRM"]
    assert again.grants.find_refresh(refresh_token).oid == mailbox.user.oid
    # The same signing key and kid: a token minted before the restart verifies after it.
    assert jwt.get_unverified_header(token)["kid"] == again.key.kid
    assert again.key.verify(token)["sub"] == mailbox.user.oid
    again.world_file.stop()


def test_the_salesforce_org_is_the_same_after_a_restart_and_ids_do_not_repeat(settings):
    first = create_salesforce(settings)
    sandbox = first.extensions["salesforce_sandbox"]
    contact_id = sandbox.org.insert_raw("Contact", {"LastName": "Kept", "Email": "kept@customer.example"})
    user_id = sandbox.org.default_user_id()
    refresh = sandbox.sessions.new_refresh_token(user_id, "client", "api refresh_token")
    access = sandbox.sessions.issue(user_id, "client", "api", refresh)
    _stop(first, "salesforce_sandbox")

    again = create_salesforce(settings).extensions["salesforce_sandbox"]
    assert again.org.get("Contact", contact_id)["Email"] == "kept@customer.example"
    # The email index is rebuilt, so matching finds the restored contact.
    assert [r["Id"] for r in again.org.lookup("Contact", "Email", ["KEPT@customer.example"])] == [contact_id]
    assert again.sessions.check(access).user_id == user_id
    assert refresh in again.sessions.refresh
    newer = again.org.insert_raw("Contact", {"LastName": "Newer"})
    assert newer != contact_id and again.org.get("Contact", contact_id)["LastName"] == "Kept"
    again.world_file.stop()


def test_a_state_file_of_another_seed_is_not_loaded(settings):
    first = create_salesforce(settings)
    contact_id = first.extensions["salesforce_sandbox"].org.insert_raw("Contact", {"LastName": "Old"})
    _stop(first, "salesforce_sandbox")
    other = create_salesforce(dataclasses.replace(settings, seed=2)).extensions["salesforce_sandbox"]
    assert other.org.get("Contact", contact_id) is None
    other.world_file.stop()


def test_a_state_file_of_another_shape_is_not_loaded(settings, tmp_path):
    path = tmp_path / "world.state"
    WorldFile(path, {"shape": "old"}, lambda: {"part": pickle.dumps(1)}, lambda saved: None).save()
    restored = []
    assert WorldFile(path, {"shape": "new"}, dict, restored.append).load() is False
    assert restored == []
    assert WorldFile(path, {"shape": "old"}, dict, restored.append).load() is True
    assert pickle.loads(restored[0]["part"]) == 1


def test_an_unchanged_world_is_not_written_again(tmp_path):
    path = tmp_path / "world.state"
    world_file = WorldFile(path, {}, lambda: {"part": b"same"}, lambda saved: None)
    world_file.save()
    written = path.stat().st_mtime_ns
    path.write_bytes(path.read_bytes())  # same bytes, newer time: a rewrite would change it again
    touched = path.stat().st_mtime_ns
    world_file.save()
    assert path.stat().st_mtime_ns == touched and touched >= written


def _grant(oid):
    from sandbox.microsoft.grants import RefreshGrant

    return RefreshGrant("client", oid, ["Mail.ReadWrite"])


def test_mailferry_sandbox_forget_keeps_no_world(tmp_path, certs):
    """What the benchmarks start: a fresh world that leaves the demo's saved one alone."""
    from cli.processes import free_port
    from mailferry.tls import https_session
    from tests.mailferry_run import start

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILFERRY_")}
    env.update(MAILFERRY_DATA_DIR=str(tmp_path / "data"), MAILFERRY_CERTS_DIR=str(certs.folder),
               MAILFERRY_SANDBOX_SALESFORCE_PORT=str(port))
    process = start(env, "sandbox", "--only", "salesforce", "--forget")
    try:
        with https_session(certs.ca_cert) as http:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if http.get(f"https://localhost:{port}/_sandbox/stats", timeout=2).ok:
                        break
                except requests.RequestException:
                    time.sleep(0.2)
            http.post(f"https://localhost:{port}/_sandbox/records/Contact", json={"LastName": "Gone"},
                      timeout=10).raise_for_status()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert not (tmp_path / "data" / "sandbox").exists()
