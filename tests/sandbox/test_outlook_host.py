"""The simulated Outlook's pages over HTTPS: the host page, its scripts, the Office.js stand-in,
and the rule that only the sandbox's own pages may call the host's routes."""

from __future__ import annotations

from urllib.parse import quote


def first_user(session, url) -> str:
    return session.get(f"{url}/_sandbox/users").json()["users"][0]["userPrincipalName"]


def test_host_page_without_a_user_offers_the_tenants_users_keeping_the_manifest(demo_microsoft_url, client_session):
    manifest = "https://localhost:4444/addin/manifest.xml?v=2"
    page = client_session.get(f"{demo_microsoft_url}/outlook", params={"manifest": manifest})
    assert page.status_code == 200
    assert 'data-testid="user-picker"' in page.text
    upn = first_user(client_session, demo_microsoft_url)
    assert f"user={quote(upn)}" in page.text
    assert quote(manifest, safe="") in page.text


def test_host_page_for_a_user_names_the_default_manifest_and_frames_only_its_origin(demo_microsoft_url, client_session, sandbox_settings):
    upn = first_user(client_session, demo_microsoft_url)
    page = client_session.get(f"{demo_microsoft_url}/outlook", params={"user": upn, "naa": "off", "token": "forged"})
    assert page.status_code == 200
    assert f'data-manifest="{sandbox_settings.product_url}/addin/manifest.xml"' in page.text
    assert 'data-naa="off"' in page.text and 'data-token-mode="forged"' in page.text
    for testid in ("message-list", "reading-pane", "notification-bar", "taskpane", "pin-taskpane", "manifest-error"):
        assert f'data-testid="{testid}"' in page.text
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and f"frame-src {sandbox_settings.product_url};" in csp
    assert "<script>" not in page.text  # no inline script: everything is in static files


def test_host_page_refuses_to_frame_anything_for_a_non_https_manifest(demo_microsoft_url, client_session):
    upn = first_user(client_session, demo_microsoft_url)
    page = client_session.get(f"{demo_microsoft_url}/outlook", params={"user": upn, "manifest": "http://example.test/m.xml"})
    assert "frame-src 'none'" in page.headers["Content-Security-Policy"]
    assert 'data-manifest-origin=""' in page.text


def test_office_js_is_a_cacheable_classic_script_any_origin_may_load(demo_microsoft_url, client_session):
    script = client_session.get(f"{demo_microsoft_url}/outlook/office.js", headers={"Origin": "https://localhost:3000"})
    assert script.status_code == 200
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert script.headers["Access-Control-Allow-Origin"] == "*"
    assert "public" in script.headers["Cache-Control"] and "max-age" in script.headers["Cache-Control"]
    assert "window.Office = Office" in script.text and "export " not in script.text
    assert "window.nestedAppAuthBridge" in script.text


def test_host_scripts_are_served_as_modules(demo_microsoft_url, client_session):
    for name in ("main.js", "manifest.js", "frames.js", "office_calls.js"):
        response = client_session.get(f"{demo_microsoft_url}/outlook/static/host/{name}")
        assert response.status_code == 200, name
        assert response.headers["Content-Type"].startswith("text/javascript")


def test_host_routes_refuse_browsers_calling_from_another_origin(demo_microsoft_url, client_session):
    upn = first_user(client_session, demo_microsoft_url)
    route = f"{demo_microsoft_url}/outlook/api/users/{upn}/mailbox"
    assert client_session.get(route).status_code == 200
    assert client_session.get(route, headers={"Origin": "https://localhost:3000"}).status_code == 403
    assert client_session.get(route, headers={"Sec-Fetch-Site": "same-site"}).status_code == 403
    assert client_session.get(route, headers={"Origin": demo_microsoft_url, "Sec-Fetch-Site": "same-origin"}).status_code == 200


def test_mailbox_lists_inbox_and_sent_items_newest_first(demo_microsoft_url, client_session):
    upn = first_user(client_session, demo_microsoft_url)
    folders = client_session.get(f"{demo_microsoft_url}/outlook/api/users/{upn}/mailbox").json()["folders"]
    assert set(folders) == {"inbox", "sentitems"}
    received = [m["received"] for m in folders["inbox"]["messages"]]
    assert received == sorted(received, reverse=True) and received


def test_an_item_has_office_js_read_mode_shapes(demo_microsoft_url, client_session):
    upn = first_user(client_session, demo_microsoft_url)
    base = f"{demo_microsoft_url}/outlook/api/users/{upn}"
    row = client_session.get(f"{base}/mailbox").json()["folders"]["inbox"]["messages"][0]
    item = client_session.get(f"{base}/messages/{row['id']}").json()["item"]
    assert item["itemId"] == row["id"] and item["itemType"] == "message"
    assert item["internetMessageId"] == row["internetMessageId"]
    assert set(item["from"]) == {"displayName", "emailAddress", "recipientType"}
    assert item["from"]["recipientType"] in ("user", "externalUser")
    assert all(set(r) == {"displayName", "emailAddress", "recipientType"} for r in item["to"] + item["cc"])
    assert item["dateTimeCreated"].endswith("Z") and item["conversationId"]
