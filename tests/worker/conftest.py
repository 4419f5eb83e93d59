"""The sync engine under test: both sandbox servers over HTTPS, a real Redis, a freshly
migrated database, and the demo users connected the way `make run` connects them."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import requests
from sqlalchemy import select

from cli.demo import connect_demo_users
from mailferry import migrate
from mailferry.config import Config
from mailferry.models import Mailbox, User
from tests.config_fixtures import build_config, sandbox_ports
from tests.worker.demo_rep import REP
from worker.runtime import Runtime, use_runtime


@dataclass
class Clouds:
    """The two sandboxes' control APIs, as the tests drive them."""

    http: requests.Session
    microsoft: str
    salesforce: str

    def deliver(self, upn: str, **message) -> dict:
        answer = self.http.post(f"{self.microsoft}/_sandbox/users/{upn}/messages", json=message)
        assert answer.status_code == 201, answer.text
        return answer.json()

    def change(self, upn: str, message_id: str, **changes) -> None:
        self.http.patch(f"{self.microsoft}/_sandbox/users/{upn}/messages/{message_id}", json=changes).raise_for_status()

    def records(self, sobject: str, **filters) -> list[dict]:
        return self.http.get(f"{self.salesforce}/_sandbox/records/{sobject}", params=filters).json()["records"]

    def plant(self, sobject: str, record: dict) -> str:
        answer = self.http.post(f"{self.salesforce}/_sandbox/records/{sobject}", json=record)
        assert answer.status_code == 201, answer.text
        return answer.json()["ids"][0]

    def org(self, **settings) -> dict:
        answer = self.http.patch(f"{self.salesforce}/_sandbox/org", json=settings)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def faults(self, base: str, *rules: dict) -> None:
        self.http.post(f"{base}/_sandbox/faults", json=list(rules)).raise_for_status()

    def calls(self, base: str) -> dict:
        return self.http.get(f"{base}/_sandbox/stats").json()

    def reset_calls(self) -> None:
        for base in (self.microsoft, self.salesforce):
            self.http.post(f"{base}/_sandbox/stats/reset").raise_for_status()


@pytest.fixture
def clouds(client_session, demo_microsoft_url, demo_salesforce_url) -> Clouds:
    return Clouds(client_session, demo_microsoft_url, demo_salesforce_url)


@pytest.fixture
def engine_config(tmp_path, empty_database_url, redis_url, certs, sandbox_settings) -> Config:
    migrate.upgrade(empty_database_url)
    return build_config(tmp_path / "data", MAILFERRY_CERTS_DIR=str(certs.folder), DATABASE_URL=empty_database_url,
                        REDIS_URL=redis_url, **sandbox_ports(sandbox_settings))


@pytest.fixture
def pipeline(engine_config, clouds):
    """(runtime, mailbox ids) with the demo users connected; the runtime is the process's."""
    runtime = Runtime(engine_config)
    use_runtime(runtime)
    mailbox_ids = connect_demo_users(engine_config)
    yield runtime, mailbox_ids
    use_runtime(None)
    runtime.engine.dispose()


@pytest.fixture
def rep(pipeline) -> tuple[int, int]:
    """(user id, mailbox id) of the demo's sales rep (`tests.worker.demo_rep.REP`)."""
    runtime, _ = pipeline
    with runtime.sessions() as session:
        user = session.execute(select(User).where(User.upn == REP)).scalar_one()
        mailbox = session.execute(select(Mailbox).where(Mailbox.user_id == user.id)).scalar_one()
        return user.id, mailbox.id
