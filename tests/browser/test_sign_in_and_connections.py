"""A person signs in through the sandbox's Microsoft page, sees their connections, connects
Salesforce through the sandbox's authorize page and signs out; every page is axe-clean."""

from __future__ import annotations

import re

from tests.browser.axe import assert_accessible


def test_landing_page_offers_microsoft_sign_in(page, web):
    page.goto("/")
    assert page.get_by_test_id("sign-in-microsoft").is_visible()
    assert_accessible(page)


def test_sign_in_connect_salesforce_and_sign_out(signed_in_page, web, demo_users):
    person = demo_users[0]
    page = signed_in_page(person["userPrincipalName"], start="/connections")
    assert page.url == f"{web.url}/connections"
    assert page.get_by_test_id("signed-in-as").inner_text() == person["displayName"]
    assert page.get_by_test_id("microsoft-state").get_attribute("data-state") == "connected"
    assert page.get_by_test_id("microsoft-account").inner_text() == person["userPrincipalName"]
    assert page.get_by_test_id("salesforce-state").get_attribute("data-state") == "not_connected"
    assert page.get_by_test_id("mailbox-status").get_attribute("data-status") == "active"
    assert_accessible(page)

    page.get_by_test_id("salesforce-connect").click()  # the demo org is the default choice
    page.wait_for_url(re.compile("^" + re.escape(web.salesforce) + "/services/oauth2/authorize"))
    assert_accessible(page)  # the sandbox's page too: a person uses it in `make run`
    page.locator(f'[data-testid="sf-login-user"][data-username="{person["salesforceUsername"]}"]').click()
    page.wait_for_url(f"{web.url}/connections")
    assert "Salesforce connected as" in page.locator(".notice-success").inner_text()
    assert page.get_by_test_id("salesforce-state").get_attribute("data-state") == "connected"
    assert page.get_by_test_id("salesforce-account").inner_text() == person["salesforceUsername"]
    assert_accessible(page)

    page.get_by_test_id("salesforce-disconnect").click()
    page.wait_for_url(f"{web.url}/connections")
    assert page.get_by_test_id("salesforce-state").get_attribute("data-state") == "disconnected"

    page.get_by_test_id("sign-out").click()
    page.wait_for_url(f"{web.url}/")
    assert page.get_by_test_id("sign-in-microsoft").is_visible()
    page.goto("/connections")  # signed out: back to Microsoft's sign-in page
    page.wait_for_url(re.compile("^" + re.escape(web.microsoft)))


def test_signing_in_from_the_landing_page_lands_on_the_home_page(signed_in_page, web, demo_users):
    page = signed_in_page(demo_users[1]["userPrincipalName"])
    assert page.url.startswith(f"{web.url}/history")  # Sync History is the home page
    assert page.get_by_test_id("signed-in-as").inner_text() == demo_users[1]["displayName"]


def test_a_failed_sign_in_explains_itself(page, web):
    response = page.goto("/auth/microsoft/callback?state=unknown&error=access_denied")
    assert response.status == 400
    assert "not started from this browser" in page.get_by_test_id("problem-message").inner_text()
    assert page.get_by_test_id("sign-in-again").is_visible()
    assert_accessible(page)
