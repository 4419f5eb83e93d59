"""Property: whatever happens to a folder between and during delta pages, a client that merges
every round (upserts and @removed) holds exactly the folder's content once it has run the round
after the changes (reference §1.7: rounds, repeated ids, removals)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.microsoft import load_world

from tests.sandbox.microsoft.tenant import ALICE, make_world

OPERATIONS = st.lists(st.tuples(st.sampled_from(["create", "update", "delete", "move_out", "move_in"]),
                                st.integers(0, 50)), max_size=8)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=OPERATIONS, during=OPERATIONS, page_size=st.integers(1, 7))
def test_merged_delta_rounds_track_the_folder_exactly(graph_session, microsoft_url, client_session, microsoft_app, before, during, page_size):
    load_world(microsoft_app, make_world())
    session, base = graph_session
    control = f"{microsoft_url}/_sandbox/users/{ALICE.upn}/messages"
    prefer = {"Prefer": f"odata.maxpagesize={page_size}"}

    def folder_ids(name):
        listed = session.get(f"{base}/users/{ALICE.upn}/mailFolders/{name}/messages", params={"$top": "1000", "$select": "id"})
        return {m["id"] for m in listed.json()["value"]}

    def apply(operations):
        for op, n in operations:
            inbox, archive = sorted(folder_ids("inbox")), sorted(folder_ids("archive"))
            if op == "create":
                client_session.post(control, json={"to": [ALICE.upn], "subject": f"new {n}"}).raise_for_status()
            elif op == "update" and inbox:
                client_session.patch(f"{control}/{inbox[n % len(inbox)]}", json={"categories": [f"c{n}"]}).raise_for_status()
            elif op == "delete" and inbox:
                client_session.delete(f"{control}/{inbox[n % len(inbox)]}").raise_for_status()
            elif op == "move_out" and inbox:
                client_session.patch(f"{control}/{inbox[n % len(inbox)]}", json={"folder": "archive"}).raise_for_status()
            elif op == "move_in" and archive:
                client_session.patch(f"{control}/{archive[n % len(archive)]}", json={"folder": "inbox"}).raise_for_status()

    def merge_round(url, known, changes_midway=()):
        first = True
        while True:
            body = session.get(url, headers=prefer).json()
            for item in body["value"]:
                if "@removed" in item:
                    known.pop(item["id"], None)
                else:
                    known[item["id"]] = item
            if first:
                apply(changes_midway)  # changes while the client is paging
                first = False
            if "@odata.deltaLink" in body:
                return body["@odata.deltaLink"]
            url = body["@odata.nextLink"]

    known: dict[str, dict] = {}
    link = merge_round(f"{base}/users/{ALICE.upn}/mailFolders/inbox/messages/delta", known)
    assert set(known) == folder_ids("inbox")
    apply(before)
    link = merge_round(link, known, during)
    link = merge_round(link, known)  # picks up what changed during the previous round
    assert set(known) == folder_ids("inbox")
    current = {m["id"]: m["categories"] for m in session.get(
        f"{base}/users/{ALICE.upn}/mailFolders/inbox/messages", params={"$top": "1000"}).json()["value"]}
    assert {i: known[i]["categories"] for i in known} == current
