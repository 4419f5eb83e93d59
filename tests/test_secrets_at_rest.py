"""Tokens are stored only as ciphertext: what the database holds is not the plaintext, and it
opens back to the same tokens with the configured keys."""

from __future__ import annotations

from cryptography.fernet import Fernet
from sqlalchemy import select, text

from mailferry.crypto import SecretBox
from mailferry.models import Connection, Tenant, User

TOKENS = {
    "access_token": "00Dxx0000001gPL!AR8AQJXg5oj8jXSgxJfA0lBog.secret",
    "refresh_token": "5Aep861TSESvWeug_xvFHRBTTbf_YrTWgEyjBJrbWLNTI.refresh",
    "instance_url": "https://acme.my.salesforce.com",
}


def test_connection_tokens_are_ciphertext_in_the_database_and_open_to_the_same_tokens(db_session):
    box = SecretBox([Fernet.generate_key().decode()])
    tenant = Tenant(tid="9188040d-6c67-4c5b-b112-36a304b66dad", name="Contoso")
    user = User(tenant=tenant, oid="00000000-0000-0000-66f3-3332eca7ea81", upn="alex@contoso.com")
    db_session.add_all([tenant, user])
    db_session.flush()
    connection = Connection(
        tenant_id=tenant.id, user_id=user.id, provider="salesforce", sealed_secrets=box.seal(TOKENS)
    )
    db_session.add(connection)
    db_session.commit()

    stored = db_session.execute(
        text("SELECT sealed_secrets FROM connections WHERE id = :id"), {"id": connection.id}
    ).scalar_one()
    stored = bytes(stored)
    for plaintext in ("AR8AQJXg5oj8jXSgxJfA0lBog", "YrTWgEyjBJrbWLNTI", "refresh_token", "acme.my"):
        assert plaintext.encode() not in stored
    row = db_session.execute(select(Connection).where(Connection.id == connection.id)).scalar_one()
    assert box.open(row.sealed_secrets) == TOKENS
