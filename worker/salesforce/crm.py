"""The process stage's view of one user's Salesforce: look people up, write and delete
Tasks, within the tenant's API budget, with the org's setup known.

`open_crm` unseals the user's tokens into a `SalesforceSession` whose refreshed tokens are
sealed straight back into the connection, and whose `Sforce-Limit-Info` feeds the budget
governor. Every call is reserved from the budget first and settled with what it really cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, TypeVar

from sqlalchemy.orm import Session

from mailferry.models import Connection, Tenant
from mailferry.provider_errors import ErrorKind, ProviderError
from mailferry.salesforce_identity import SalesforceOAuth
from worker.salesforce.budget import BudgetGovernor
from worker.salesforce.change_feed import Change, changes_since
from worker.salesforce.lookup import MatchCache, Person, find_people, find_people_cached
from worker.salesforce.session import SalesforceSession
from worker.salesforce.setup import check_setup
from worker.salesforce.writer import DeleteResult, TaskWrite, WriteResult, delete_tasks, write_tasks
from worker.sealed import unseal

__all__ = ["SalesforceCrm", "TaskWrite", "open_crm"]

# The org's setup (key field, Shared Activities) is checked again after this long, and at
# once after a failure, so an admin's fix is noticed without a restart.
SETUP_RECHECK = timedelta(hours=6)
# Matches are cached per process for a minute: a burst of mail to the same people costs
# one lookup, and a Contact created in Salesforce is seen within a minute.
_match_cache = MatchCache(ttl=60.0)
T = TypeVar("T")


@dataclass
class SalesforceCrm:
    sf: SalesforceSession
    governor: BudgetGovernor
    tenant: Tenant
    owner_id: str
    shared_activities: bool

    def find_people(self, addresses: list[str], fresh: bool = False) -> dict[str, list[Person]]:
        """Contacts and open Leads per address. `fresh` skips the match cache: a retry must
        see the Contact someone just created ("Retry now", the re-match sweep)."""
        if fresh:
            answer = self._metered(lambda: find_people(self.sf, addresses))
            _match_cache.put(self.sf.org_id or "", answer)
            return answer
        return self._metered(lambda: find_people_cached(self.sf, addresses, _match_cache))

    def changes_since(self, since: datetime) -> list[Change]:
        """The org's Contacts and open Leads written since `since` (the re-match change feed)."""
        return self._metered(lambda: changes_since(self.sf, since))

    def write_tasks(self, writes: list[TaskWrite]) -> list[WriteResult]:
        return self._metered(lambda: write_tasks(self.sf, writes, shared_activities=self.shared_activities))

    def delete_tasks(self, task_ids: list[str]) -> list[DeleteResult]:
        return self._metered(lambda: delete_tasks(self.sf, task_ids))

    def _metered(self, call: Callable[[], T]) -> T:
        """Reserve one call from the tenant's share, then settle with the real count."""
        before = self.sf.calls
        self.governor.reserve(self.tenant.id, 1, self.tenant.api_budget_percent)
        try:
            return call()
        except ProviderError as error:
            if error.kind == ErrorKind.BUDGET and error.code == "REQUEST_LIMIT_EXCEEDED" and error.retry_after:
                # The org's daily total is spent (the concurrent-requests refusal is TEMPORARY):
                # every worker of the tenant waits, not just this one.
                self.governor.pause(self.tenant.id, error.retry_after)
            raise
        finally:
            self.governor.settle(self.tenant.id, 1, self.sf.calls - before)


def open_crm(rt, session: Session, tenant: Tenant, connection: Connection, now: datetime,
             owner_id: str | None = None) -> SalesforceCrm:
    """The Salesforce of `connection` (a user's own, or the tenant's integration user's),
    ready to write: tokens unsealed, org setup known. Tasks are owned by `owner_id` (the
    member an integration writes for), by default the connection's own Salesforce user.

    Raises ProviderError: AUTH when the tokens cannot be refreshed, SETUP when the org lacks
    the key field (with the admin's fix), BUDGET when the tenant's share is used up; and
    WorkerLacksKey (the worker stops) when its keys cannot open the tokens.
    """
    governor = BudgetGovernor(rt.redis)

    def store_tokens(tokens: dict) -> None:
        connection.sealed_secrets = rt.box.seal(tokens)
        session.commit()

    def observe_limits(used: int, allowance: int) -> None:
        # `sf` is the session below (it calls this only once it exists); it has just read
        # the same header's api-bursts part, if any.
        governor.observe(tenant.id, used, allowance, sf.last_bursts)

    # Tokens this worker's keys cannot open are this worker's fault, not the connection's: it
    # stops (worker/sealed.py) and nothing is marked for reconnect. This is also the check for
    # callers that open the tenant's integration without a run's pre-check (worker/group_sync.py).
    tokens = unseal(rt, connection.sealed_secrets, f"the Salesforce tokens of connection {connection.id}")
    # The deployment's Salesforce hosts, not just the saved one: a connection saved with a
    # login host that is not Salesforce's must not receive the consumer secret on a refresh.
    oauth = SalesforceOAuth(connection.login_host or rt.config.salesforce_login_url, rt.config.salesforce_client_id,
                            rt.config.salesforce_client_secret, rt.config.salesforce_redirect_uri, rt.http,
                            hosts=rt.config.salesforce_hosts)
    sf = SalesforceSession(tokens, ca_file=rt.config.client_ca_file, oauth=oauth, on_tokens=store_tokens,
                           on_limit_info=observe_limits)
    if _setup_is_stale(tenant, now):
        check = check_setup(sf)
        tenant.salesforce_external_id_field_ok = check.external_id_field_ok
        tenant.salesforce_has_shared_activities = check.shared_activities
        tenant.salesforce_checked_at = now
        tenant.salesforce_org_id = sf.org_id
        tenant.salesforce_instance_url = sf.tokens.get("instance_url")
        session.commit()
        check.raise_if_unusable()
    governor.record_sample(session, tenant.id)
    return SalesforceCrm(sf, governor, tenant, owner_id or connection.external_user_id or "",
                         bool(tenant.salesforce_has_shared_activities))


def _setup_is_stale(tenant: Tenant, now: datetime) -> bool:
    if not tenant.salesforce_external_id_field_ok or tenant.salesforce_checked_at is None:
        return True
    return now - tenant.salesforce_checked_at > SETUP_RECHECK
