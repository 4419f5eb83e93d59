"""What the sandbox org knows about its sObjects: fields, types, lengths, which are required,
createable or updateable, references and child relationships. Reference section 3 (Task,
TaskRelation, TaskWhoRelation, Contact, Lead) and 2.4 (external ID upsert)."""

from __future__ import annotations

from dataclasses import dataclass, field

EXTERNAL_ID_FIELD = "Mailferry_Key__c"


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # id, string, email, phone, url, textarea, picklist, combobox, boolean, date,
    #            datetime, reference, double, currency
    label: str = ""
    length: int = 0
    required: bool = False  # must be given on create (not nillable, no default)
    createable: bool = True
    updateable: bool = True
    reference_to: tuple[str, ...] = ()
    default: object = None
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    external_id: bool = False
    unique: bool = False

    @property
    def is_text(self) -> bool:
        return self.type in TEXT_TYPES

    @property
    def relationship_name(self) -> str | None:
        """`AccountId` → `Account`; custom lookups (`X__c`) would be `X__r`."""
        if self.type != "reference":
            return None
        if self.name.endswith("__c"):
            return self.name[:-3] + "__r"
        return self.name[:-2] if self.name.endswith("Id") else None


TEXT_TYPES = frozenset({"id", "string", "email", "phone", "url", "textarea", "picklist", "combobox", "reference"})


@dataclass(frozen=True)
class ChildRelationship:
    name: str  # e.g. "TaskWhoRelations"
    child: str  # e.g. "TaskWhoRelation"
    field: str  # the child's field pointing at the parent, e.g. "TaskId"


@dataclass
class SObject:
    name: str
    key_prefix: str
    label: str
    fields: dict[str, Field]
    children: dict[str, ChildRelationship] = field(default_factory=dict)
    createable: bool = True
    updateable: bool = True
    deletable: bool = True

    def field(self, name: str) -> Field | None:
        return self._by_lower.get(name.lower())

    def __post_init__(self) -> None:
        self._by_lower = {name.lower(): f for name, f in self.fields.items()}

    def relationship(self, name: str) -> Field | None:
        """The reference field behind a relationship name (`Account` → `AccountId`)."""
        return self._relationships.get(name.lower())

    def child(self, name: str) -> ChildRelationship | None:
        return self._children_lower.get(name.lower())

    def finish(self) -> "SObject":
        self._relationships = {
            f.relationship_name.lower(): f for f in self.fields.values() if f.relationship_name
        }
        self._children_lower = {name.lower(): c for name, c in self.children.items()}
        return self


def _f(name, type_, length=0, label="", **kw) -> Field:
    return Field(name=name, type=type_, length=length, label=label or _label(name), **kw)


def _label(name: str) -> str:
    out = ""
    for i, char in enumerate(name.removesuffix("__c")):
        if char.isupper() and i and not name[i - 1].isupper():
            out += " "
        out += char
    return out.replace("_", " ")


def _system_fields() -> list[Field]:
    ro = dict(createable=False, updateable=False)
    return [
        _f("Id", "id", 18, "Record ID", **ro),
        _f("IsDeleted", "boolean", label="Deleted", default=False, **ro),
        _f("CreatedDate", "datetime", **ro),
        _f("CreatedById", "reference", 18, reference_to=("User",), **ro),
        _f("LastModifiedDate", "datetime", **ro),
        _f("LastModifiedById", "reference", 18, reference_to=("User",), **ro),
        _f("SystemModstamp", "datetime", **ro),
    ]


def _object(name, prefix, label, fields, children=(), **kw) -> SObject:
    all_fields = {f.name: f for f in _system_fields() + list(fields)}
    return SObject(
        name=name, key_prefix=prefix, label=label, fields=all_fields,
        children={c.name: c for c in children}, **kw,
    ).finish()


_RO = dict(createable=False, updateable=False)
_OWNER = _f("OwnerId", "reference", 18, "Owner ID", reference_to=("User",))
WHO_TYPES = ("Contact", "Lead")
WHAT_TYPES = ("Account", "Opportunity", "Case")
TASK_STATUSES = ("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred")
TASK_SUBTYPES = ("Task", "Email", "ListEmail", "Cadence", "Call")


def build_schema(shared_activities: bool = True, external_id_field: bool = True) -> dict[str, SObject]:
    """The org's sObjects. Without Shared Activities TaskRelation and TaskWhoRelation do not
    exist (reference 3.2); without the external ID field Task has no `Mailferry_Key__c`."""
    task_children = []
    if shared_activities:
        task_children = [
            ChildRelationship("TaskRelations", "TaskRelation", "TaskId"),
            ChildRelationship("TaskWhoRelations", "TaskWhoRelation", "TaskId"),
        ]
    task_fields = [
        _f("Subject", "combobox", 255),
        _f("Description", "textarea", 32000, "Comments"),
        _f("ActivityDate", "date", label="Due Date Only"),
        _f("Status", "picklist", 40, default="Not Started", picklist=TASK_STATUSES),
        _f("Priority", "picklist", 40, default="Normal", picklist=("High", "Normal", "Low")),
        # Create-only and restricted (reference 3.1).
        _f("TaskSubtype", "picklist", 40, updateable=False, default="Task", picklist=TASK_SUBTYPES, restricted=True),
        _f("Type", "picklist", 40, picklist=("Call", "Email", "Meeting", "Other")),
        _f("WhoId", "reference", 18, "Name ID", reference_to=WHO_TYPES),
        _f("WhatId", "reference", 18, "Related To ID", reference_to=WHAT_TYPES),
        _OWNER,
        _f("AccountId", "reference", 18, "Account ID", reference_to=("Account",), **_RO),
        _f("IsClosed", "boolean", label="Closed", default=False, **_RO),
        _f("CompletedDateTime", "datetime", **_RO),
    ]
    if external_id_field:
        task_fields.append(_f(EXTERNAL_ID_FIELD, "string", 255, "Mailferry Key", external_id=True, unique=True))
    objects = [
        _object("User", "005", "User", [
            _f("Username", "string", 80, required=True),
            _f("Email", "email", 128, required=True),
            _f("FirstName", "string", 40),
            _f("LastName", "string", 80, required=True),
            _f("Name", "string", 121, "Full Name", **_RO),
            _f("Alias", "string", 8),
            _f("IsActive", "boolean", label="Active", default=True),
            _f("TimeZoneSidKey", "picklist", 40, "Time Zone", default="Europe/London"),
        ], createable=False, updateable=False, deletable=False),
        _object("Account", "001", "Account", [
            _f("Name", "string", 255, "Account Name", required=True),
            _f("Website", "url", 255),
            _f("Phone", "phone", 40),
            _f("Industry", "picklist", 255),
            _f("Type", "picklist", 255, "Account Type"),
            _f("Description", "textarea", 32000),
            _OWNER,
        ], [
            ChildRelationship("Contacts", "Contact", "AccountId"),
            ChildRelationship("Opportunities", "Opportunity", "AccountId"),
            ChildRelationship("Cases", "Case", "AccountId"),
            ChildRelationship("Tasks", "Task", "WhatId"),
        ]),
        _object("Contact", "003", "Contact", [
            _f("FirstName", "string", 40),
            _f("LastName", "string", 80, required=True),
            _f("Name", "string", 121, "Full Name", **_RO),
            _f("Email", "email", 80),
            _f("Phone", "phone", 40, "Business Phone"),
            _f("Title", "string", 128),
            _f("AccountId", "reference", 18, "Account ID", reference_to=("Account",)),
            _f("HasOptedOutOfEmail", "boolean", label="Email Opt Out", default=False),
            _f("Description", "textarea", 32000),
            _OWNER,
        ], [ChildRelationship("Tasks", "Task", "WhoId"), ChildRelationship("Cases", "Case", "ContactId")]),
        _object("Lead", "00Q", "Lead", [
            _f("FirstName", "string", 40),
            _f("LastName", "string", 80, required=True),
            _f("Name", "string", 121, "Full Name", **_RO),
            _f("Company", "string", 255, required=True),
            _f("Email", "email", 80),
            _f("Phone", "phone", 40),
            _f("Title", "string", 128),
            _f("Status", "picklist", 40, "Lead Status", default="Open - Not Contacted",
               picklist=("Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted")),
            _f("LeadSource", "picklist", 40),
            _f("Description", "textarea", 32000),
            _f("IsConverted", "boolean", label="Converted", default=False, **_RO),
            _f("ConvertedDate", "date", **_RO),
            _f("ConvertedContactId", "reference", 18, reference_to=("Contact",), **_RO),
            _f("ConvertedAccountId", "reference", 18, reference_to=("Account",), **_RO),
            _f("ConvertedOpportunityId", "reference", 18, reference_to=("Opportunity",), **_RO),
            _OWNER,
        ], [ChildRelationship("Tasks", "Task", "WhoId")]),
        _object("Opportunity", "006", "Opportunity", [
            _f("Name", "string", 120, required=True),
            _f("StageName", "picklist", 255, "Stage", required=True),
            _f("CloseDate", "date", required=True),
            _f("Amount", "currency"),
            _f("AccountId", "reference", 18, "Account ID", reference_to=("Account",)),
            _OWNER,
        ], [ChildRelationship("Tasks", "Task", "WhatId")]),
        _object("Case", "500", "Case", [
            _f("CaseNumber", "string", 30, **_RO),
            _f("Subject", "string", 255),
            _f("Status", "picklist", 40, default="New"),
            _f("Origin", "picklist", 40, "Case Origin"),
            _f("Priority", "picklist", 40, default="Medium"),
            _f("Description", "textarea", 32000),
            _f("ContactId", "reference", 18, "Contact ID", reference_to=("Contact",)),
            _f("AccountId", "reference", 18, "Account ID", reference_to=("Account",)),
            _OWNER,
        ], [ChildRelationship("Tasks", "Task", "WhatId")]),
        _object("Task", "00T", "Task", task_fields, task_children),
    ]
    if shared_activities:
        relation_common = [
            _f("TaskId", "reference", 18, "Task ID", reference_to=("Task",), required=True, updateable=False),
            _f("RelationId", "reference", 18, "Relation ID", reference_to=WHO_TYPES + WHAT_TYPES,
               required=True, updateable=False),
            _f("AccountId", "reference", 18, "Account ID", reference_to=("Account",), **_RO),
        ]
        objects.append(_object("TaskRelation", "0RT", "Task Relation", relation_common + [
            _f("IsWhat", "boolean", label="Is What", default=False, **_RO),
        ], updateable=False))
        # A read-only, filtered view of TaskRelation: contacts and leads only (reference 3.2).
        objects.append(_object("TaskWhoRelation", "0RT", "Task Who Relation", [
            _f(f.name, f.type, f.length, f.label, reference_to=f.reference_to, **_RO) for f in relation_common
        ] + [_f("Type", "string", 40, **_RO)], createable=False, updateable=False, deletable=False))
    return {o.name: o for o in objects}
