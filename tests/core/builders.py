"""Small builders for the core tests: one email, one user's context, one matched record."""

from __future__ import annotations

from mailferry.allowances import MatchedRecord
from mailferry.decision import DecisionContext, EmailFacts, Participant
from mailferry.settings_catalog import effective_settings

OWN = "rep@mailferry-customer.example"
OWN_ALIAS = "sales@mailferry-customer.example"
OWN_DOMAIN = "mailferry-customer.example"
SMART_DOMAIN = "smart.mailferry-customer.example"
DO_NOT_RECORD = "donotrecord@smart.mailferry-customer.example"
EXCLUDED_DOMAIN = "hr-provider.example"
CUSTOMER = "jane.doe@acme.example"
OTHER_CUSTOMER = "bob@globex.example"


def email(
    *participants: tuple[str, str],
    operation: str = "create",
    direction: str = "incoming",
    categories: tuple[str, ...] = (),
    message_id: str = "<m1@acme.example>",
) -> EmailFacts:
    """An email from (role, address) pairs; with none given, Jane writes to the rep."""
    if not participants:
        participants = (("from", CUSTOMER), ("to", OWN))
    return EmailFacts(
        operation=operation,
        direction=direction,
        participants=tuple(Participant(role, address) for role, address in participants),
        categories=categories,
        internet_message_id=message_id,
    )


def context(
    *,
    ignore_email: bool = False,
    global_exclusions: tuple[str, ...] = (EXCLUDED_DOMAIN,),
    ignore_list: tuple[str, ...] = (OWN_DOMAIN,),
    **settings,
) -> DecisionContext:
    """The rep's context: own domain on the Ignore List (as for every new user)."""
    return DecisionContext(
        settings=effective_settings(user_values=settings),
        own_addresses=frozenset({OWN, OWN_ALIAS}),
        global_exclusions=global_exclusions,
        do_not_record_address=DO_NOT_RECORD,
        smart_domain=SMART_DOMAIN,
        ignore_list=ignore_list,
        ignore_email_chosen=ignore_email,
    )


def record(
    sobject: str,
    record_id: str,
    role: str = "to",
    position: int = 0,
    created: str | None = "2024-01-01T00:00:00.000+0000",
    address: str | None = None,
) -> MatchedRecord:
    return MatchedRecord(
        sobject=sobject,
        record_id=record_id,
        name=f"{sobject} {record_id}",
        address=address or f"{record_id.lower()}@acme.example",
        created=created,
        role=role,
        position=position,
    )
