"""What the admin pages show about a tenant: its users at a glance, and its Salesforce API
budget today (SPEC section 6). Read-only; core code, no Flask.

The users overview costs a fixed number of queries whatever the number of users: one
statement joins every user to their mailbox, their connections and their counts per tab
(grouped subqueries over the `(user_id, status, …)` history indexes), and two more read
the tenant's and its users' settings (for "sync off").
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session, aliased

from mailferry import api_budget
from mailferry.models import (
    ApiUsageSample,
    Connection,
    Mailbox,
    Message,
    Tenant,
    TenantSetting,
    UnmatchedAddress,
    User,
    UserSetting,
)
from mailferry.settings_catalog import EffectiveSettings, effective_settings
from mailferry.sync_job_status import SyncJobStatus, describe

TAB_STATUSES = ("unresolved", "synced", "excluded")


@dataclass(frozen=True)
class ConnectionState:
    status: str  # connected | needs_reconnect | disconnected | missing
    detail: str | None = None
    app_only: bool = False


@dataclass(frozen=True)
class UserOverview:
    user_id: int
    name: str
    upn: str
    role: str
    microsoft: ConnectionState
    salesforce: ConnectionState
    sync: SyncJobStatus
    last_run_at: datetime | None
    last_success_at: datetime | None
    counts: dict[str, int]


def _connection(status: str | None, detail: str | None, app_only: bool = False) -> ConnectionState:
    return ConnectionState(status or "missing", detail, app_only)


def _settings_by_user(session: Session, tenant_id: int) -> dict[int, EffectiveSettings]:
    tenant_rows = session.execute(select(TenantSetting).where(TenantSetting.tenant_id == tenant_id)).scalars().all()
    user_rows = session.execute(
        select(UserSetting).join(User, User.id == UserSetting.user_id).where(User.tenant_id == tenant_id)
    ).scalars().all()
    own: dict[int, dict] = defaultdict(dict)
    for row in user_rows:
        own[row.user_id][row.key] = row.value
    tenant_values = {row.key: row.value for row in tenant_rows}
    locks = [row.key for row in tenant_rows if row.locked]
    cache: dict[int, EffectiveSettings] = {}
    default = effective_settings(tenant_values=tenant_values, locks=locks)
    for user_id, values in own.items():
        cache[user_id] = effective_settings(tenant_values=tenant_values, locks=locks, user_values=values)
    return defaultdict(lambda: default, cache)


def users_overview(session: Session, tenant: Tenant, now: datetime) -> list[UserOverview]:
    """Every user of the tenant with connection states, sync status, last run and the count
    of each Sync History tab (Unresolved, Synced, Excluded, Unmatched)."""
    counts = (
        select(Message.user_id.label("user_id"),
               *(func.sum(case((Message.status == status, 1), else_=0)).label(status) for status in TAB_STATUSES))
        .where(Message.tenant_id == tenant.id, Message.status.in_(TAB_STATUSES))
        .group_by(Message.user_id).subquery()
    )
    unmatched = (
        select(UnmatchedAddress.user_id.label("user_id"), func.count().label("unmatched"))
        .where(UnmatchedAddress.tenant_id == tenant.id).group_by(UnmatchedAddress.user_id).subquery()
    )
    microsoft, salesforce, app_only = aliased(Connection), aliased(Connection), aliased(Connection)
    rows = session.execute(
        select(User.id, User.display_name, User.upn, User.role,
               Mailbox.status.label("mailbox_status"), Mailbox.status_detail, Mailbox.retry_after,
               Mailbox.last_run_at, Mailbox.last_success_at,
               microsoft.status.label("ms_status"), microsoft.status_detail.label("ms_detail"),
               app_only.status.label("app_status"), app_only.status_detail.label("app_detail"),
               salesforce.status.label("sf_status"), salesforce.status_detail.label("sf_detail"),
               *(func.coalesce(getattr(counts.c, status), 0).label(status) for status in TAB_STATUSES),
               func.coalesce(unmatched.c.unmatched, 0).label("unmatched"))
        .outerjoin(Mailbox, Mailbox.user_id == User.id)
        .outerjoin(microsoft, and_(microsoft.user_id == User.id, microsoft.provider == "microsoft"))
        .outerjoin(salesforce, and_(salesforce.user_id == User.id, salesforce.provider == "salesforce"))
        .outerjoin(app_only, and_(app_only.tenant_id == User.tenant_id, app_only.user_id.is_(None),
                                  app_only.provider == "microsoft"))
        .outerjoin(counts, counts.c.user_id == User.id)
        .outerjoin(unmatched, unmatched.c.user_id == User.id)
        .where(User.tenant_id == tenant.id)
        .order_by(func.lower(func.coalesce(func.nullif(User.display_name, ""), User.upn)), User.id)
    ).all()
    settings = _settings_by_user(session, tenant.id)
    overview = []
    for row in rows:
        if tenant.app_only_enabled and row.app_status is not None:
            ms = _connection(row.app_status, row.app_detail, app_only=True)
        else:
            ms = _connection(row.ms_status, row.ms_detail)
        overview.append(UserOverview(
            user_id=row.id, name=row.display_name or row.upn, upn=row.upn, role=row.role,
            microsoft=ms, salesforce=_connection(row.sf_status, row.sf_detail),
            sync=describe(row.mailbox_status, row.status_detail, row.retry_after, settings[row.id], now,
                          row.sf_status, row.sf_detail),
            last_run_at=row.last_run_at, last_success_at=row.last_success_at,
            counts={**{status: int(getattr(row, status)) for status in TAB_STATUSES},
                    "unmatched": int(row.unmatched)},
        ))
    return overview


# --- the API budget ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HourUsage:
    hour: datetime
    our_calls: int
    org_used: int | None  # the org's day total at the hour's sample (None: no sample)


@dataclass(frozen=True)
class BudgetOverview:
    day: datetime
    percent: int
    our_calls: int
    share: int
    org_used: int | None
    allowance: int | None
    paused_until: datetime | None
    hours: tuple[HourUsage, ...]
    counters_available: bool  # False: Redis did not answer; figures come from the samples

    @property
    def share_used_percent(self) -> int:
        return min(100, round(100 * self.our_calls / self.share)) if self.share else 0

    @property
    def org_used_percent(self) -> int | None:
        if self.org_used is None or not self.allowance:
            return None
        return min(100, round(100 * self.org_used / self.allowance))

    @property
    def our_share_of_org_percent(self) -> int | None:
        """What part of the org's calls today were Mailferry's."""
        if not self.org_used:
            return None
        return min(100, round(100 * self.our_calls / self.org_used))


def budget_overview(session: Session, redis, tenant: Tenant, now: datetime) -> BudgetOverview:
    """Today's (UTC) usage: our calls and share from the Redis counters the worker keeps,
    the org's usage from the latest Sforce-Limit-Info, and the hourly samples for the chart.
    When Redis does not answer, the samples alone give the figures (slightly behind)."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    samples = session.execute(
        select(ApiUsageSample).where(ApiUsageSample.tenant_id == tenant.id, ApiUsageSample.sampled_at >= midnight,
                                     ApiUsageSample.sampled_at < midnight + timedelta(days=1))
        .order_by(ApiUsageSample.sampled_at)
    ).scalars().all()
    calls: dict[int, int] = defaultdict(int)
    used: dict[int, int] = {}
    for sample in samples:
        calls[sample.sampled_at.hour] += sample.our_calls
        used[sample.sampled_at.hour] = sample.used
    hours = tuple(HourUsage(midnight + timedelta(hours=h), calls.get(h, 0), used.get(h)) for h in range(24))
    latest = samples[-1] if samples else None
    percent = tenant.api_budget_percent
    try:
        status = api_budget.read_status(redis, tenant.id, now, percent)
    except Exception:  # noqa: BLE001 (any Redis failure: show what the database knows)
        status = None
    if status is not None:
        org_used = status.org_used if status.org_used is not None else (latest.used if latest else None)
        allowance = status.allowance if status.allowance is not None else (latest.allowance if latest else None)
        return BudgetOverview(midnight, percent, status.our_calls, api_budget.share_of(allowance, percent), org_used,
                              allowance, status.paused_until, hours, True)
    allowance = latest.allowance if latest else None
    return BudgetOverview(midnight, percent, sum(calls.values()), api_budget.share_of(allowance, percent),
                          latest.used if latest else None, allowance, None, hours, False)
