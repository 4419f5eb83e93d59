"""The tenancy rules as pure functions (mailferry/tenancy_policy.py): which tenants may sign
in under MAILFERRY_ALLOWED_TENANTS and MICROSOFT_TENANT, in production and the demo, and
which Salesforce org a tenant may connect under MAILFERRY_SALESFORCE_ORG_IDS or its admin's pin."""

from __future__ import annotations

import dataclasses

import pytest

from mailferry.tenancy_policy import OrgPin, org_pin, org_refusal, sign_in_refusal
from tests.config_fixtures import DEMO

TID = "7d3f1a2b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"
OTHER = "0f0f0f0f-1111-4222-8333-444444444444"
ORG = "00D5g000004SfdlEAC"
OTHER_ORG = "00D000000000001"


def _config(environment="demo", tenant="organizations", allowed=(), pins=()):
    return dataclasses.replace(DEMO, environment=environment, microsoft_tenant=tenant, allowed_tenants=allowed,
                               salesforce_org_ids=pins)


@pytest.mark.parametrize("environment", ["demo", "production"])
def test_a_star_admits_any_tenant(environment):
    assert sign_in_refusal(_config(environment, allowed=("*",)), OTHER, "x@elsewhere.example") is None


def test_a_list_admits_its_tenants_by_id_or_user_name_domain_only():
    config = _config("production", allowed=(TID, "contoso.example"))
    assert sign_in_refusal(config, TID, "a@anything.example") is None
    assert sign_in_refusal(config, OTHER, "a@Contoso.example") is None
    refusal = sign_in_refusal(config, OTHER, "a@fabrikam.example")
    assert OTHER in refusal and "MAILFERRY_ALLOWED_TENANTS" in refusal


def test_an_empty_list_in_production_admits_only_the_single_tenant_registrations_tenant():
    by_id = _config("production", tenant=TID)
    assert sign_in_refusal(by_id, TID, "a@contoso.example") is None
    assert "MICROSOFT_TENANT" in sign_in_refusal(by_id, OTHER, "a@contoso.example")
    by_domain = _config("production", tenant="contoso.example")
    assert sign_in_refusal(by_domain, TID, "a@contoso.example") is None
    assert sign_in_refusal(by_domain, TID, "a@fabrikam.example") is not None


def test_an_empty_list_admits_any_tenant_in_the_demo_and_none_for_production_multi_tenant():
    assert sign_in_refusal(_config("demo"), OTHER, "a@x.example") is None
    assert sign_in_refusal(_config("production"), TID, "a@x.example") is not None


def test_a_config_pin_naming_the_tenant_wins_over_a_star_and_the_admins_pin():
    config = _config(pins=(("*", OTHER_ORG), (TID, ORG[:15])))
    assert org_pin(config, TID, "contoso.example", "00D999999999999") == OrgPin(ORG[:15], "config")
    assert org_pin(config, OTHER, None, None) == OrgPin(OTHER_ORG, "config")
    by_domain = _config(pins=(("contoso.example", ORG[:15]),))
    assert org_pin(by_domain, OTHER, "contoso.example", None).org_id == ORG[:15]


def test_the_admins_pin_applies_without_config_and_no_pin_admits_any_org():
    assert org_pin(_config(), TID, None, ORG) == OrgPin(ORG[:15], "admin")
    assert org_pin(_config(), TID, None, None) == OrgPin(None)
    assert org_refusal(OrgPin(None), OTHER_ORG) is None


def test_orgs_are_compared_by_their_first_15_characters_and_a_refusal_names_both():
    pin = OrgPin(ORG[:15], "config")
    assert org_refusal(pin, ORG) is None and org_refusal(pin, ORG[:15]) is None
    refusal = org_refusal(pin, OTHER_ORG)
    assert OTHER_ORG in refusal and ORG[:15] in refusal and "MAILFERRY_SALESFORCE_ORG_IDS" in refusal
