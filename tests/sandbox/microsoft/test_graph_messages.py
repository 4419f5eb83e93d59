"""Graph v1.0 users, mail folders and messages (reference §1.1–§1.5, §1.11)."""

from __future__ import annotations

import time

import jwt

from tests.sandbox.microsoft.graph_calls import assert_graph_error
from tests.sandbox.microsoft.tenant import ALICE, BOB, INBOX_COUNT, TENANT, bearer_session, sign_in


def test_well_known_folder_names_resolve_to_real_folder_ids(graph_session):
    session, base = graph_session
    folders = session.get(f"{base}/users/{ALICE.upn}/mailFolders").json()["value"]
    names = {f["displayName"]: f for f in folders}
    assert {"Inbox", "Sent Items", "Deleted Items"} <= set(names)
    for name, display in (("inbox", "Inbox"), ("SentItems", "Sent Items"), ("deleteditems", "Deleted Items")):
        folder = session.get(f"{base}/users/{ALICE.oid}/mailFolders/{name}").json()
        assert folder["id"] == names[display]["id"] and folder["id"] != name
    inbox = session.get(f"{base}/users/{ALICE.upn}/mailFolders('Inbox')").json()
    assert inbox["totalItemCount"] == INBOX_COUNT and inbox["unreadItemCount"] == INBOX_COUNT // 2


def test_list_defaults_to_ten_newest_with_an_absolute_next_link(graph_session, microsoft_url):
    session, base = graph_session
    first = session.get(f"{base}/users/{ALICE.upn}/mailFolders/inbox/messages")
    assert first.status_code == 200 and first.headers["Content-Type"].startswith("application/json")
    body = first.json()
    assert body["@odata.context"].startswith(f"{microsoft_url}/v1.0/$metadata#users('{ALICE.oid}')/mailFolders(")
    assert len(body["value"]) == 10
    dates = [m["receivedDateTime"] for m in body["value"]]
    assert dates == sorted(dates, reverse=True)
    assert body["@odata.nextLink"].startswith(f"{microsoft_url}/v1.0/")
    second = session.get(body["@odata.nextLink"]).json()
    assert len(second["value"]) == INBOX_COUNT - 10 and "@odata.nextLink" not in second
    ids = [m["id"] for m in body["value"] + second["value"]]
    assert len(set(ids)) == INBOX_COUNT


def test_select_projects_properties_and_always_keeps_id_and_etag(graph_session):
    session, base = graph_session
    body = session.get(f"{base}/users/{ALICE.upn}/messages", params={"$select": "subject,from", "$top": "2"}).json()
    assert body["@odata.context"].endswith("/messages(subject,from)")
    for message in body["value"]:
        assert set(message) == {"@odata.etag", "id", "subject", "from"}
        assert message["@odata.etag"].startswith('W/"')


def test_select_of_an_unknown_property_is_a_400(graph_session):
    session, base = graph_session
    answer = session.get(f"{base}/users/{ALICE.upn}/messages", params={"$select": "subject,nonsense"})
    assert_graph_error(answer, 400, "RequestBroker--ParseUri")


def test_top_and_filter_on_received_date_time_with_next_link_keeping_options(graph_session):
    session, base = graph_session
    params = {"$filter": "receivedDateTime ge 2026-11-10T00:00:00Z", "$orderby": "receivedDateTime asc",
              "$top": "3", "$select": "receivedDateTime"}
    body = session.get(f"{base}/users/{ALICE.upn}/mailFolders/inbox/messages", params=params).json()
    seen = []
    while True:
        seen += [m["receivedDateTime"] for m in body["value"]]
        if "@odata.nextLink" not in body:
            break
        assert "%24filter" in body["@odata.nextLink"] or "$filter" in body["@odata.nextLink"]
        body = session.get(body["@odata.nextLink"]).json()
    assert seen == sorted(seen) and len(seen) == 6 and seen[0] == "2026-11-10T09:00:00Z"


def test_filter_on_categories_and_is_read(graph_session):
    session, base = graph_session
    crm = session.get(f"{base}/users/{ALICE.upn}/messages",
                      params={"$filter": "categories/any(c:c eq 'CRM')"}).json()["value"]
    assert len(crm) == 3 and all("CRM" in m["categories"] for m in crm)
    unread = session.get(f"{base}/users/{ALICE.upn}/mailFolders/inbox/messages",
                         params={"$filter": "isRead eq false", "$top": "50"}).json()["value"]
    assert len(unread) == INBOX_COUNT // 2 and not any(m["isRead"] for m in unread)


def test_unsupported_filter_is_error_invalid_url_query_filter(graph_session):
    session, base = graph_session
    answer = session.get(f"{base}/users/{ALICE.upn}/messages", params={"$filter": "startswith(subject,'Q')"})
    assert_graph_error(answer, 400, "ErrorInvalidUrlQueryFilter")


def test_orderby_not_leading_the_filter_is_inefficient_filter(graph_session):
    session, base = graph_session
    answer = session.get(f"{base}/users/{ALICE.upn}/messages", params={
        "$filter": "isRead eq false and receivedDateTime ge 2026-11-01T00:00:00Z", "$orderby": "receivedDateTime desc"})
    assert_graph_error(answer, 400, "InefficientFilter")


def test_get_message_by_id_has_graph_shape_and_text_body_on_request(graph_session):
    session, base = graph_session
    listed = session.get(f"{base}/users/{ALICE.upn}/mailFolders/inbox/messages", params={"$top": "1"}).json()["value"][0]
    message = session.get(f"{base}/users/{ALICE.upn}/messages/{listed['id']}").json()
    assert message["body"]["contentType"] == "html" and "&lt;b&gt;" in message["body"]["content"]
    assert message["from"] == {"emailAddress": {"name": "Carol Customer", "address": "carol@customer.example"}}
    assert message["sender"] == message["from"]
    assert message["toRecipients"][0]["emailAddress"]["address"] == ALICE.upn
    assert message["internetMessageId"] == "<quote-14@customer.example>"
    assert message["isDraft"] is False and message["hasAttachments"] is False
    assert message["@odata.etag"] == f'W/"{message["changeKey"]}"'
    inbox = session.get(f"{base}/users/{ALICE.upn}/mailFolders/inbox").json()
    assert message["parentFolderId"] == inbox["id"]
    text = session.get(f"{base}/users/{ALICE.upn}/messages/{listed['id']}",
                       headers={"Prefer": 'outlook.body-content-type="text"'})
    assert text.json()["body"] == {"contentType": "text", "content": "Hello Alice,\nquote number 14 attached.\n<b>not html</b>"}
    assert text.headers["Preference-Applied"] == 'outlook.body-content-type="text"'


def test_messages_of_one_thread_share_a_conversation_id(graph_session):
    session, base = graph_session
    messages = session.get(f"{base}/users/{ALICE.upn}/mailFolders/inbox/messages", params={"$top": "50"}).json()["value"]
    by_subject = {m["subject"]: m["conversationId"] for m in messages}
    assert by_subject["Quote 0"] == by_subject["Quote 2"] != by_subject["Quote 3"]


def test_message_without_sender_has_null_from(graph_session):
    session, base = graph_session
    message = session.get(f"{base}/users/{BOB.upn}/messages").json()["value"][0]
    assert message["from"] is None and message["sender"] is None and message["bodyPreview"] == ""


def test_unknown_and_malformed_message_ids(graph_session):
    session, base = graph_session
    listed = session.get(f"{base}/users/{ALICE.upn}/messages", params={"$top": "1"}).json()["value"][0]
    missing = listed["id"][:-6] + "AAAAA="
    assert_graph_error(session.get(f"{base}/users/{ALICE.upn}/messages/{missing}"), 404, "ErrorItemNotFound")
    assert_graph_error(session.get(f"{base}/users/{ALICE.upn}/messages/not-an-id"), 400, "ErrorInvalidIdMalformed")
    assert_graph_error(session.get(f"{base}/users/nobody@contoso-test.com/messages"), 404, "ErrorInvalidUser")


def test_me_is_refused_for_app_tokens(graph_session):
    session, base = graph_session
    error = assert_graph_error(session.get(f"{base}/me/messages"), 400, "BadRequest")
    assert error["message"] == "/me request is only valid with delegated authentication flow."


def test_delegated_token_reads_own_mailbox_through_me_but_not_others(microsoft_url, certs, alice_token):
    with bearer_session(certs, alice_token) as session:
        me = session.get(f"{microsoft_url}/v1.0/me").json()
        assert me["id"] == ALICE.oid and me["userPrincipalName"] == ALICE.upn
        own = session.get(f"{microsoft_url}/v1.0/me/mailFolders/inbox/messages").json()["value"]
        assert len(own) == 10
        assert_graph_error(session.get(f"{microsoft_url}/v1.0/users/{BOB.upn}/messages"), 403, "ErrorAccessDenied")


def test_missing_scope_is_access_denied(microsoft_url, certs, client_session):
    _, result = sign_in(microsoft_url, client_session, scopes=("User.Read",))
    with bearer_session(certs, result["access_token"]) as session:
        assert_graph_error(session.get(f"{microsoft_url}/v1.0/me/messages"), 403, "ErrorAccessDenied")


def test_missing_expired_and_foreign_tokens_are_invalid_authentication_token(microsoft_url, client_session, microsoft_state):
    url = f"{microsoft_url}/v1.0/users/{ALICE.upn}/messages"
    answer = client_session.get(url)
    error = assert_graph_error(answer, 401, "InvalidAuthenticationToken")
    assert error["message"] == "Access token is empty."
    assert answer.headers["WWW-Authenticate"].startswith('Bearer realm=""')
    now = int(time.time())
    expired = microsoft_state.key.mint({"aud": "https://graph.microsoft.com", "tid": TENANT, "roles": ["Mail.Read"],
                                      "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600, "appid": "x"})
    answer = client_session.get(url, headers={"Authorization": f"Bearer {expired}"})
    assert assert_graph_error(answer, 401, "InvalidAuthenticationToken")["message"].startswith("Lifetime validation failed")
    forged = jwt.encode({"aud": "https://graph.microsoft.com", "tid": TENANT, "exp": now + 600, "roles": ["Mail.Read"]},
                        "not-the-sandbox-key-but-long-enough-for-hs256", algorithm="HS256")
    answer = client_session.get(url, headers={"Authorization": f"Bearer {forged}"})
    assert_graph_error(answer, 401, "InvalidAuthenticationToken")


def test_unknown_graph_segment_is_bad_request(graph_session):
    session, base = graph_session
    error = assert_graph_error(session.get(f"{base}/users/{ALICE.upn}/contacts"), 400, "BadRequest")
    assert "contacts" in error["message"]


def test_patch_categories_replaces_the_list_and_bumps_the_change_key(graph_session):
    session, base = graph_session
    message = session.get(f"{base}/users/{ALICE.upn}/messages", params={"$top": "1"}).json()["value"][0]
    answer = session.patch(f"{base}/users/{ALICE.upn}/messages/{message['id']}", json={"categories": ["CRM", "Red"]})
    assert answer.status_code == 200
    updated = answer.json()
    assert updated["categories"] == ["CRM", "Red"] and updated["changeKey"] != message["changeKey"]
    again = session.get(f"{base}/users/{ALICE.upn}/messages/{message['id']}").json()
    assert again["categories"] == ["CRM", "Red"]
    stale = session.patch(f"{base}/users/{ALICE.upn}/messages/{message['id']}", json={"categories": []},
                          headers={"If-Match": message["@odata.etag"]})
    assert_graph_error(stale, 412, "ErrorIrresolvableConflict")


def test_patch_of_read_only_or_unknown_properties_is_refused(graph_session):
    session, base = graph_session
    message = session.get(f"{base}/users/{ALICE.upn}/messages", params={"$top": "1"}).json()["value"][0]
    url = f"{base}/users/{ALICE.upn}/messages/{message['id']}"
    assert_graph_error(session.patch(url, json={"subject": "x"}), 400, "ErrorInvalidPropertyUpdateSentMessage")
    assert_graph_error(session.patch(url, json={"bogus": 1}), 400, "RequestBodyRead")
    assert_graph_error(session.patch(url, json={"categories": "CRM"}), 400, "RequestBodyRead")


def test_patch_needs_mail_read_write(microsoft_url, certs, client_session):
    _, result = sign_in(microsoft_url, client_session, scopes=("Mail.Read",))
    with bearer_session(certs, result["access_token"]) as session:
        message = session.get(f"{microsoft_url}/v1.0/me/messages", params={"$top": "1"}).json()["value"][0]
        answer = session.patch(f"{microsoft_url}/v1.0/me/messages/{message['id']}", json={"categories": ["CRM"]})
        assert_graph_error(answer, 403, "ErrorAccessDenied")


def test_master_categories_list_add_and_duplicate_conflict(graph_session, microsoft_url):
    session, base = graph_session
    url = f"{base}/users/{ALICE.upn}/outlook/masterCategories"
    listed = session.get(url).json()
    assert [c["displayName"] for c in listed["value"]] == ["CRM", "DoNotSync"]
    created = session.post(url, json={"displayName": "Mailferry", "color": "preset7"})
    assert created.status_code == 201
    assert set(created.json()) >= {"id", "displayName", "color"} and created.json()["color"] == "preset7"
    assert_graph_error(session.post(url, json={"displayName": "crm", "color": "preset1"}), 409, "nameAlreadyExists")
    assert_graph_error(session.post(url, json={"displayName": "X", "color": "purple"}), 400, "RequestBodyRead")
    one = session.get(f"{url}/{created.json()['id']}").json()
    assert one["displayName"] == "Mailferry"
    assert session.delete(f"{url}/{created.json()['id']}").status_code == 204
    assert len(session.get(url).json()["value"]) == 2


def test_key_segment_syntax_casing_and_aliases_address_the_same_resources(graph_session):
    session, base = graph_session
    plain = session.get(f"{base}/users/{ALICE.upn}/mailFolders/inbox/messages", params={"$top": "3"}).json()["value"]
    for path in (f"/users/{ALICE.oid}/mailFolders('Inbox')/messages", f"/Users/{ALICE.upn}/MailFolders/INBOX/Messages",
                 "/users/A.Archer@contoso-test.com/mailfolders/inbox/messages"):
        answer = session.get(base + path, params={"$top": "3"})
        assert answer.status_code == 200, path
        assert [m["id"] for m in answer.json()["value"]] == [m["id"] for m in plain]


def test_top_out_of_range_is_a_400(graph_session):
    session, base = graph_session
    for top in ("0", "1001", "ten"):
        assert_graph_error(session.get(f"{base}/users/{ALICE.upn}/messages", params={"$top": top}), 400, "BadRequest")


def test_responses_carry_request_ids_and_echo_the_client_request_id(graph_session):
    session, base = graph_session
    answer = session.get(f"{base}/users/{ALICE.upn}/mailFolders", headers={"client-request-id": "abc-123"})
    assert answer.headers["client-request-id"] == "abc-123" and answer.headers["request-id"]
    error = session.get(f"{base}/users/{ALICE.upn}/messages/bad", headers={"client-request-id": "abc-456"})
    assert error.json()["error"]["innerError"]["client-request-id"] == "abc-456"


def test_immutable_id_preference_is_accepted_and_acknowledged(graph_session):
    session, base = graph_session
    answer = session.get(f"{base}/users/{ALICE.upn}/messages", headers={"Prefer": 'IdType="ImmutableId"'})
    assert answer.status_code == 200 and answer.headers["Preference-Applied"] == 'IdType="ImmutableId"'


def test_browser_preflight_needs_no_token_and_answers_allow_origin(microsoft_url, client_session, alice_token):
    origin = {"Origin": "https://localhost:3000"}
    preflight = client_session.options(f"{microsoft_url}/v1.0/me/messages", headers={
        **origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://localhost:3000"
    assert preflight.headers["Access-Control-Allow-Headers"] == "authorization"
    answer = client_session.get(f"{microsoft_url}/v1.0/me", headers={**origin, "Authorization": f"Bearer {alice_token}"})
    assert answer.status_code == 200 and answer.headers["Access-Control-Allow-Origin"] == "https://localhost:3000"


def test_mailbox_settings_show_the_users_time_zone(graph_session):
    session, base = graph_session
    settings = session.get(f"{base}/users/{ALICE.upn}/mailboxSettings").json()
    assert settings["timeZone"] == ALICE.time_zone and settings["language"]["locale"]
