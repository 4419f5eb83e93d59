"""The connected apps the sandbox org knows: consumer key → consumer secret.

A real org signs every token response with the connected app's own consumer secret and
refuses a token call whose secret does not match it (`invalid_client`), whatever the caller
sends. So does the sandbox: it is a witness of the client's checks, never an accomplice that
signs with whatever secret it is handed.

The demo app (`SandboxSettings.salesforce_demo_app`: the product's demo credentials, handed
over by whoever starts the sandbox) is known from the start. The sandbox has no Setup
pages to create others, so a consumer key it has not seen is registered with the secret of
its first token call, and held to that secret from then on. Registrations last until the
world is reset (they are not kept across restarts; the demo app is built in).
"""

from __future__ import annotations

import hmac
import threading

from ..settings import AppCredentials


class UnknownSecret(Exception):
    """The token call's client_secret is not the connected app's."""


class ConnectedApps:
    def __init__(self, demo: AppCredentials) -> None:
        self._lock = threading.Lock()
        self._demo = demo
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._secrets: dict[str, str] = {self._demo.client_id: self._demo.client_secret}

    def secret_for(self, client_id: str, presented: str | None) -> str:
        """The app's consumer secret, to sign the answer with. A presented secret must match
        it (UnknownSecret otherwise); an absent one is allowed, as for an app whose
        "Require Secret for Refresh Token Flow" is off (reference 1.3, 1.5)."""
        with self._lock:
            known = self._secrets.get(client_id)
            if known is None:
                if not presented:
                    return ""  # nothing to learn yet; signed with an empty key, like the control API
                self._secrets[client_id] = known = presented
        if presented and not hmac.compare_digest(presented.encode(), known.encode()):
            raise UnknownSecret(client_id)
        return known
