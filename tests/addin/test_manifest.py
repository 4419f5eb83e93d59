"""`manifest.xml`: valid against Microsoft's schemas, free of what the schemas miss but Outlook
refuses at sideload, every URL served by the app, every function command registered; and
the same for a manifest written for another host (`manifest_for`, `mailferry manifest`)."""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from lxml import etree

from mailferry.outlook_manifest import (
    DEVELOPMENT_ORIGIN,
    MANIFEST_FILE,
    ManifestBaseUrlError,
    add_in_origin,
    manifest_for,
    manifest_id_for,
)

REPO = Path(__file__).resolve().parents[2]
SCHEMA_FILE = REPO / "schemas" / "office-addin-manifest" / "OfficeAppManifestV1_1.xsd"
COMMANDS_JS = REPO / "addin" / "commands.js"
PRODUCTION_ORIGIN = "https://mailferry.example.com"

NS = {
    "o": "http://schemas.microsoft.com/office/appforoffice/1.1",
    "bt": "http://schemas.microsoft.com/office/officeappbasictypes/1.0",
    "v10": "http://schemas.microsoft.com/office/mailappversionoverrides",
    "v11": "http://schemas.microsoft.com/office/mailappversionoverrides/1.1",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
XSI_TYPE = f"{{{NS['xsi']}}}type"

#: The ribbon the other parts of the add-in rely on: control id → (label, action).
CONTROLS = {
    "SyncStatusButton": ("Sync status", "ShowTaskpane"),
    "IgnoreSenderButton": ("Ignore sender", "ignoreSender"),
    "IgnoreDomainButton": ("Ignore sender's domain", "ignoreSenderDomain"),
    "DontSyncButton": ("Don't sync", "dontSync"),
    "SyncToSalesforceButton": ("Sync to Salesforce", "syncToSalesforce"),
}

#: Which kind of resource a `resid` may name, by the referring element.
RESOURCE_KIND_OF = {"Image": "Images", "SourceLocation": "Urls", "FunctionFile": "Urls",
                    "Label": "ShortStrings", "Title": "ShortStrings", "Tooltip": "ShortStrings",
                    "Description": "LongStrings"}
STRING_LIMIT = {"ShortStrings": 125, "LongStrings": 250}


# -- helpers ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA_FILE)))


def parse(text: str) -> etree._Element:
    return etree.fromstring(text.encode("utf-8"))


def committed() -> str:
    return MANIFEST_FILE.read_text(encoding="utf-8")


def schema_errors(schema: etree.XMLSchema, text: str) -> list[str]:
    schema.validate(parse(text))
    return [f"line {e.line}: {e.message}" for e in schema.error_log]


def resources(root) -> dict[str, dict[str, str]]:
    """{kind: {id: DefaultValue}} from the innermost (V1_1) Resources."""
    found = {}
    for kind in ("Images", "Urls", "ShortStrings", "LongStrings"):
        found[kind] = {e.get("id"): e.get("DefaultValue")
                       for e in root.iterfind(f".//v11:Resources/bt:{kind}/*", NS)}
    return found


def urls_in(root) -> list[str]:
    """Every URL the manifest names: attributes, resources and AppDomains."""
    urls = [value for element in root.iter() if isinstance(element.tag, str)
            for value in element.attrib.values() if value.startswith(("http://", "https://"))]
    urls += [e.text.strip() for e in root.iterfind("o:AppDomains/o:AppDomain", NS)]
    return urls


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def lint(text: str, origin: str) -> list[str]:
    """What Outlook checks at sideload and the XSD cannot: resource references and their
    kinds, id and string lengths, unique ids, HTTPS URLs within the add-in's domains."""
    root = parse(text)
    problems = []
    pool = resources(root)
    all_ids = [e.get("id") for e in root.iterfind(".//v11:Resources/*/*", NS)]
    problems += [f"resource id {i!r} used twice" for i, n in Counter(all_ids).items() if n > 1]
    problems += [f"resource id {i!r} is longer than 32 characters" for i in all_ids if len(i) > 32]
    referenced = set()
    for element in root.iterfind(".//*[@resid]"):
        resid, name = element.get("resid"), etree.QName(element).localname
        kind = RESOURCE_KIND_OF.get(name)
        referenced.add(resid)
        if kind is None:
            problems.append(f"<{name} resid={resid!r}>: unexpected element with a resid")
        elif resid not in pool[kind]:
            elsewhere = [k for k, ids in pool.items() if resid in ids]
            problems.append(f"<{name} resid={resid!r}> names no {kind} resource"
                            + (f" (it is in {elsewhere[0]})" if elsewhere else ""))
    problems += [f"resource {i!r} is never used" for i in all_ids if i not in referenced]
    for kind, limit in STRING_LIMIT.items():
        problems += [f"{kind} {i!r} is longer than {limit} characters"
                     for i, value in pool[kind].items() if len(value) > limit]
    for tag, limit in (("DisplayName", 125), ("ProviderName", 125), ("Description", 250)):
        element = root.find(f"o:{tag}", NS)
        value = element.get("DefaultValue") if element.get("DefaultValue") is not None else element.text
        if not value or len(value) > limit:
            problems.append(f"<{tag}> must hold 1 to {limit} characters")
    for what in ("Group", "Control"):
        ids = [e.get("id") for e in root.iterfind(f".//v11:{what}", NS)]
        problems += [f"{what} id {i!r} used twice" for i, n in Counter(ids).items() if n > 1]
        problems += [f"{what} id {i!r} is longer than 125 characters" for i in ids if len(i) > 125]
    domains = {e.text.strip() for e in root.iterfind("o:AppDomains/o:AppDomain", NS)}
    if origin not in domains:
        problems.append(f"AppDomains lacks the add-in's origin {origin} (dialogs fail with 12004)")
    for url in urls_in(root):
        if not url.startswith("https://"):
            problems.append(f"{url}: not HTTPS")
        elif len(url) > 2048:
            problems.append(f"{url[:40]}…: longer than 2048 characters")
        elif origin_of(url) != origin and origin_of(url) not in domains:
            problems.append(f"{url}: outside the add-in's origin and AppDomains")
    return problems


def png_size(body: bytes) -> tuple[int, int]:
    assert body[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert body[12:16] == b"IHDR", "PNG without IHDR first"
    return struct.unpack(">II", body[16:24])


def declared_icon_sizes(root) -> dict[str, int]:
    """Icon URL → the pixel size the manifest declares for it."""
    images = resources(root)["Images"]
    sizes = {root.find("o:IconUrl", NS).get("DefaultValue"): 64,
             root.find("o:HighResolutionIconUrl", NS).get("DefaultValue"): 128}
    for image in root.iterfind(".//v11:Icon/bt:Image", NS):
        url = images[image.get("resid")]
        assert sizes.setdefault(url, int(image.get("size"))) == int(image.get("size")), url
    return sizes


# -- the committed manifest ---------------------------------------------------------------


def test_the_manifest_is_valid_against_microsofts_schemas(schema):
    assert schema_errors(schema, committed()) == []


def test_the_schemas_really_check_order_and_version_specific_elements(schema):
    """A control check: the vendored XSDs reject what Outlook rejects, so the test above means something."""
    swapped = committed().replace("<Version>1.0.0.0</Version>\n  <ProviderName>Mailferry</ProviderName>",
                                  "<ProviderName>Mailferry</ProviderName>\n  <Version>1.0.0.0</Version>")
    assert swapped != committed() and schema_errors(schema, swapped)
    pinning_in_v1_0 = committed().replace(
        'xmlns="http://schemas.microsoft.com/office/mailappversionoverrides/1.1" xsi:type="VersionOverridesV1_1"',
        'xmlns="http://schemas.microsoft.com/office/mailappversionoverrides" xsi:type="VersionOverridesV1_0"')
    assert schema_errors(schema, pinning_in_v1_0)


def test_every_resource_reference_resolves_and_every_limit_holds():
    assert lint(committed(), DEVELOPMENT_ORIGIN) == []


def test_the_lint_catches_a_dangling_or_wrong_kind_resid_and_an_outside_url():
    broken = (committed()
              .replace('<Label resid="DontSync.Label"/>', '<Label resid="DontSync.Tooltip"/>')
              .replace('<FunctionFile resid="Commands.Url"/>', '<FunctionFile resid="Nowhere.Url"/>')
              .replace('id="Taskpane.Url" DefaultValue="https://localhost:3000/',
                       'id="Taskpane.Url" DefaultValue="http://elsewhere.example/'))
    problems = "\n".join(lint(broken, DEVELOPMENT_ORIGIN))
    assert "<Label resid='DontSync.Tooltip'> names no ShortStrings resource (it is in LongStrings)" in problems
    assert "<FunctionFile resid='Nowhere.Url'> names no Urls resource" in problems
    assert "http://elsewhere.example/addin/taskpane: not HTTPS" in problems


def test_the_ribbon_has_the_five_read_mode_commands_with_their_ids_labels_and_functions():
    root = parse(committed())
    surfaces = root.findall(".//v11:DesktopFormFactor/v11:ExtensionPoint", NS)
    assert [s.get(XSI_TYPE) for s in surfaces] == ["MessageReadCommandSurface"]
    assert [t.get("id") for t in surfaces[0].findall("v11:OfficeTab", NS)] == ["TabDefault"]
    groups = surfaces[0].findall("v11:OfficeTab/v11:Group", NS)
    assert [g.get("id") for g in groups] == ["MailferryGroup"]
    strings = resources(root)["ShortStrings"]
    found = {}
    for control in groups[0].findall("v11:Control", NS):
        action = control.find("v11:Action", NS)
        kind = action.get(XSI_TYPE)
        what = kind if kind == "ShowTaskpane" else action.findtext("v11:FunctionName", namespaces=NS)
        found[control.get("id")] = (strings[control.find("v11:Label", NS).get("resid")], what)
        assert sorted(int(i.get("size")) for i in control.iterfind("v11:Icon/bt:Image", NS)) == [16, 32, 80]
        assert control.find("v11:Supertip/v11:Title", NS) is not None
        assert control.find("v11:Supertip/v11:Description", NS) is not None
    assert found == CONTROLS


def test_the_task_pane_is_pinnable_and_the_function_file_is_the_commands_page():
    root = parse(committed())
    urls = resources(root)["Urls"]
    pane = root.find(".//v11:Control[@id='SyncStatusButton']/v11:Action", NS)
    assert urls[pane.find("v11:SourceLocation", NS).get("resid")] == f"{DEVELOPMENT_ORIGIN}/addin/taskpane"
    assert pane.findtext("v11:SupportsPinning", namespaces=NS) == "true"
    function_file = root.find(".//v11:DesktopFormFactor/v11:FunctionFile", NS)
    assert urls[function_file.get("resid")] == f"{DEVELOPMENT_ORIGIN}/addin/commands"
    legacy = root.find("o:FormSettings/o:Form[@xsi:type='ItemRead']/o:DesktopSettings/o:SourceLocation", NS)
    assert legacy.get("DefaultValue") == f"{DEVELOPMENT_ORIGIN}/addin/taskpane"


def test_permissions_and_requirement_sets_cover_the_apis_the_commands_use():
    """Master categories need ReadWriteMailbox; item and master categories need Mailbox 1.8
    (SupportsPinning alone would need 1.5). No WebApplicationInfo: the add-in uses NAA."""
    root = parse(committed())
    assert root.findtext("o:Permissions", namespaces=NS) == "ReadWriteMailbox"
    base = root.find("o:Requirements/o:Sets/o:Set", NS)
    assert (base.get("Name"), base.get("MinVersion")) == ("Mailbox", "1.1")
    sets = root.find(".//v11:VersionOverrides/v11:Requirements/bt:Sets", NS)
    assert sets.get("DefaultMinVersion") == "1.8"
    assert [s.get("Name") for s in sets.findall("bt:Set", NS)] == ["Mailbox"]
    assert root.find(".//v11:WebApplicationInfo", NS) is None
    rule = root.find("o:Rule/o:Rule", NS)
    assert (rule.get(XSI_TYPE), rule.get("ItemType"), rule.get("FormType")) == ("ItemIs", "Message", "Read")


def test_every_function_name_is_registered_in_the_function_file():
    names = [e.text for e in parse(committed()).iterfind(".//v11:FunctionName", NS)]
    script = COMMANDS_JS.read_text(encoding="utf-8") if COMMANDS_JS.exists() else ""
    missing = [name for name in names
               if not re.search(r"Office\.actions\.associate\(\s*[\"']" + re.escape(name) + r"[\"']", script)]
    assert missing == [], f"addin/commands.js lacks Office.actions.associate for {missing}"


def test_the_icon_files_are_pngs_of_their_declared_sizes():
    for url, size in declared_icon_sizes(parse(committed())).items():
        path = REPO / "addin" / url.removeprefix(f"{DEVELOPMENT_ORIGIN}/addin/assets/")
        assert png_size(path.read_bytes()) == (size, size), path


# -- served by the app --------------------------------------------------------------------


@pytest.fixture
def make_client(make_config):
    from server import create_app

    def make(**env):
        return create_app(make_config(**env)).test_client()

    return make


@pytest.fixture
def web_client(make_client):
    return make_client()


def test_every_url_in_the_manifest_answers_200_without_signing_in(web_client):
    root = parse(committed())
    icons = declared_icon_sizes(root)
    for url in sorted(set(urls_in(root))):
        parts = urlsplit(url)
        response = web_client.get(parts.path or "/", base_url=DEVELOPMENT_ORIGIN)
        assert response.status_code == 200, f"{url}: {response.status_code}"
        if url in icons:
            assert response.mimetype == "image/png", url
            assert png_size(response.get_data()) == (icons[url], icons[url]), url


def test_the_task_pane_and_function_file_are_html_pages_outlook_may_frame(web_client):
    for path in ("/addin/taskpane", "/addin/commands"):
        response = web_client.get(path, base_url=DEVELOPMENT_ORIGIN)
        assert response.status_code == 200 and response.mimetype == "text/html", path
        assert "frame-ancestors 'none'" not in response.headers.get("Content-Security-Policy", ""), path
        assert response.headers.get("X-Frame-Options", "").upper() != "DENY", path


def test_the_downloaded_manifest_names_the_configured_base_url(make_client, web_client, schema):
    production = make_client(MAILFERRY_BASE_URL=PRODUCTION_ORIGIN)
    response = production.get("/addin/manifest.xml", base_url=PRODUCTION_ORIGIN)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert schema_errors(schema, text) == [] and lint(text, PRODUCTION_ORIGIN) == []
    assert text == manifest_for(PRODUCTION_ORIGIN)
    assert web_client.get("/addin/manifest.xml", base_url=DEVELOPMENT_ORIGIN).get_data(as_text=True) == committed()


# -- another host -------------------------------------------------------------------------


def test_a_manifest_for_another_host_is_valid_and_names_no_localhost_url(schema):
    text = manifest_for(PRODUCTION_ORIGIN)
    assert schema_errors(schema, text) == []
    assert lint(text, PRODUCTION_ORIGIN) == []
    assert all(url.startswith(f"{PRODUCTION_ORIGIN}/") or url == PRODUCTION_ORIGIN for url in urls_in(parse(text)))
    assert not re.search(r"https?://(localhost|127\.0\.0\.1)", text)


def test_each_host_gets_its_own_stable_add_in_id():
    development = parse(committed()).findtext("o:Id", namespaces=NS)
    production = parse(manifest_for(PRODUCTION_ORIGIN)).findtext("o:Id", namespaces=NS)
    assert production != development
    again = parse(manifest_for(PRODUCTION_ORIGIN + "/")).findtext("o:Id", namespaces=NS)
    assert production == manifest_id_for(PRODUCTION_ORIGIN) == again
    assert manifest_for(DEVELOPMENT_ORIGIN) == committed()


@pytest.mark.parametrize(("base_url", "origin"), [
    ("https://mailferry.example.com/", "https://mailferry.example.com"),
    ("https://Mailferry.Example.COM:443", "https://mailferry.example.com"),
    ("https://mailferry.example.com:8443", "https://mailferry.example.com:8443"),
])
def test_a_base_url_becomes_its_origin(base_url, origin):
    assert add_in_origin(base_url) == origin


@pytest.mark.parametrize(("base_url", "problem"), [
    ("http://mailferry.example.com", "uses http://"),
    ("mailferry.example.com", "has no scheme"),
    ("https://mailferry.example.com/mailferry", "has a path"),
    ("https://mailferry.example.com/?tenant=1", "query"),
    ("https://", "has no host name"),
    ("https://admin:secret@mailferry.example.com", "user name or password"),
    ("https://mailferry.example.com:70000", "is not a URL"),
])
def test_a_base_url_outlook_would_refuse_is_rejected_with_the_problem_named(base_url, problem):
    with pytest.raises(ManifestBaseUrlError, match=re.escape(problem)):
        manifest_for(base_url)


# -- the command --------------------------------------------------------------------------


def _mailferry(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MAILFERRY_DATA_DIR": str(cwd / "data"), "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_mailferry_manifest_writes_a_valid_manifest_for_the_host(tmp_path, schema):
    output = tmp_path / "out" / "manifest.xml"
    output.parent.mkdir()
    result = _mailferry("manifest", "--base-url", PRODUCTION_ORIGIN, "--output", str(output), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert output.read_text(encoding="utf-8") == manifest_for(PRODUCTION_ORIGIN)
    assert schema_errors(schema, output.read_text(encoding="utf-8")) == []


def test_mailferry_manifest_prints_to_standard_output_by_default(tmp_path):
    result = _mailferry("manifest", "--base-url", PRODUCTION_ORIGIN, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == manifest_for(PRODUCTION_ORIGIN)
    assert not (tmp_path / "manifest.xml").exists()


@pytest.mark.parametrize(("base_url", "problem"), [
    ("http://mailferry.example.com", "uses http://: Outlook loads add-ins only over HTTPS"),
    ("https://mailferry.example.com/mailferry", "has a path, query or fragment"),
])
def test_mailferry_manifest_refuses_a_bad_base_url_and_says_why(tmp_path, base_url, problem):
    output = tmp_path / "manifest.xml"
    result = _mailferry("manifest", "--base-url", base_url, "--output", str(output), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("--base-url: ") and problem in result.stderr
    assert not output.exists()
