"""Salesforce API usage, sampled from every response's Sforce-Limit-Info header."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from mailferry.db import BigId, Base, UTCDateTime, utcnow


class ApiUsageSample(Base):
    """The org's daily API usage at one moment, and how many calls were Mailferry's.

    `used`/`allowance` come from `Sforce-Limit-Info: api-usage=used/allowance` (the whole
    org's consumption); `our_calls` is what Mailferry made since the previous sample. The
    budget check reads the latest sample; the admin chart groups them by hour.
    """

    __tablename__ = "api_usage_samples"
    __table_args__ = (Index("ix_api_usage_samples_tenant_sampled_at", "tenant_id", "sampled_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    sampled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used: Mapped[int] = mapped_column(Integer)
    allowance: Mapped[int] = mapped_column(Integer)
    our_calls: Mapped[int] = mapped_column(Integer, default=0)
