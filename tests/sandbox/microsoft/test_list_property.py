"""Property: listing a folder with a receivedDateTime filter, an order and any page size, and
following every @odata.nextLink, returns exactly the matching messages in order (§1.4)."""

from __future__ import annotations

import datetime as dt
import operator

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.sandbox.microsoft.tenant import ALICE, INBOX_COUNT, START

OPS = {"eq": operator.eq, "ne": operator.ne, "gt": operator.gt, "ge": operator.ge, "lt": operator.lt, "le": operator.le}
INBOX_DATES = [START + dt.timedelta(days=n) for n in range(INBOX_COUNT)]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(op=st.sampled_from(sorted(OPS)), offset_hours=st.integers(-48, 24 * 16).map(lambda h: h - h % 12),
       descending=st.booleans(), top=st.integers(1, 7))
def test_filtered_ordered_pages_return_exactly_the_matching_messages(graph_session, op, offset_hours, descending, top):
    session, base = graph_session
    moment = START + dt.timedelta(hours=offset_hours)
    params = {"$filter": f"receivedDateTime {op} {moment:%Y-%m-%dT%H:%M:%SZ}",
              "$orderby": f"receivedDateTime {'desc' if descending else 'asc'}",
              "$top": str(top), "$select": "receivedDateTime"}
    url, seen = f"{base}/users/{ALICE.upn}/mailFolders/inbox/messages", []
    while url:
        body = session.get(url, params=params).json()
        assert len(body["value"]) <= top
        seen += [m["receivedDateTime"] for m in body["value"]]
        url, params = body.get("@odata.nextLink"), None
    expected = sorted((d for d in INBOX_DATES if OPS[op](d, moment)), reverse=descending)
    assert seen == [f"{d:%Y-%m-%dT%H:%M:%SZ}" for d in expected]
