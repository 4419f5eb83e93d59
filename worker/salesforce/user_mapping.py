"""Members recorded through the tenant's integration connection are mapped to Salesforce
users by email: the active User whose Email is the member's address owns their Tasks. An
address two active Users share maps to neither (an admin chooses on the app-only page)."""

from __future__ import annotations

from collections import defaultdict

from worker.salesforce.batching import in_list_queries, run_queries
from worker.salesforce.session import SalesforceSession

USER_QUERY = "SELECT Id, Email FROM User WHERE IsActive = true AND Email IN {}"


def salesforce_users_by_email(sf: SalesforceSession, addresses: list[str]) -> dict[str, str]:
    """Lower-cased address → the one active Salesforce User id with that Email."""
    found: dict[str, set[str]] = defaultdict(set)
    for records in run_queries(sf, in_list_queries(sf, USER_QUERY, sorted(set(addresses)))):
        for record in records:
            if record.get("Email"):
                found[record["Email"].lower()].add(record["Id"])
    return {address: next(iter(ids)) for address, ids in found.items() if len(ids) == 1}
