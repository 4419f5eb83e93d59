"""What a sandbox server needs to know about where it and its sibling run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AppCredentials:
    """An app the sandbox tenant or org knows from the start: its client id (a Salesforce
    consumer key) and secret."""

    client_id: str
    client_secret: str


@dataclass(frozen=True)
class SandboxSettings:
    # The demo's Microsoft app registration and Salesforce connected app. They are the
    # product's (its demo defaults, or what its environment sets): whoever starts the sandbox
    # copies them from the product's configuration (`cli.processes.sandbox_settings`, the
    # test fixtures), so they are written in one place and the sandbox imports nothing.
    microsoft_demo_app: AppCredentials
    salesforce_demo_app: AppCredentials
    # Public base URLs (scheme, host and port) under which each sandbox server is reached;
    # they appear in issuers, instance URLs, nextLinks and Lightning links.
    microsoft_url: str = "https://localhost:3001"
    salesforce_url: str = "https://localhost:3002"
    # Where Mailferry's web app runs: the simulated Outlook loads the add-in's manifest from
    # `<product_url>/addin/manifest.xml` unless its page is given another (`?manifest=`).
    product_url: str = "https://localhost:3000"
    # The demo seed: same number, same world (users, mail, contacts, leads).
    seed: int = 1
    # "USERSxMESSAGES", e.g. "100x1000", for benchmarks; None for the demo size.
    scale: str | None = None
    # CA bundle the sandbox trusts when it calls out (Graph change notifications to the
    # subscriber's HTTPS endpoint).
    ca_file: str | None = None
    # Where each server keeps its world across restarts (`sandbox.persistence`); None: in
    # memory only, a fresh world at every start (tests).
    state_dir: str | None = None
