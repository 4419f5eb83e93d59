// The simulated Outlook on the web: wires the message list, the ribbon read from the add-in's
// manifest, the task pane, function commands, dialogs and the NAA broker together through the
// postMessage channel (protocol in docs/sandbox.md, "Simulated Outlook").
import { HostApi } from "./api.js";
import { Dialogs } from "./dialogs.js";
import { FrameRouter } from "./frames.js";
import { FunctionRunner } from "./functions.js";
import { loadManifest } from "./manifest.js";
import { MailView } from "./mail_view.js";
import { Notifications } from "./notifications.js";
import { officeCalls } from "./office_calls.js";
import { Ribbon } from "./ribbon.js";
import { TaskPane } from "./taskpane.js";

const config = document.body.dataset;
const naa = config.naa !== "off";
const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`);

const api = new HostApi(config.upn);
let manifest = null;
let functions = null;
const notifications = new Notifications(byTestId("notification-bar"), (resid) => manifest?.icon(resid));
const view = new MailView(byTestId("message-list"), byTestId("reading-pane"), api, onSelect);
const ribbon = new Ribbon(byTestId("ribbon"), runCommand);

const router = new FrameRouter(config.manifestOrigin, {
  hello: (data, entry, event) => {
    if (entry.kind === "function") functions.hello();
    router.post(event.source, { type: "context", context: contextFor(entry) });
  },
  call: (data, entry, event) => answerCall(data, event),
  naa: (data, entry, event) => broker(data, event),
  completed: (data) => functions?.settle(data.invocationId, null, data.options),
  "invoke-failed": (data) => functions?.settle(data.invocationId, new Error(data.message)),
  "dialog-message": (data, entry, event) => dialogs.message(entry.dialogId, data.message, event.origin),
});
const pane = new TaskPane(byTestId("taskpane"), router, naa);
const dialogs = new Dialogs(router, naa);
const calls = officeCalls({ api, notifications, dialogs, view });

function contextFor(entry) {
  return {
    frame: entry.kind, naa,
    item: entry.kind === "taskpane" ? view.selected?.item || null : null,
    userProfile: view.userProfile,
  };
}

async function answerCall({ id, method, args }, event) {
  const handler = calls[method];
  try {
    if (!handler) throw Object.assign(new Error(`The simulated Outlook does not implement ${method}.`), { name: "NotImplemented", code: 5001 });
    const value = await handler(args || {}, event.source, event.origin);
    router.post(event.source, { type: "result", id, ok: true, value });
  } catch (error) {
    router.post(event.source, { type: "result", id, ok: false, error: { name: error.name, message: error.message, code: error.code ?? 5001 } });
  }
}

// The bridge's requests go to the sandbox's broker endpoint, which answers as Outlook would.
async function broker({ payload }, event) {
  let request;
  try {
    request = JSON.parse(payload);
  } catch {
    return;
  }
  let response;
  try {
    response = await api.naa(request, config.tokenMode);
  } catch (error) {
    response = { messageType: "NestedAppAuthResponse", requestId: request.requestId, success: false,
      error: { status: "TRANSIENT_ERROR", code: error.name, description: error.message } };
  }
  router.post(event.source, { type: "naa", payload: JSON.stringify(response) });
}

let previousItemId = null;
function onSelect(item) {
  if (previousItemId) notifications.leave(previousItemId);
  previousItemId = item?.itemId || null;
  notifications.show(previousItemId);
  ribbon.enable(Boolean(item));
  if (!pane.window) return;
  if (pane.pinned) router.post(pane.window, { type: "event", eventType: "olkItemSelectedChanged", item });
  else pane.close();
}

async function runCommand(control, button) {
  const item = view.selected?.item;
  if (!item) return;
  if (control.action.type === "ShowTaskpane") {
    pane.open(control);
    return;
  }
  if (!functions) {
    notifications.host(item.itemId, control.id, "errorMessage", "The add-in's manifest has no FunctionFile for this command.");
    return;
  }
  ribbon.busy(button, true);
  notifications.host(item.itemId, control.id, "progressIndicator", `${manifest.displayName} is working on your ${control.label} request.`);
  try {
    await functions.invoke(control, item);
    notifications.clearHost(item.itemId, control.id);
  } catch (error) {
    notifications.host(item.itemId, control.id, "errorMessage", error.message);
  } finally {
    ribbon.busy(button, false);
    ribbon.enable(Boolean(view.selected));
  }
}

function showManifestError(message) {
  const box = byTestId("manifest-error");
  box.textContent = message;
  box.hidden = false;
}

async function start() {
  document.querySelectorAll("[data-folder]").forEach((button) => button.addEventListener("click", () => {
    document.querySelectorAll("[data-folder]").forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
    view.showFolder(button.dataset.folder);
  }));
  document.querySelector('[data-action="refresh"]').addEventListener("click", () => view.refresh());
  await view.refresh();
  if (!config.manifestOrigin) {
    showManifestError(`The add-in manifest URL must be an absolute https URL: ${config.manifest}`);
    return;
  }
  try {
    manifest = await loadManifest(config.manifest);
  } catch (error) {
    showManifestError(error.message);
    return;
  }
  if (manifest.functionFile) functions = new FunctionRunner(manifest.functionFile, router, naa, Number(config.functionTimeoutMs));
  ribbon.render(manifest);
  ribbon.enable(Boolean(view.selected));
}

// `data-ready` tells tests the page has drawn the list and the ribbon (or the manifest error).
start().finally(() => { document.body.dataset.ready = "true"; });
