"""The org is one locked store: concurrent writers over real HTTPS never break its rules."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from simple_salesforce import Salesforce

from mailferry.tls import https_session


def test_concurrent_upserts_of_one_key_make_exactly_one_task(salesforce_url, token, certs, simple_salesforce_client):
    def upsert(n: int) -> int:
        with https_session(certs.ca_cert) as session:
            client = Salesforce(instance_url=salesforce_url, session_id=token, session=session)
            return client.Task.upsert("Mailferry_Key__c/same-message", {"Subject": f"try {n}"})

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(upsert, range(12)))
    assert statuses.count(201) == 1 and statuses.count(200) == 11
    assert simple_salesforce_client.query("SELECT COUNT() FROM Task WHERE Mailferry_Key__c = 'same-message'")["totalSize"] == 1
    usage = simple_salesforce_client.query("SELECT COUNT() FROM Task")  # every call was counted once
    assert simple_salesforce_client.api_usage["api-usage"].used == 12 + 2
    assert usage["totalSize"] == 1
