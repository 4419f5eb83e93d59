"""What the add-in API tests share besides fixtures: the API's scope and the Salesforce
instance of Alice's connection (`addin_world`)."""

from __future__ import annotations

from tests.config_fixtures import DEMO

#: Mailferry's API scope, as the add-in asks Nested App Authentication for it.
API_SCOPE = f"api://localhost:3000/{DEMO.microsoft_client_id}/access_as_user"
INSTANCE = "https://acme.my.salesforce.example"
