"""The setup check: can this org take Mailferry's Tasks, and does it have Shared Activities?

One Composite call describes Task (is `Mailferry_Key__c` there, an External ID, unique, long
enough, writable?) and TaskRelation (it exists only with Shared Activities, reference 3.2).
Every problem comes with the exact fix, written for the Salesforce admin; the same words
are in docs/salesforce-setup.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from mailferry.allowances import task_key
from mailferry.provider_errors import ErrorKind, ProviderError
from worker.salesforce.batching import raise_for_subresponse
from worker.salesforce.errors import CREATE_FIELD, EXTERNAL_ID_FIELD, FIELD_LENGTH
from worker.salesforce.session import SalesforceSession

#: The key's length (`task_key` is always "mf1-" + 64 hex characters).
KEY_LENGTH = len(task_key(1, 1, "length-probe@mailferry"))

SHARED_ACTIVITIES_OFF = (
    "Shared Activities is off: each email is recorded on its first matched contact only "
    "(the others show 'single_who_org'). To relate an email to up to 50 contacts, turn it on in "
    "Setup → Activity Settings → 'Allow Users to Relate Multiple Contacts to Tasks and Events'."
)


@dataclass(frozen=True)
class SetupCheck:
    """What the org offers. `problems` are the fixes that block writing, in words for the admin."""

    external_id_field_ok: bool
    shared_activities: bool
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    key_field: dict | None = None  # the describe of Mailferry_Key__c, when present
    checked_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_if_unusable(self) -> None:
        """ProviderError(SETUP) with every fix, when Mailferry cannot write to this org."""
        if self.problems:
            raise ProviderError(ErrorKind.SETUP, "salesforce", " ".join(self.problems), code="SETUP_REQUIRED")


def check_setup(sf: SalesforceSession) -> SetupCheck:
    """Describe Task and TaskRelation in one call and say what is missing."""
    base = sf.data_path
    answers = sf.composite([
        {"method": "GET", "url": f"{base}sobjects/Task/describe", "referenceId": "task"},
        {"method": "GET", "url": f"{base}sobjects/TaskRelation/describe", "referenceId": "relation"},
    ])
    by_ref = {a.get("referenceId"): a for a in answers}
    task = by_ref.get("task") or {}
    raise_for_subresponse(task)
    shared = int((by_ref.get("relation") or {}).get("httpStatusCode") or 0) == 200
    fields = {f.get("name", "").lower(): f for f in (task.get("body") or {}).get("fields") or []}
    key_field = fields.get(EXTERNAL_ID_FIELD.lower())
    problems = _key_field_problems(key_field)
    notes = () if shared else (SHARED_ACTIVITIES_OFF,)
    return SetupCheck(external_id_field_ok=not problems, shared_activities=shared, problems=tuple(problems),
                      notes=notes, key_field=dict(key_field) if key_field else None)


def _key_field_problems(described: dict | None) -> list[str]:
    if described is None:
        return [f"The Task field {EXTERNAL_ID_FIELD} is missing (or hidden from the connected user). {CREATE_FIELD}"]
    problems = []
    if described.get("type") != "string":
        problems.append(f"{EXTERNAL_ID_FIELD} must be a Text field, not {described.get('type')}.")
    if not described.get("externalId"):
        problems.append(f"{EXTERNAL_ID_FIELD} is not marked 'External ID': edit the field and tick it.")
    if not described.get("unique"):
        problems.append(f"{EXTERNAL_ID_FIELD} is not marked 'Unique': edit the field and tick it, so a retry "
                        "can never create a second Task.")
    if int(described.get("length") or 0) < KEY_LENGTH:
        problems.append(f"{EXTERNAL_ID_FIELD} holds {described.get('length')} characters; it needs at least "
                        f"{KEY_LENGTH} (make it Text({FIELD_LENGTH})).")
    if not (described.get("createable") and described.get("updateable")):
        problems.append(f"The connected user cannot edit {EXTERNAL_ID_FIELD}: give their profile or a permission "
                        "set Edit access to it (field-level security).")
    return problems
