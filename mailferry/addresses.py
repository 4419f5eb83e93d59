"""Email addresses as Mailferry compares them: parsing, canonical form, domains, list entries.

Pure functions, no I/O. Nothing here raises on bad input: an address that cannot be parsed
comes back as a `ParsedAddress` whose `error` says why, because one hostile header must never
break a batch (SPEC section 9).

The canonical form is what every comparison uses (SPEC section 2: case-insensitive after
trimming):

- surrounding whitespace, `<...>` and a `mailto:` prefix are removed;
- invisible format characters (zero-width spaces and joiners, bidi marks and overrides,
  Unicode category Cf) are removed everywhere: they are never meaningful in an address, and
  leaving them in would let `bob@evil\u200b.com` slip past a Global Exclusion entry;
- the local part is lower-cased; a quoted local part whose content needs no quotes is
  unquoted (`"jane"@x.com` is `jane@x.com`, RFC 5322), otherwise it keeps minimal quoting
  (only `"` and `\\` escaped);
- the domain is converted to its ASCII (IDNA 2008 / UTS 46) form, lower-case, without a
  trailing dot: `Jane@BÜCHER.example` and `jane@xn--bcher-kva.example` are one address.
  Salesforce stores ASCII email fields, so the ASCII form is also what lookups send.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Literal

import idna

#: RFC 5321: a local part is at most 64 octets, a forward path 256 including the brackets.
MAX_LOCAL_OCTETS = 64
MAX_ADDRESS_OCTETS = 254
MAX_DOMAIN_OCTETS = 253
MAX_LABEL_OCTETS = 63

# RFC 5322 atext, the characters of an unquoted local part (non-ASCII is allowed by RFC 6531
# and checked separately).
_ATEXT = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~")
NEEDS_A_DOT = "the domain needs a dot (e.g. example.com)"
_LDH_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def strip_invisible(text: str) -> str:
    """`text` without Unicode format characters (zero-width, bidi marks and overrides)."""
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in text)


# --- domains -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DomainCheck:
    """A domain in canonical ASCII form, or the reason it is not a valid domain."""

    domain: str | None
    error: str | None = None


def check_domain(raw: str | None) -> DomainCheck:
    """Canonicalise a host name (IDNA to ASCII, lower case, no trailing dot) or say why not."""
    if not isinstance(raw, str):
        return DomainCheck(None, "no domain")
    return _check_domain(raw)


# Memoised: the same few domains and addresses recur across a mailbox's emails, and IDNA
# conversion is the costly step. The results are immutable, so sharing them is safe.
@lru_cache(maxsize=16_384)
def _check_domain(raw: str) -> DomainCheck:
    text = strip_invisible(raw).strip().rstrip(".")
    if not text:
        return DomainCheck(None, "no domain")
    if text.startswith("[") or re.fullmatch(r"[0-9.]+", text):
        return DomainCheck(None, "IP-address domains are not supported")
    if _has_control(text) or any(ch.isspace() for ch in text):
        return DomainCheck(None, "the domain contains spaces or control characters")
    if text.isascii():
        ascii_domain = text.lower()
    else:
        try:
            ascii_domain = idna.encode(text, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError):
            return DomainCheck(None, "the internationalised domain is not valid (IDNA)")
    if len(ascii_domain) > MAX_DOMAIN_OCTETS:
        return DomainCheck(None, f"the domain is longer than {MAX_DOMAIN_OCTETS} characters")
    labels = ascii_domain.split(".")
    for label in labels:
        if not label:
            return DomainCheck(None, "the domain has an empty label (two dots in a row)")
        if not _LDH_LABEL.match(label):
            return DomainCheck(
                None, f"the domain label “{label[:40]}” may only hold letters, digits and inner hyphens"
            )
    if len(labels) < 2:
        return DomainCheck(None, NEEDS_A_DOT)
    if labels[-1].isdigit():
        return DomainCheck(None, "the top-level domain cannot be numeric")
    return DomainCheck(ascii_domain)


def normalise_domain(raw: str | None) -> str | None:
    """The canonical ASCII form of a domain, or None when it is not a valid domain."""
    return check_domain(raw).domain


def domain_for_display(domain: str) -> str:
    """A canonical (ASCII) domain in Unicode for people to read; unchanged if not IDNA."""
    try:
        return idna.decode(domain)
    except (idna.IDNAError, UnicodeError, ValueError):
        return domain


def domain_matches(entry_domain: str, address_domain: str) -> bool:
    """True when a domain entry covers `address_domain`: the domain itself or a subdomain.

    `example.com` matches `example.com` and `eu.example.com`, never `badexample.com` (the
    comparison is label by label, not a string suffix). Both sides are canonicalised first;
    an invalid side matches nothing.
    """
    entry = normalise_domain(entry_domain)
    domain = normalise_domain(address_domain)
    if entry is None or domain is None:
        return False
    return domain == entry or domain.endswith("." + entry)


def _parent_domains(domain: str) -> Iterable[str]:
    """`a.b.example.com` → `a.b.example.com`, `b.example.com`, `example.com`, `com`."""
    labels = domain.split(".")
    for start in range(len(labels)):
        yield ".".join(labels[start:])


# --- addresses ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedAddress:
    """One address as given, and what Mailferry makes of it.

    `canonical` is set only for a valid address; `key` and `domain` are always set to a
    best-effort lower-cased form so that exclusion rules (which must err on the side of
    privacy) can still match an address that is not valid enough to look up.
    """

    original: str
    canonical: str | None
    key: str
    local: str | None
    domain: str | None
    error: str | None

    @property
    def valid(self) -> bool:
        return self.canonical is not None


def _lenient_key(text: str) -> tuple[str, str | None]:
    key = text.lower()
    if "@" not in key:
        return key, None
    domain_part = key.rsplit("@", 1)[1]
    return key, normalise_domain(domain_part) or domain_part.strip().rstrip(".") or None


def _is_dot_atom(text: str) -> bool:
    if not text or text.startswith(".") or text.endswith(".") or ".." in text:
        return False
    return all(ch in _ATEXT or ch == "." or (not ch.isascii() and ch.isprintable()) for ch in text)


def _unquote(quoted: str) -> tuple[str | None, str | None]:
    """The content of a quoted local part (`"..."` included), or an error."""
    content: list[str] = []
    index = 1
    while index < len(quoted) - 1:
        ch = quoted[index]
        if ch == "\\":
            index += 1
            if index >= len(quoted) - 1:
                return None, "a backslash ends the quoted local part"
            content.append(quoted[index])
        elif ch == '"':
            return None, "an unescaped quote inside the quoted local part"
        else:
            content.append(ch)
        index += 1
    text = "".join(content)
    if _has_control(text):
        return None, "the local part contains control characters"
    return text, None


def _split_at_domain(text: str) -> tuple[str, str] | None:
    """Split `local@domain`, honouring an `@` inside a quoted local part."""
    if text.startswith('"'):
        index = 1
        while index < len(text):
            if text[index] == "\\":
                index += 2
                continue
            if text[index] == '"':
                break
            index += 1
        rest = text[index + 1 :]
        if index >= len(text) or not rest.startswith("@"):
            return None
        return text[: index + 1], rest[1:]
    if "@" not in text:
        return None
    local, domain = text.rsplit("@", 1)
    return local, domain


def parse_address(raw: str | None) -> ParsedAddress:
    """Parse one address into its canonical form; an invalid one is reported, not raised."""
    return _parse_address(raw if isinstance(raw, str) else "")


@lru_cache(maxsize=65_536)
def _parse_address(original: str) -> ParsedAddress:
    text = strip_invisible(original).strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    if text.lower().startswith("mailto:"):
        text = text[len("mailto:") :].strip()
    key, lenient_domain = _lenient_key(text)

    def invalid(reason: str) -> ParsedAddress:
        return ParsedAddress(original, None, key, None, lenient_domain, reason)

    if not text:
        return invalid("empty address")
    if _has_control(text):
        return invalid("the address contains control characters")
    parts = _split_at_domain(text)
    if parts is None:
        return invalid("no @ separating the local part from the domain")
    local_raw, domain_raw = parts
    if not local_raw:
        return invalid("nothing before the @")
    if local_raw.startswith('"') and local_raw.endswith('"') and len(local_raw) >= 2:
        content, error = _unquote(local_raw)
        if error:
            return invalid(error)
        assert content is not None
        if _is_dot_atom(content):
            local = content.lower()
        else:
            escaped = content.lower().replace("\\", "\\\\").replace('"', '\\"')
            local = f'"{escaped}"'
    elif _is_dot_atom(local_raw):
        local = local_raw.lower()
    else:
        return invalid("the local part has characters that need quotes, or misplaced dots")
    if len(local.encode("utf-8")) > MAX_LOCAL_OCTETS:
        return invalid(f"the local part is longer than {MAX_LOCAL_OCTETS} octets")
    domain_check = check_domain(domain_raw)
    if domain_check.domain is None:
        return invalid(domain_check.error or "invalid domain")
    canonical = f"{local}@{domain_check.domain}"
    if len(canonical.encode("utf-8")) > MAX_ADDRESS_OCTETS:
        return invalid(f"the address is longer than {MAX_ADDRESS_OCTETS} octets")
    return ParsedAddress(original, canonical, canonical, local, domain_check.domain, None)


def normalise_address(raw: str | None) -> str | None:
    """The canonical form of a valid address, else None."""
    return parse_address(raw).canonical


def comparison_key(raw: str | None) -> str:
    """What two addresses are compared by: canonical when valid, else trimmed lower case."""
    return parse_address(raw).key


def same_address(first: str | None, second: str | None) -> bool:
    """True when two addresses are the same person's address (case-insensitive, IDNA-aware)."""
    a, b = parse_address(first), parse_address(second)
    return bool(a.key) and a.key == b.key


def domain_of(raw: str | None) -> str | None:
    """The canonical domain of an address (best effort for an invalid one), or None."""
    return parse_address(raw).domain


# --- Global Exclusion List / Ignore List entries -----------------------------------------

EntryKind = Literal["address", "domain"]
#: The longest text an entry is read from: an address (254) with room for spaces, `<…>`,
#: `mailto:` and invisible characters around it.
MAX_ENTRY_TEXT = 1_000


@dataclass(frozen=True)
class ListEntry:
    """One line of an Ignore List or the Global Exclusion List, in canonical form."""

    kind: EntryKind
    value: str


@dataclass(frozen=True)
class EntryCheck:
    """A validated entry, or the message explaining why the text is not one."""

    entry: ListEntry | None
    error: str | None = None


def check_list_entry(raw: str | None) -> EntryCheck:
    """Validate one entry: an address (`jane@example.com`) or a domain (`example.com`).

    Also accepted as domains, because people type them: `@example.com`, `*@example.com`,
    `*.example.com` and `.example.com` (a domain already covers its subdomains).
    Text longer than `MAX_ENTRY_TEXT` is refused before any parsing, so a pasted megabyte
    costs nothing.
    """
    if raw and len(raw) > MAX_ENTRY_TEXT:
        return EntryCheck(None, f"the entry is longer than {MAX_ENTRY_TEXT:,} characters "
                                f"(an address has at most {MAX_ADDRESS_OCTETS})")
    text = strip_invisible(raw or "").strip()
    shown = "“" + (text if len(text) <= 60 else text[:57] + "…") + "”"

    def refuse(message: str) -> EntryCheck:
        return EntryCheck(None, f"{shown} {message}")

    if not text:
        return EntryCheck(None, "the entry is empty")
    whole = parse_address(text)
    if whole.canonical is not None and not text.startswith("*@"):
        # Checked first: a quoted local part may legitimately hold spaces or commas.
        return EntryCheck(ListEntry("address", whole.canonical))
    if any(sep in text for sep in (",", ";")) or any(ch.isspace() for ch in text):
        return refuse("holds several values or spaces: put one address or domain per line")
    if re.match(r"^[a-z][a-z0-9+.-]*://", text, re.IGNORECASE) or "/" in text.split("@")[-1]:
        return refuse("looks like a web address: enter only the domain, e.g. example.com")
    for prefix in ("*@", "@", "*.", "."):
        if text.startswith(prefix) and "@" not in text[len(prefix) :]:
            text = text[len(prefix) :]
            break
    if "@" in text:
        parsed = parse_address(text)
        if parsed.canonical is None:
            return refuse(f"is not a valid address: {parsed.error}")
        return EntryCheck(ListEntry("address", parsed.canonical))
    if "*" in text:
        return refuse("has a wildcard: not needed, a domain already covers its subdomains")
    domain = check_domain(text)
    if domain.error == NEEDS_A_DOT:
        return refuse("is not a domain: a bare top-level domain or a single word would match too much (use e.g. example.com)")
    if domain.domain is None:
        return refuse(f"is not a valid domain: {domain.error}")
    return EntryCheck(ListEntry("domain", domain.domain))


@dataclass(frozen=True)
class LineError:
    """An invalid line of a pasted list, numbered from 1 as people count lines."""

    line_number: int
    text: str
    message: str


@dataclass(frozen=True)
class EntryLines:
    """The result of validating a pasted list: the entries kept and one error per bad line."""

    entries: tuple[ListEntry, ...]
    errors: tuple[LineError, ...]


def check_entry_lines(text: str | None) -> EntryLines:
    """Validate a list pasted one entry per line. Blank lines are skipped, repeats kept once."""
    entries: list[ListEntry] = []
    errors: list[LineError] = []
    seen: set[ListEntry] = set()
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not strip_invisible(line).strip():
            continue
        checked = check_list_entry(line)
        if checked.entry is None:
            errors.append(LineError(number, line.strip()[:200], checked.error or "invalid entry"))
        elif checked.entry not in seen:
            seen.add(checked.entry)
            entries.append(checked.entry)
    return EntryLines(tuple(entries), tuple(errors))


class EntryList:
    """A compiled list of entries that answers "does this address match any entry?" fast.

    Exact addresses sit in one set, domains in another; an address's domain is checked
    together with each of its parent domains, so a lookup costs one set probe per label
    rather than one comparison per entry (Global Exclusion Lists can be long).
    Invalid strings given to `of` are skipped: they were reported when they were entered.
    """

    __slots__ = ("_addresses", "_domains", "entries")

    def __init__(self, entries: Iterable[ListEntry]):
        self.entries: tuple[ListEntry, ...] = tuple(dict.fromkeys(entries))
        self._addresses = frozenset(e.value for e in self.entries if e.kind == "address")
        self._domains = frozenset(e.value for e in self.entries if e.kind == "domain")

    @classmethod
    def of(cls, items: Iterable[ListEntry | str] | None) -> "EntryList":
        entries: list[ListEntry] = []
        for item in items or ():
            if isinstance(item, ListEntry):
                entries.append(item)
            else:
                checked = check_list_entry(item)
                if checked.entry is not None:
                    entries.append(checked.entry)
        return cls(entries)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def __repr__(self) -> str:
        return f"EntryList({list(self.entries)!r})"

    def matching_entry(self, address: ParsedAddress | str | None) -> ListEntry | None:
        """The first entry covering `address` (its exact address first, then its domains)."""
        parsed = address if isinstance(address, ParsedAddress) else parse_address(address)
        if parsed.key and parsed.key in self._addresses:
            return ListEntry("address", parsed.key)
        if parsed.domain:
            for candidate in _parent_domains(parsed.domain):
                if candidate in self._domains:
                    return ListEntry("domain", candidate)
        return None

    def matches(self, address: ParsedAddress | str | None) -> bool:
        return self.matching_entry(address) is not None


# --- display names -----------------------------------------------------------------------

#: Salesforce's FirstName / LastName widths (Contact and Lead).
FIRST_NAME_LENGTH = 40
LAST_NAME_LENGTH = 80

_SALUTATIONS = {
    "mr": "Mr.", "mrs": "Mrs.", "ms": "Ms.", "miss": "Ms.", "dr": "Dr.", "prof": "Prof.",
    "mx": "Mx.",
}
_SUFFIXES = {"jr", "sr", "ii", "iii", "iv", "phd", "md", "esq", "mba", "cpa"}
# Lower-case words that start a family name ("Ludwig van Beethoven" → last "van Beethoven").
_PARTICLES = {
    "van", "von", "de", "der", "den", "da", "di", "del", "della", "du", "la", "le", "ter",
    "ten", "dos", "das", "bin", "ibn", "al", "st.",
}


@dataclass(frozen=True)
class PersonName:
    """A name split for a prefilled Create Contact / Create Lead form.

    `last` is never empty when anything was found, because LastName is the one name field
    Salesforce requires.
    """

    first: str = ""
    last: str = ""
    middle: str = ""
    salutation: str = ""
    suffix: str = ""


def _clean_display(text: str) -> str:
    text = strip_invisible(text)
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in text)
    text = re.sub(r"\([^)]*\)|\[[^\]]*\]", " ", text)  # "Jane Doe (Acme)" → "Jane Doe"
    text = text.strip().strip("\"'“”‘’").strip()
    return re.sub(r"\s+", " ", text)


def _bare(word: str) -> str:
    return word.lower().rstrip(".,")


def _split_words(words: list[str]) -> PersonName:
    salutation = suffix = ""
    if len(words) > 1 and _bare(words[0]) in _SALUTATIONS:
        salutation = _SALUTATIONS[_bare(words.pop(0))]
    while len(words) > 1 and _bare(words[-1]) in _SUFFIXES:
        suffix = (words.pop().rstrip(",") + " " + suffix).strip()
    if not words:
        return PersonName(salutation=salutation, suffix=suffix)
    if len(words) == 1:
        return PersonName(last=words[0], salutation=salutation, suffix=suffix)
    # The family name starts at the first particle after the given name, else is the last word.
    last_start = len(words) - 1
    for index in range(1, len(words) - 1):
        if words[index].lower() in _PARTICLES:
            last_start = index
            break
    return PersonName(
        first=words[0],
        middle=" ".join(words[1:last_start]),
        last=" ".join(words[last_start:]),
        salutation=salutation,
        suffix=suffix,
    )


def _name_from_local_part(address: str | None) -> PersonName:
    parsed = parse_address(address)
    local = parsed.local or (parsed.key.split("@", 1)[0] if "@" in parsed.key else "")
    local = local.strip('"').split("+", 1)[0]  # "jane+news" → "jane"
    words = [w for w in re.split(r"[._\s]+", re.sub(r"\d+", " ", local)) if w]
    words = [w.capitalize() if w.isalpha() else w for w in words]
    return _split_words(words)


def _fit(name: PersonName) -> PersonName:
    return PersonName(
        first=name.first[:FIRST_NAME_LENGTH],
        last=name.last[:LAST_NAME_LENGTH],
        middle=name.middle[:FIRST_NAME_LENGTH],
        salutation=name.salutation,
        suffix=name.suffix[:FIRST_NAME_LENGTH],
    )


def split_display_name(display_name: str | None, address: str | None = None) -> PersonName:
    """First and last name from a display name, falling back to the address's local part.

    "Doe, Jane" → Jane / Doe; "Jane Q. Doe" → Jane / Q. / Doe; "Dr. Jane Doe Jr." keeps the
    salutation and suffix apart; a display name that is empty or is itself an address
    falls back to the local part ("jane.doe@x" → Jane / Doe).
    """
    text = _clean_display(display_name or "")
    if not text or "@" in text:
        return _fit(_name_from_local_part(address or text))
    if text.count(",") == 1:
        family, given = (part.strip() for part in text.split(","))
        if family and given and _bare(given) not in _SUFFIXES:
            # "Doe, Jane Q." (directory style): family name before the comma.
            given_words = given.split()
            salutation = suffix = ""
            if len(given_words) > 1 and _bare(given_words[0]) in _SALUTATIONS:
                salutation = _SALUTATIONS[_bare(given_words.pop(0))]
            while len(given_words) > 1 and _bare(given_words[-1]) in _SUFFIXES:
                suffix = (given_words.pop() + " " + suffix).strip()
            return _fit(
                PersonName(
                    first=given_words[0],
                    middle=" ".join(given_words[1:]),
                    last=family,
                    salutation=salutation,
                    suffix=suffix,
                )
            )
    words = [w for w in text.replace(",", " ").split(" ") if w]
    return _fit(_split_words(words))
