// Reads the add-in manifest in the browser (reference §3.1-§3.3): the message read surface's
// groups and controls, their labels, supertips, icons and actions, resolved through
// <Resources> by resid. Uses the nested VersionOverrides V1_1 when present.

const XSI = "http://www.w3.org/2001/XMLSchema-instance";

export class ManifestError extends Error {}

const children = (element, name) => [...(element?.children || [])].filter((c) => c.localName === name);
const child = (element, name) => children(element, name)[0] || null;
const xsiType = (element) => element?.getAttributeNS(XSI, "type") || element?.getAttribute("xsi:type") || "";

export async function loadManifest(url) {
  let response;
  try {
    response = await fetch(url, { credentials: "omit" });
  } catch (error) {
    throw new ManifestError(`The add-in manifest could not be fetched from ${url} (${error.message}).`);
  }
  if (!response.ok) {
    throw new ManifestError(`The add-in manifest could not be fetched from ${url}: HTTP ${response.status}.`);
  }
  return parseManifest(await response.text(), url);
}

export function parseManifest(text, url) {
  const doc = new DOMParser().parseFromString(text, "application/xml");
  if (doc.getElementsByTagName("parsererror").length || doc.documentElement.localName !== "OfficeApp") {
    throw new ManifestError(`The add-in manifest at ${url} is not a well-formed OfficeApp XML document.`);
  }
  const root = doc.documentElement;
  const outer = child(root, "VersionOverrides");
  if (!outer) throw new ManifestError("The manifest has no VersionOverrides, so it declares no add-in commands.");
  const overrides = children(outer, "VersionOverrides").find((v) => xsiType(v) === "VersionOverridesV1_1") || outer;
  const resources = readResources(child(overrides, "Resources"));
  const host = children(child(overrides, "Hosts"), "Host").find((h) => xsiType(h) === "MailHost");
  const form = child(host, "DesktopFormFactor");
  const surface = children(form, "ExtensionPoint").find((e) => xsiType(e) === "MessageReadCommandSurface");
  if (!surface) throw new ManifestError("The manifest has no MessageReadCommandSurface extension point.");
  const functionFile = child(form, "FunctionFile");
  const groups = children(surface, "OfficeTab").flatMap((tab) => children(tab, "Group")).map((group) => ({
    id: group.getAttribute("id"),
    label: resources.text("ShortStrings", child(group, "Label")),
    controls: readControls(group, resources),
  }));
  return {
    url,
    displayName: child(root, "DisplayName")?.getAttribute("DefaultValue") || "Add-in",
    functionFile: functionFile ? resources.text("Urls", functionFile) : null,
    groups,
    icon: (resid) => resources.lookup("Images", resid),
  };
}

function readControls(group, resources) {
  return children(group, "Control").flatMap((control) => {
    // A menu's items are buttons of their own.
    if (xsiType(control) === "Menu") return children(child(control, "Items"), "Item").map((i) => readButton(i, resources));
    return [readButton(control, resources)];
  });
}

function readButton(control, resources) {
  const supertip = child(control, "Supertip");
  const icons = {};
  for (const image of children(child(control, "Icon"), "Image")) {
    icons[image.getAttribute("size")] = resources.text("Images", image);
  }
  return {
    id: control.getAttribute("id"),
    label: resources.text("ShortStrings", child(control, "Label")),
    tooltip: child(control, "Tooltip") ? resources.text("LongStrings", child(control, "Tooltip")) : "",
    supertip: supertip ? {
      title: resources.text("ShortStrings", child(supertip, "Title")),
      description: resources.text("LongStrings", child(supertip, "Description")),
    } : null,
    icons,
    action: readAction(child(control, "Action"), resources, control.getAttribute("id")),
  };
}

function readAction(action, resources, controlId) {
  const type = xsiType(action);
  if (type === "ShowTaskpane") {
    return {
      type, sourceLocation: resources.text("Urls", child(action, "SourceLocation")),
      supportsPinning: (child(action, "SupportsPinning")?.textContent || "").trim() === "true",
      taskpaneId: child(action, "TaskpaneId")?.textContent.trim() || "",
    };
  }
  if (type === "ExecuteFunction") return { type, functionName: child(action, "FunctionName")?.textContent.trim() || "" };
  throw new ManifestError(`Control ${controlId} has an unsupported action type '${type}'.`);
}

function readResources(element) {
  const tables = {};
  for (const kind of ["Images", "Urls", "ShortStrings", "LongStrings"]) {
    tables[kind] = new Map(children(child(element, kind), kind === "Images" ? "Image" : kind === "Urls" ? "Url" : "String")
      .map((entry) => [entry.getAttribute("id"), entry.getAttribute("DefaultValue") || ""]));
  }
  const lookup = (kind, resid) => tables[kind].get(resid);
  return {
    lookup,
    text(kind, element) {
      const resid = element?.getAttribute("resid");
      const value = lookup(kind, resid);
      if (value === undefined) throw new ManifestError(`The manifest refers to ${kind} resid '${resid}', which <Resources> does not define.`);
      return value;
    },
  };
}
