"""Issue 15's "Done when": the production topology (tests/deploy/topology.py) through nginx,
step by step in the order an organisation meets it; then (steps j to l, issue 16) that it is
operated as docs/operations.md says: /metrics behind its token, /readyz naming the processes
alive, JSON log lines carrying each run's ids.

The topology is started once for the module; its start-up time is printed (`-s`) and
reported in docs/deploy.md's figures."""

from __future__ import annotations

import base64
import html
import json
import os
import re
import time
from urllib.parse import parse_qsl, urlsplit

import msal
import pytest
from cryptography.fernet import Fernet
from dotenv import dotenv_values
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from mailferry.crypto import SecretBox, SecretUnreadable
from mailferry.db import make_engine
from mailferry.job_queue import QUEUES
from mailferry.models import Connection, Message, Tenant, User
from tests.db_fixtures import empty_database, temporary_postgresql_database
from tests.deploy import deploy_doc
from tests.deploy.log_lines import json_records
from tests.deploy.units import ENV_EXAMPLE
from tests.deploy.topology import APP, Topology
from tests.server.security.flows import allow_salesforce, pick_microsoft_account, salesforce_user_id



@pytest.fixture(scope="module")
def topology(tmp_path_factory, installed_mailferry):
    started = time.monotonic()
    with empty_database("postgresql", tmp_path_factory.mktemp("pg")) as database_url:
        stack = Topology(tmp_path_factory.mktemp("prod"), installed_mailferry, database_url)
        try:
            stack.start_sandbox()
            stack.upgrade_output = stack.upgrade_database()
            stack.start_mailferry()
            stack.started_seconds = time.monotonic() - started
            print(f"\nproduction topology up in {stack.started_seconds:.1f}s")
            yield stack
        finally:
            stack.stop()


@pytest.fixture(scope="module")
def rep(topology):
    """The first user of the sandbox tenant: their directory entry."""
    return topology.cloud.get(f"{topology.ms}/_sandbox/users", timeout=30).json()["users"][0]


def sign_in(topology, person: dict):
    """The person's browser signs in with Microsoft through nginx; returns it and the answer
    to the callback."""
    browser = topology.browser()
    started = browser.get(topology.public("/auth/sign-in"), allow_redirects=False, timeout=30)
    assert started.status_code == 302, started.text[:500]
    assert started.headers["Location"].startswith(f"{topology.ms}/{topology.tenant['tenantId']}/oauth2/v2.0/authorize")
    action, fields = pick_microsoft_account(browser, started.headers["Location"], person["id"])
    assert action == topology.public("/auth/microsoft/callback")
    return browser, browser.post(action, data=fields, allow_redirects=False, timeout=60)


def csrf_form(browser, url: str) -> dict:
    page = browser.get(url, timeout=30)
    return {"csrf_token": re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text).group(1)}


def same_origin(topology) -> dict:
    return {"Origin": topology.base_url, "Referer": topology.public("/connections")}


def test_a_db_upgrade_then_every_process_is_up(topology):
    assert "database at revision" in topology.upgrade_output
    assert all(service.running() for service in topology.services), topology.logs()
    health = topology.browser().get(topology.public("/healthz"), timeout=30)
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    topology._wait(lambda: topology.registered_workers() == 2, "two registered workers")
    assert topology.scheduler.running()
    ready = topology._wait(lambda: (answer := topology.browser().get(topology.public("/readyz"), timeout=30)
                                    ).status_code == 200 and answer, "/readyz through nginx")
    assert {"database", "redis", "schema"} <= set(ready.json()["checks"]), ready.json()


def test_b_a_rep_of_the_allowed_tenant_signs_in_connects_salesforce_and_their_email_becomes_a_task(topology, rep):
    browser, answer = sign_in(topology, rep)
    assert answer.status_code == 302 and urlsplit(answer.headers["Location"]).path == "/", answer.text[:800]
    started = browser.post(topology.public("/connections/salesforce/connect"),
                           data={**csrf_form(browser, topology.public("/connections")), "login_host": "configured"},
                           headers=same_origin(topology), allow_redirects=False, timeout=30)
    assert started.status_code == 302 and started.headers["Location"].startswith(f"{topology.sf}/services/oauth2/authorize")
    user_id = salesforce_user_id(topology.cloud, topology.sf, rep["salesforceUsername"])
    callback = allow_salesforce(topology.cloud, started.headers["Location"], user_id)
    assert callback.startswith(topology.public("/connections/salesforce/callback"))
    back = browser.get(callback, allow_redirects=False, timeout=60)
    assert back.status_code == 302, back.text[:800]
    assert f"Salesforce connected as {rep['salesforceUsername']}" in browser.get(topology.public("/connections"),
                                                                                 timeout=30).text
    contact = topology.mail_from_a_new_contact(rep["userPrincipalName"], "Topology: first order")
    assert topology.wait_for_task(contact)


def test_c_a_graph_change_notification_arrives_through_nginx_and_triggers_the_sync(topology, rep):
    """Polling comes every 5 minutes; a Task within a minute of the mail came from Graph's
    notification, which nginx logged on its way to the app."""
    access_log = topology.layout.access_log
    topology._wait(lambda: "POST /webhooks/graph/notifications?validationToken=" in access_log.read_text(),
                   "subscription handshake through nginx")
    seen = len(access_log.read_text())
    contact = topology.mail_from_a_new_contact(rep["userPrincipalName"], "Topology: notified")
    assert topology.wait_for_task(contact)
    notified = [line for line in access_log.read_text()[seen:].splitlines()
                if '"POST /webhooks/graph/notifications HTTP/' in line]
    assert notified and all(" 202 " in line for line in notified), notified


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_d_the_add_in_api_answers_a_v1_token(topology, rep):
    """Nested App Authentication's token for Mailferry's API from a single-tenant registration
    asking for none (so v1.0, as on a new Entra registration), through real msal."""
    http = topology.browser()
    app = msal.ConfidentialClientApplication(
        APP["client_id"], client_credential=APP["client_secret"],
        authority=f"{topology.ms}/{topology.tenant['tenantId']}", instance_discovery=False, azure_region=False,
        http_client=http)
    flow = app.initiate_auth_code_flow([f"api://{topology.host}:{topology.layout.https_port}/{APP['client_id']}/"
                                        "access_as_user"], redirect_uri=topology.public("/auth/microsoft/callback"),
                                       response_mode="form_post")
    _, fields = pick_microsoft_account(http, flow["auth_uri"], rep["id"])
    token = app.acquire_token_by_auth_code_flow(flow, fields)["access_token"]
    assert _claims(token)["ver"] == "1.0"
    answer = http.get(topology.public("/addin/api/me"), headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert answer.status_code == 200, answer.text[:500]
    assert answer.json()["user"]["upn"] == rep["userPrincipalName"].lower()


def test_e_an_admin_from_the_app_role_signs_in_and_sees_the_admin_pages(topology):
    admin = topology.cloud.get(f"{topology.ms}/_sandbox/users", timeout=30).json()["users"][1]
    assigned = topology.cloud.post(f"{topology.ms}/_sandbox/apps/{APP['client_id']}/role-assignments",
                                   json={"role": "Mailferry.Admin", "user": admin["userPrincipalName"]}, timeout=30)
    assert assigned.status_code in (200, 201), assigned.text
    browser, answer = sign_in(topology, admin)
    assert answer.status_code == 302, answer.text[:800]
    assert browser.get(topology.public("/admin/users"), timeout=30).status_code == 200


def test_e_a_rep_without_the_role_does_not_see_the_admin_pages(topology, rep):
    browser, _ = sign_in(topology, rep)
    assert browser.get(topology.public("/admin/users"), allow_redirects=False, timeout=30).status_code in (302, 403)


@pytest.fixture(scope="module")
def foreign_rep(topology) -> dict:
    """A rep of another organization: a user of a second sandbox tenant (POST /_sandbox/tenants),
    with their tenant's id as `tenantId`."""
    made = topology.cloud.post(f"{topology.ms}/_sandbox/tenants", json={
        "domain": "fabrikam.example", "name": "Fabrikam",
        "users": [{"displayName": "Frank Fisher", "userPrincipalName": "frank@fabrikam.example"}]}, timeout=30)
    assert made.status_code == 201, made.text
    return {**made.json()["users"][0], "tenantId": made.json()["tenantId"]}


def test_e_a_rep_of_another_tenant_is_refused(topology, foreign_rep):
    """MICROSOFT_TENANT is the sandbox tenant's id (a single-tenant registration), so Entra
    refuses another organization's rep at that authority with AADSTS50020 on its own error
    page: the browser is not sent back to Mailferry, and nothing of the rep is stored.
    (Mailferry's refusal of a tid outside MAILFERRY_ALLOWED_TENANTS, were Entra to let one
    through, is tests/server/test_tenancy.py's.)"""
    access_log = topology.layout.access_log
    seen = len(access_log.read_text())
    browser = topology.browser()
    started = browser.get(topology.public("/auth/sign-in"), allow_redirects=False, timeout=30)
    authorize = started.headers["Location"]
    assert started.status_code == 302 and authorize.startswith(
        f"{topology.ms}/{topology.tenant['tenantId']}/oauth2/v2.0/authorize"), started.text[:500]
    answer = browser.post(authorize.split("?")[0], data={**dict(parse_qsl(urlsplit(authorize).query)),
                                                         "user": foreign_rep["id"]},
                          allow_redirects=False, timeout=30)
    assert answer.status_code == 400 and "Location" not in answer.headers, answer.text[:500]
    seen_by_rep = html.unescape(answer.text)
    assert (f"AADSTS50020: User account '{foreign_rep['userPrincipalName']}' from identity provider "
            f"'https://sts.windows.net/{foreign_rep['tenantId']}/' does not exist in tenant "
            f"'{topology.tenant['name']}' and cannot access the application '{APP['client_id']}'") in seen_by_rep
    assert "/auth/microsoft/callback" not in seen_by_rep  # no form posting a code or an error back
    assert "/auth/microsoft/callback" not in access_log.read_text()[seen:]
    engine = make_engine(topology.database_url)
    try:
        with engine.connect() as connection:
            assert connection.execute(select(Tenant.id).where(Tenant.tid == foreign_rep["tenantId"])).first() is None
            assert connection.execute(select(User.id).where(User.oid == foreign_rep["id"])).first() is None
    finally:
        engine.dispose()


def test_f_an_app_only_group_members_mail_reaches_a_task_with_nobody_signing_in(topology):
    """The admin turns app-only access on for the tenant's Entra group and connects the
    Salesforce integration user; a member who never signed in gets mail from a customer,
    and it becomes a Task on the Salesforce user the integration mapped them to."""
    users = topology.cloud.get(f"{topology.ms}/_sandbox/users", timeout=30).json()["users"]
    admin, member, integration = users[1], users[2], users[3]
    browser, _ = sign_in(topology, admin)  # holds Mailferry.Admin since test_e
    page = topology.public("/admin/app-only")
    [group] = topology.cloud.get(f"{topology.ms}/_sandbox/groups", timeout=30).json()["groups"]
    saved = browser.post(page, data={**csrf_form(browser, page), "app_only_enabled": "on", "group_id": group["id"]},
                         headers={"Origin": topology.base_url, "Referer": page}, allow_redirects=False, timeout=30)
    assert saved.status_code == 302, saved.text[:800]
    started = browser.post(topology.public("/connections/salesforce/connect"),
                           data={**csrf_form(browser, page), "login_host": "configured", "target": "tenant"},
                           headers={"Origin": topology.base_url, "Referer": page}, allow_redirects=False, timeout=30)
    assert started.status_code == 302, started.text[:800]
    callback = allow_salesforce(topology.cloud, started.headers["Location"],
                                salesforce_user_id(topology.cloud, topology.sf, integration["salesforceUsername"]))
    assert browser.get(callback, allow_redirects=False, timeout=60).status_code == 302
    contact = topology.mail_from_a_new_contact(member["userPrincipalName"], "Topology: app-only member")
    tasks = topology.wait_for_task(contact, limit=120)
    owner = salesforce_user_id(topology.cloud, topology.sf, member["salesforceUsername"])
    assert {task["OwnerId"] for task in tasks} == {owner}


def test_the_shipped_environment_file_names_every_setting_the_topology_sets(topology):
    """deploy/mailferry.env.example is the topology's /etc/mailferry/mailferry.env with example
    values: the same variables, none missing, none extra."""
    shipped = dotenv_values(ENV_EXAMPLE)
    assert set(shipped) == set(topology.env) - {"PATH"}
    assert shipped["MAILFERRY_ENV"] == "production"


def test_g_the_add_in_manifest_is_written_for_the_public_url(topology):
    """docs/deploy.md's `mailferry manifest` line for this deployment's public URL, run as the
    document has it: in a folder of the operator's, without the environment file."""
    operator = topology.folder / "operator"
    operator.mkdir()
    line = deploy_doc.rewrite(deploy_doc.command("mailferry manifest"),
                              {**topology.venv, "https://mailferry.example.com": topology.base_url})
    deploy_doc.run(line, operator, {"PATH": os.environ["PATH"]})
    assert f"{topology.base_url}/addin/taskpane" in (operator / "manifest.xml").read_text()


def libpq_url(database_url: str) -> str:
    """The URL as pg_dump takes it (no SQLAlchemy driver name)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def test_h_a_backup_restores_the_connections_only_with_the_encryption_keys(topology):
    """docs/deploy.md, "Backup and restore": its pg_dump line on the deployment's database,
    its pg_restore line into an empty one, and the rep's Salesforce tokens open under
    MAILFERRY_ENCRYPTION_KEYS, under no other key."""
    dsn = "postgresql://mailferry@db.example.com/mailferry"
    deploy_doc.run(deploy_doc.rewrite(deploy_doc.command("pg_dump"), {dsn: libpq_url(topology.database_url)}),
                   topology.folder, timeout=120)
    with temporary_postgresql_database(topology.database_url) as restored_url:
        deploy_doc.run(deploy_doc.rewrite(deploy_doc.command("pg_restore"), {dsn: libpq_url(restored_url)}),
                       topology.folder, timeout=120)
        engine = make_engine(restored_url)
        try:
            with engine.connect() as connection:
                sealed = connection.execute(select(Connection.sealed_secrets).where(
                    Connection.provider == "salesforce", Connection.sealed_secrets.is_not(None))).scalars().all()
        finally:
            engine.dispose()
    assert sealed
    assert SecretBox((topology.env["MAILFERRY_ENCRYPTION_KEYS"],)).open(sealed[0])
    with pytest.raises(SecretUnreadable):
        SecretBox((Fernet.generate_key().decode(),)).open(sealed[0])


def test_i_doctor_finds_nothing_to_fix(topology):
    """docs/deploy.md's `mailferry doctor --proxy` line once nginx serves the site: configuration,
    database, Redis, and (production) Entra, Graph, Salesforce and the public base URL reached."""
    answer = topology.as_service_account(deploy_doc.command("mailferry doctor --proxy"))
    report = answer.stdout + answer.stderr
    assert answer.returncode == 0 and "FAIL" not in report, report


def _scrape(topology, **headers):
    return topology.browser().get(topology.public("/metrics"), headers=headers, timeout=30)


def _emails_synced(metrics_text: str) -> int:
    return sum(int(sample.value) for family in text_string_to_metric_families(metrics_text)
               for sample in family.samples
               if sample.name == "mailferry_emails_total" and sample.labels.get("outcome") == "synced")


def _synced_in_database(topology) -> int:
    engine = make_engine(topology.database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(Message).where(
                Message.status == "synced")).scalar_one()
    finally:
        engine.dispose()


def test_j_metrics_through_nginx_need_the_token_and_count_the_synced_emails_the_database_holds(topology):
    """docs/operations.md, "Metrics": from the public side of nginx /metrics opens only with
    MAILFERRY_METRICS_TOKEN; what the two workers counted (their samples in the shared metrics
    folder, added up by whichever web process answers) is what the database holds. A run may be
    between its write and its count at the moment of a scrape, so both are read until they agree."""
    assert _scrape(topology).status_code == 403
    assert _scrape(topology, Authorization="Bearer not-the-metrics-token-0123456789").status_code == 403
    token = {"Authorization": f"Bearer {topology.env['MAILFERRY_METRICS_TOKEN']}"}

    def agreeing():
        answer = _scrape(topology, **token)
        assert answer.status_code == 200, answer.text[:500]
        counted, held = _emails_synced(answer.text), _synced_in_database(topology)
        return (answer.text, counted) if counted == held else None

    text, synced = topology._wait(agreeing, "metrics agreeing with the database's synced emails", limit=30)
    assert synced >= 3, text  # steps b, c and f each made a Task
    queues = {sample.labels["queue"] for family in text_string_to_metric_families(text)
              for sample in family.samples if sample.name == "mailferry_queue_jobs"}
    assert queues == set(QUEUES), text


def test_k_readyz_through_nginx_names_both_workers_and_the_scheduler_alive(topology):
    """The heartbeats' names end in each process's pid (mailferry/heartbeats.py): the alive
    lists are exactly the two worker services and the scheduler service."""
    answer = topology.browser().get(topology.public("/readyz"), timeout=30)
    assert answer.status_code == 200, answer.text
    alive = answer.json()["alive"]
    assert sorted(name.rsplit("-", 1)[1] for name in alive["worker"]) == sorted(
        str(worker.process.pid) for worker in topology.workers), alive
    assert [name.rsplit("-", 1)[1] for name in alive["scheduler"]] == [str(topology.scheduler.process.pid)], alive


def test_l_every_line_of_the_workers_and_the_scheduler_is_json_and_each_run_summary_carries_its_ids(topology):
    """MAILFERRY_LOG_FORMAT=json (docs/operations.md, "Logs"): every line the services wrote to
    their journal (here their log files, standard output and error together) is a JSON object;
    each sync run's summary line names its mailbox and run, and a run that synced mail its tenant."""
    summaries = []
    for service in (*topology.workers, topology.scheduler):
        records = json_records(service.log(), service.name)
        assert records, f"{service.name} wrote nothing"
        summaries += [r for r in records if r["logger"] == "worker.jobs" and "outcomes" in r]
    assert summaries, "no sync run summary in the workers' logs"
    for summary in summaries:
        assert isinstance(summary["mailbox_id"], int) and re.fullmatch(r"[0-9a-f]{16}", summary["run_id"]), summary
    synced = [s for s in summaries if s["outcomes"].get("synced")]
    assert synced and all(s["tenant"] == topology.tenant["tenantId"] for s in synced), synced
    assert len({s["run_id"] for s in summaries}) == len(summaries)  # one summary per run


#: The person docs/deploy.md's `mailferry admin grant` example names.
DOC_EXAMPLE_UPN = "alex@contoso.com"


def test_m_the_first_admin_granted_from_the_shell_is_listed_and_sees_the_admin_pages(topology):
    """docs/deploy.md, section 3: with nobody holding the app role, an operator grants admin to
    someone who signed in once (`mailferry admin grant`, the doc's line with a sandbox person in
    place of its example) and `mailferry admin list` names them, granted."""
    person = topology.cloud.get(f"{topology.ms}/_sandbox/users", timeout=30).json()["users"][2]
    upn = person["userPrincipalName"].lower()
    browser, answer = sign_in(topology, person)
    assert answer.status_code == 302, answer.text[:800]
    assert browser.get(topology.public("/admin/users"), timeout=30).status_code == 403
    grant = deploy_doc.command("mailferry admin grant")
    assert DOC_EXAMPLE_UPN in grant, grant
    granted = topology.as_service_account(grant.replace(DOC_EXAMPLE_UPN, upn))
    assert granted.returncode == 0, granted.stdout + granted.stderr
    listed = topology.as_service_account(deploy_doc.command("mailferry admin list"))
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert any(line.split("\t")[:2] == [upn, "granted"] for line in listed.stdout.splitlines()), listed.stdout
    assert browser.get(topology.public("/admin/users"), timeout=30).status_code == 200
