"""The Salesforce API budget governor: Mailferry keeps a tenant's calls under its share of
the org's daily allowance (Tenant.api_budget_percent, default 20%; SPEC section 3).

The allowance comes from the latest `Sforce-Limit-Info: api-usage=used/allowance` the
session saw (`observe`). An org with burst entitlement may report `used` above the allowance
while its calls still succeed (`api-usage=110018/100000; api-bursts=1/750`, reference 2.1 and
wave2 8.1): such usage is not exhaustion, so the org check only stops us ahead of a refusal
when the header has no api-bursts part and usage is not already past the allowance; the
tenant's share decides, and a real refusal
(REQUEST_LIMIT_EXCEEDED "TotalRequests") pauses the tenant (`pause`). Our own calls are counted in Redis, one counter per tenant per UTC
day, reserved before a batch is sent (`reserve`) and corrected after (`settle`). When a
batch would go over, `reserve` raises ProviderError(BUDGET) with `retry_after` (the next UTC
midnight), which the pipeline shows as "paused: API budget until …".

Redis holds only counters (losing them forgets today's count, nothing else); the hourly
`ApiUsageSample` rows for the admin chart go to the database (`record_sample`).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailferry import api_budget
from mailferry.api_budget import DEFAULT_ALLOWANCE, DEFAULT_PERCENT, BudgetStatus  # noqa: F401 (re-exported)
from mailferry.api_budget import next_midnight as _next_midnight
from mailferry.models import ApiUsageSample
from mailferry.provider_errors import ErrorKind, ProviderError
from worker.salesforce.errors import LIMIT_BACKOFF_SECONDS

# Check-and-add in one step, so two workers can't both take the last calls of the share.
_RESERVE = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local calls = tonumber(ARGV[1])
if used + calls > tonumber(ARGV[2]) then return -1 - used end
redis.call('INCRBY', KEYS[1], calls)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
redis.call('INCRBY', KEYS[2], calls)
return used + calls
"""


class BudgetGovernor:
    def __init__(self, redis, clock: Callable[[], datetime] | None = None):
        self.redis = redis
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._reserve = redis.register_script(_RESERVE)

    # ----- before and after calls -----------------------------------------------------------

    def reserve(self, tenant_id: int, calls: int, percent: int = DEFAULT_PERCENT) -> None:
        """Take `calls` from today's share, or raise ProviderError(BUDGET, retry_after=…)."""
        now = self._clock()
        paused = self._paused_until(tenant_id, now)
        if paused:
            raise ProviderError(ErrorKind.BUDGET, "salesforce",
                                f"Salesforce API paused until {paused:%Y-%m-%d %H:%M} UTC: the org reached its "
                                "daily API limit.", code="REQUEST_LIMIT_EXCEEDED",
                                retry_after=(paused - now).total_seconds())
        org_used, allowance = self._org(tenant_id)
        total = allowance or DEFAULT_ALLOWANCE
        share = api_budget.share_of(allowance, percent)
        midnight = _next_midnight(now)
        wait = max(1.0, (midnight - now).total_seconds())
        # Usage past the allowance is only ever reported while calls still succeed (a burst);
        # if the org really is out, its refusal pauses the tenant (SalesforceCrm, `pause`).
        bursting = org_used is not None and (org_used > total or self._bursting(tenant_id))
        if org_used is not None and org_used + calls > total and not bursting:
            raise ProviderError(ErrorKind.BUDGET, "salesforce",
                                f"The Salesforce org has used {org_used} of its {total} daily API calls.",
                                code="ORG_LIMIT", retry_after=min(wait, LIMIT_BACKOFF_SECONDS))
        result = int(self._reserve(keys=[self._day_key(tenant_id, now), self._unsampled_key(tenant_id)],
                                   args=[calls, share, 2 * 24 * 3600]))
        if result < 0:
            used = -1 - result
            raise ProviderError(ErrorKind.BUDGET, "salesforce",
                                f"Mailferry's share of the Salesforce API is used up for today: {used} of "
                                f"{share} calls ({percent}% of {total}); paused until "
                                f"{midnight:%Y-%m-%d %H:%M} UTC.", code="MAILFERRY_BUDGET", retry_after=wait)

    def settle(self, tenant_id: int, reserved: int, actual: int) -> None:
        """Correct today's count once the real number of calls is known (a refresh, a
        second page, a retried TaskSubtype all cost calls nobody could foresee)."""
        difference = actual - reserved
        if difference:
            self.redis.incrby(self._day_key(tenant_id, self._clock()), difference)
            self.redis.incrby(self._unsampled_key(tenant_id), difference)

    def observe(self, tenant_id: int, used: int, allowance: int, bursts: tuple[int, int] | None = None) -> None:
        """The org's usage from a Sforce-Limit-Info header (SalesforceSession.on_limit_info);
        `bursts` is its api-bursts part (bursts, monthly entitlement) when it had one."""
        self.redis.hset(self._org_key(tenant_id), mapping={
            "used": used, "allowance": allowance, "at": self._clock().isoformat(),
            "bursts": f"{bursts[0]}/{bursts[1]}" if bursts else ""})

    def pause(self, tenant_id: int, seconds: float) -> datetime:
        """Stop every call for the tenant for `seconds` (after REQUEST_LIMIT_EXCEEDED)."""
        until = self._clock() + timedelta(seconds=seconds)
        self.redis.set(self._pause_key(tenant_id), until.isoformat(), ex=max(1, int(seconds + 0.999)))
        return until

    # ----- reading --------------------------------------------------------------------------

    def status(self, tenant_id: int, percent: int = DEFAULT_PERCENT) -> BudgetStatus:
        return api_budget.read_status(self.redis, tenant_id, self._clock(), percent)

    def record_sample(self, db: Session, tenant_id: int) -> ApiUsageSample | None:
        """Add an ApiUsageSample row unless the tenant already has one this UTC hour (the
        chart is hourly; a row per call would be noise). The caller commits."""
        org_used, allowance = self._org(tenant_id)
        if org_used is None or allowance is None:
            return None
        now = self._clock()
        hour = now.replace(minute=0, second=0, microsecond=0)
        latest = db.scalar(select(ApiUsageSample.sampled_at).where(
            ApiUsageSample.tenant_id == tenant_id, ApiUsageSample.sampled_at >= hour).limit(1))
        if latest is not None:
            return None
        our_calls = int(self.redis.getset(self._unsampled_key(tenant_id), 0) or 0)
        sample = ApiUsageSample(tenant_id=tenant_id, sampled_at=now, used=org_used, allowance=allowance,
                                our_calls=max(0, our_calls))
        db.add(sample)
        return sample

    # ----- inside ---------------------------------------------------------------------------

    def _org(self, tenant_id: int) -> tuple[int | None, int | None]:
        return api_budget.read_org(self.redis, tenant_id)

    def _bursting(self, tenant_id: int) -> bool:
        """Whether the latest header had an api-bursts part: the org may go past its limit."""
        return bool(self.redis.hget(self._org_key(tenant_id), "bursts"))

    def _paused_until(self, tenant_id: int, now: datetime) -> datetime | None:
        return api_budget.read_paused_until(self.redis, tenant_id, now)

    def _day_key(self, tenant_id: int, now: datetime) -> str:
        return api_budget.day_key(tenant_id, now)

    def _unsampled_key(self, tenant_id: int) -> str:
        return api_budget.unsampled_key(tenant_id)

    def _org_key(self, tenant_id: int) -> str:
        return api_budget.org_key(tenant_id)

    def _pause_key(self, tenant_id: int) -> str:
        return api_budget.pause_key(tenant_id)
