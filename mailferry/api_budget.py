"""Today's Salesforce API budget, read from Redis: the key names and the read-only view.

The worker's `BudgetGovernor` (worker/salesforce/budget.py) reserves and counts calls under
these keys; the web app's admin page reads them through `read_status`. Both import the
names from here, so the server never imports the worker (docs/architecture.md).

Keys, per tenant (`mailferry:sfbudget:<tenant id>:…`):

| key | holds |
|---|---|
| `day:<YYYYMMDD>` | our calls on that UTC day (expires after two days) |
| `unsampled` | our calls since the last hourly `ApiUsageSample` row |
| `org` | hash: the org's `used` / `allowance` from the latest Sforce-Limit-Info, and `at` |
| `pause` | ISO time until which every call waits (after REQUEST_LIMIT_EXCEEDED) |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_PERCENT = 20
#: Until the first response tells us the org's allowance, assume the smallest one an org
#: with API access has (Developer Edition, reference 2.9), so a new tenant starts careful.
DEFAULT_ALLOWANCE = 15_000
KEY_PREFIX = "mailferry:sfbudget"


def day_key(tenant_id: int, now: datetime) -> str:
    return f"{KEY_PREFIX}:{tenant_id}:day:{now:%Y%m%d}"


def unsampled_key(tenant_id: int) -> str:
    return f"{KEY_PREFIX}:{tenant_id}:unsampled"


def org_key(tenant_id: int) -> str:
    return f"{KEY_PREFIX}:{tenant_id}:org"


def pause_key(tenant_id: int) -> str:
    return f"{KEY_PREFIX}:{tenant_id}:pause"


def next_midnight(now: datetime) -> datetime:
    return (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


def share_of(allowance: int | None, percent: int) -> int:
    """Mailferry's calls for the day: `percent` of the org's allowance (or the default)."""
    return (allowance or DEFAULT_ALLOWANCE) * percent // 100


@dataclass(frozen=True)
class BudgetStatus:
    """Today's numbers for the admin page and the pipeline's "paused until" state."""

    day: str
    our_calls: int
    share: int
    percent: int
    org_used: int | None
    allowance: int | None
    paused_until: datetime | None

    @property
    def remaining(self) -> int:
        return max(0, self.share - self.our_calls)


def read_org(redis, tenant_id: int) -> tuple[int | None, int | None]:
    """The org's (used, allowance) from the latest Sforce-Limit-Info, or (None, None)."""
    values = redis.hmget(org_key(tenant_id), "used", "allowance")
    return tuple(int(v) if v is not None else None for v in values)  # type: ignore[return-value]


def read_paused_until(redis, tenant_id: int, now: datetime) -> datetime | None:
    raw = redis.get(pause_key(tenant_id))
    if not raw:
        return None
    until = datetime.fromisoformat(raw.decode() if isinstance(raw, bytes) else raw)
    return until if until > now else None


def read_status(redis, tenant_id: int, now: datetime, percent: int = DEFAULT_PERCENT) -> BudgetStatus:
    """Today's count, share and pause for a tenant; reads only."""
    org_used, allowance = read_org(redis, tenant_id)
    share = share_of(allowance, percent)
    our = int(redis.get(day_key(tenant_id, now)) or 0)
    paused = read_paused_until(redis, tenant_id, now)
    if paused is None and our >= share:
        paused = next_midnight(now)
    return BudgetStatus(day=now.strftime("%Y-%m-%d"), our_calls=our, share=share, percent=percent,
                        org_used=org_used, allowance=allowance, paused_until=paused)
