"""The database itself refuses duplicates and bad values, and cleans up after deletions."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, timedelta

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError

from mailferry.db import Base, utcnow
from mailferry.models import (
    Connection,
    IgnoredEmail,
    IgnoreEntry,
    Mailbox,
    MailboxFolder,
    Message,
    MessageRecord,
    OmittedDailyCount,
    Subscription,
    Tenant,
    TenantSetting,
    UnmatchedAddress,
    User,
    UserAddress,
    UserSetting,
)
from tests.db import factories


@contextmanager
def refused(session):
    """Assert the flush inside is refused by the database, and carry on after it."""
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            yield
            session.flush()


def test_a_tenant_is_registered_once_per_entra_tenant_id(db_session):
    factories.tenant(db_session, tid="contoso")
    with refused(db_session):
        db_session.add(Tenant(tid="contoso"))


def test_a_user_object_id_is_unique_within_its_tenant_only(db_session):
    first, second = factories.tenant(db_session), factories.tenant(db_session)
    factories.user(db_session, first, oid="same-oid")
    factories.user(db_session, second, oid="same-oid")
    with refused(db_session):
        db_session.add(User(tenant_id=first.id, oid="same-oid", upn="x@t.example"))


def test_a_user_address_is_listed_once_per_user_whatever_its_case(db_session):
    user = factories.user(db_session)
    db_session.add(UserAddress(user_id=user.id, address="me@example.com", kind="primary"))
    db_session.flush()
    with refused(db_session):
        db_session.add(UserAddress(user_id=user.id, address="ME@example.com"))


def test_a_user_has_one_connection_per_provider(db_session):
    user = factories.user(db_session)
    db_session.add(Connection(tenant_id=user.tenant_id, user_id=user.id, provider="salesforce"))
    db_session.add(Connection(tenant_id=user.tenant_id, user_id=user.id, provider="microsoft"))
    db_session.flush()
    with refused(db_session):
        db_session.add(Connection(tenant_id=user.tenant_id, user_id=user.id, provider="salesforce"))


def test_a_tenant_has_one_app_only_connection_per_provider(db_session):
    tenant = factories.tenant(db_session)
    db_session.add(Connection(tenant_id=tenant.id, provider="microsoft", kind="app_only"))
    db_session.flush()
    with refused(db_session):
        db_session.add(Connection(tenant_id=tenant.id, provider="microsoft", kind="app_only"))


def test_app_only_access_belongs_to_the_tenant_and_delegated_access_to_a_user(db_session):
    user = factories.user(db_session)
    with refused(db_session):
        db_session.add(
            Connection(tenant_id=user.tenant_id, user_id=user.id, provider="microsoft", kind="app_only")
        )
    with refused(db_session):
        db_session.add(Connection(tenant_id=user.tenant_id, provider="salesforce", kind="delegated"))


def test_a_message_is_stored_once_per_mailbox_but_may_be_in_several_mailboxes(db_session):
    mailbox = factories.mailbox(db_session)
    other_mailbox = factories.mailbox(db_session)
    factories.message(db_session, mailbox, internet_message_id="<shared@mail.example>")
    factories.message(db_session, other_mailbox, internet_message_id="<shared@mail.example>")
    with refused(db_session):
        factories.message(db_session, mailbox, internet_message_id="<shared@mail.example>")


def test_a_task_key_names_one_message_only(db_session):
    factories.message(db_session, task_key="k1")
    with refused(db_session):
        factories.message(db_session, task_key="k1")


def test_each_ignore_list_holds_a_value_once(db_session):
    user = factories.user(db_session)
    tenant_id = user.tenant_id

    def entry(user_id):
        return IgnoreEntry(
            tenant_id=tenant_id, user_id=user_id, kind="domain", value="example.com", source="admin"
        )

    # The same value on the user's list and on the Global Exclusion List is fine...
    db_session.add_all([entry(user.id), entry(None)])
    db_session.flush()
    # ...twice on either is not, although the global list's user_id is NULL.
    with refused(db_session):
        db_session.add(entry(user.id))
    with refused(db_session):
        db_session.add(entry(None))


def test_an_email_is_ignored_once_per_user(db_session):
    user = factories.user(db_session)
    db_session.add(IgnoredEmail(user_id=user.id, internet_message_id="<m@x>", source="addin"))
    db_session.flush()
    with refused(db_session):
        db_session.add(IgnoredEmail(user_id=user.id, internet_message_id="<m@x>", source="history"))


def test_omitted_emails_are_counted_in_one_row_per_tenant_and_day(db_session):
    tenant = factories.tenant(db_session)
    db_session.add(OmittedDailyCount(tenant_id=tenant.id, day=date(2026, 11, 26), count=3))
    db_session.flush()
    with refused(db_session):
        db_session.add(OmittedDailyCount(tenant_id=tenant.id, day=date(2026, 11, 26), count=1))


def test_a_setting_has_one_value_per_tenant_and_per_user(db_session):
    user = factories.user(db_session)
    db_session.add(TenantSetting(tenant_id=user.tenant_id, key="sync_mode", value="all", locked=True))
    db_session.add(UserSetting(user_id=user.id, key="folders", value=["inbox", "sentitems"]))
    db_session.flush()
    db_session.expire_all()
    assert db_session.scalars(select(UserSetting.value)).all() == [["inbox", "sentitems"]]
    with refused(db_session):
        db_session.add(TenantSetting(tenant_id=user.tenant_id, key="sync_mode", value="off"))
    with refused(db_session):
        db_session.add(UserSetting(user_id=user.id, key="folders", value=[]))


def test_a_value_outside_a_columns_vocabulary_is_refused_even_in_raw_sql(db_session):
    message = factories.message(db_session)
    with refused(db_session):
        db_session.execute(
            text("UPDATE messages SET status = 'lost' WHERE id = :id"), {"id": message.id}
        )


def test_deleting_a_message_deletes_its_matched_records(db_session):
    message = factories.message(db_session)
    db_session.add(
        MessageRecord(
            message_id=message.id, sobject_type="Contact", record_id="003000000000001", recorded=True
        )
    )
    db_session.flush()
    # A bulk DELETE bypasses the ORM: the database's ON DELETE CASCADE does the work.
    db_session.execute(delete(Message).where(Message.id == message.id))
    assert db_session.scalar(select(func.count()).select_from(MessageRecord)) == 0


def test_deleting_a_user_deletes_everything_of_theirs_and_keeps_what_they_did_for_the_tenant(
    db_session,
):
    user = factories.user(db_session)
    bystander = factories.user(db_session, db_session.get(Tenant, user.tenant_id))
    mailbox = factories.mailbox(db_session, user)
    message = factories.message(db_session, mailbox)
    now = utcnow()
    db_session.add_all(
        [
            UserAddress(user_id=user.id, address="me@example.com"),
            Connection(tenant_id=user.tenant_id, user_id=user.id, provider="salesforce"),
            UserSetting(user_id=user.id, key="time_zone", value="Europe/Paris"),
            MailboxFolder(mailbox_id=mailbox.id, graph_folder_id="inbox-id", well_known_name="inbox"),
            Subscription(
                mailbox_id=mailbox.id,
                graph_subscription_id="sub-1",
                resource="me/mailFolders('inbox')/messages",
                sealed_client_state=b"ciphertext",
                expires_at=now + timedelta(days=2),
            ),
            MessageRecord(message_id=message.id, sobject_type="Lead", record_id="00Q1", recorded=True),
            UnmatchedAddress(tenant_id=user.tenant_id, user_id=user.id, address="x@y.example"),
            IgnoredEmail(user_id=user.id, internet_message_id="<i@x>", source="addin"),
            IgnoreEntry(
                tenant_id=user.tenant_id, user_id=user.id, kind="domain", value="y.example", source="history"
            ),
            # An entry the user added to the tenant's Global Exclusion List as its admin.
            IgnoreEntry(
                tenant_id=user.tenant_id,
                kind="address",
                value="spam@z.example",
                source="admin",
                created_by_user_id=user.id,
            ),
        ]
    )
    db_session.flush()

    db_session.execute(delete(User).where(User.id == user.id))
    db_session.expire_all()

    for model in (UserAddress, Connection, UserSetting, Mailbox, MailboxFolder, Subscription,
                  Message, MessageRecord, UnmatchedAddress, IgnoredEmail):
        assert db_session.scalar(select(func.count()).select_from(model)) == 0, model.__name__
    global_entry = db_session.scalars(select(IgnoreEntry)).one()
    assert (global_entry.value, global_entry.created_by_user_id) == ("spam@z.example", None)
    assert db_session.get(User, bystander.id) is not None


def _row_counts(session) -> dict[str, int]:
    return {
        table.name: session.scalar(select(func.count()).select_from(table))
        for table in Base.metadata.sorted_tables
    }


def test_deleting_a_tenant_leaves_no_row_behind(db_session):
    before = _row_counts(db_session)
    message = factories.message(db_session)
    db_session.add(OmittedDailyCount(tenant_id=message.tenant_id, day=date(2026, 1, 1), count=1))
    db_session.flush()
    db_session.execute(delete(Tenant).where(Tenant.id == message.tenant_id))
    assert _row_counts(db_session) == before
