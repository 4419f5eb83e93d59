"""The rotation pass on its own (the end-to-end runs are in tests/worker/test_secret_rotation.py):
a value sealed under an older key while the pass runs (a host without the new key) keeps the
older keys, and the report says so until a run finds none; plain bodies are told from tokens."""

from __future__ import annotations

from cryptography.fernet import Fernet

from mailferry import migrate
from mailferry.crypto import SecretBox, looks_sealed
from mailferry.db import make_engine, make_session_factory
from mailferry.models import Connection, Tenant, User
from mailferry.secret_rotation import rotate

TOKENS = {"access_token": "00Dxx!AR8AQ.secret", "refresh_token": "5Aep861.refresh"}


def _connections(engine, box: SecretBox, count: int) -> list[int]:
    with make_session_factory(engine).begin() as session:
        tenant = Tenant(tid="9188040d-6c67-4c5b-b112-36a304b66dad", name="Contoso")
        session.add(tenant)
        session.flush()
        rows = []
        for n in range(count):
            user = User(tenant_id=tenant.id, oid=f"00000000-0000-0000-0000-00000000000{n}", upn=f"u{n}@contoso.com")
            session.add(user)
            session.flush()
            rows.append(Connection(tenant_id=tenant.id, user_id=user.id, provider="salesforce",
                                   status="connected", sealed_secrets=box.seal(TOKENS)))
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def test_a_secret_sealed_under_the_old_key_during_the_pass_keeps_the_old_keys(empty_database_url):
    migrate.upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
        ids = _connections(engine, SecretBox([old]), 3)
        stale_host = SecretBox([old])
        written = []

        def stale_refresh() -> None:  # after the first batch, a host with the old key only refreshes a token
            if not written:
                with make_session_factory(engine).begin() as session:
                    session.get(Connection, ids[0]).sealed_secrets = stale_host.seal(TOKENS)
                written.append(ids[0])

        report = rotate(engine, SecretBox([new, old]), batch_size=1, after_batch=stale_refresh)
        tally = report.tallies["connection tokens and MSAL token caches"]
        assert (tally.resealed, tally.current, report.left_behind) == (3, 0, 1)
        assert not report.old_keys_removable
        assert "keep the older keys" in "\n".join(report.lines())

        again = rotate(engine, SecretBox([new, old]))
        assert again.tallies["connection tokens and MSAL token caches"].resealed == 1
        assert again.old_keys_removable and "can now be removed" in "\n".join(again.lines())
        with make_session_factory(engine)() as session:
            assert all(SecretBox([new]).open(session.get(Connection, i).sealed_secrets) == TOKENS for i in ids)
    finally:
        engine.dispose()


def test_a_secret_no_key_opens_is_reported_and_every_key_kept(empty_database_url):
    migrate.upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        lost, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
        ids = _connections(engine, SecretBox([lost]), 1)
        report = rotate(engine, SecretBox([new]))
        assert report.tallies["connection tokens and MSAL token caches"].unreadable == ids
        assert not report.old_keys_removable
        assert "open with none of the keys" in "\n".join(report.lines())
    finally:
        engine.dispose()


def test_plain_bodies_are_told_from_sealed_ones():
    box = SecretBox([Fernet.generate_key().decode()])
    assert looks_sealed(box.seal_text("")) and looks_sealed(box.seal_text("Hello\nBob"))
    for plain in ("", "Thanks!", "Hi Alex,\n\n" + "Please find the agenda below. " * 20, "A" * 400):
        assert not looks_sealed(plain)
