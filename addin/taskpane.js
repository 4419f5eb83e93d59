// The task pane (SPEC section 7): the open email's status with its records and reasons, the
// actions for its participants, and the compact Sync History. A pinned pane follows the
// selected email (ItemChanged). Every value from the API is inserted as text.

import { ApiError, call, SignInRequired } from "./api.js";
import { accessToken } from "./auth.js";
import { onChange } from "./changes.js";
import { applyCategory, itemFacts } from "./item.js";

const statusBox = document.getElementById("status");
const historyBox = document.getElementById("history");
const SYNC_WAIT_MS = 30000;
const SYNC_POLL_MS = 1500;
let me = null;
let meLoading = null; // one /me request for every email change that comes before its answer
let shownStatus = null; // the status on screen, for watching it change
let shownItem = 0; // bumped on every email change: answers for an older email are dropped
let historyView = { tab: "unresolved", q: "", page: 1 };

// --- small DOM helpers -------------------------------------------------------------------
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "onclick") node.addEventListener("click", value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function link(text, url, testid) {
  if (!url) return el("span", { "data-testid": testid }, text);
  return el("a", { href: url, target: "_blank", rel: "noopener", "data-testid": testid }, text);
}

function show(box, ...nodes) {
  box.replaceChildren(...nodes);
  box.setAttribute("aria-busy", "false");
}

function note(text, kind = "info") {
  const box = document.getElementById("note") || el("p", { id: "note", role: "status", "data-testid": "pane-note" });
  box.className = `note note-${kind}`;
  box.textContent = text;
  statusBox.prepend(box);
}

// --- errors and sign-in ------------------------------------------------------------------
function signInPrompt(message, retry) {
  historyBox.hidden = true;
  const button = el("button", { type: "button", class: "primary", "data-testid": "sign-in" }, "Sign in");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await accessToken({ interactive: true, fresh: true });
      await retry();
    } catch (error) {
      signInPrompt(error.message || "The sign-in did not finish.", retry);
    }
  });
  show(statusBox, el("div", { class: "sign-in", "data-testid": "sign-in-prompt" },
    el("h1", {}, "Sign in to Mailferry"),
    el("p", {}, message || "Your sign-in has expired or is not valid."),
    button));
}

function failed(error, retry) {
  if (error instanceof SignInRequired) {
    signInPrompt(error.message, retry);
    return;
  }
  const again = el("button", { type: "button", onclick: () => retry() }, "Try again");
  show(statusBox, el("div", { class: "problem", role: "alert", "data-testid": "pane-error" },
    el("p", {}, error instanceof ApiError ? error.message : `Something went wrong: ${error.message}`), again));
}

// --- the open email ----------------------------------------------------------------------
async function showStatus() {
  const item = Office.context.mailbox.item;
  const mine = ++shownItem;
  if (!item) {
    show(statusBox, el("p", { class: "muted", "data-testid": "no-item" }, "Select an email to see its sync status."));
    return;
  }
  statusBox.setAttribute("aria-busy", "true");
  try {
    meLoading ||= loadMe().catch((error) => { meLoading = null; throw error; });
    await meLoading;
    const answer = await call("POST", "status", await itemFacts(item));
    if (mine === shownItem) renderStatus(answer, item);
  } catch (error) {
    if (mine === shownItem) failed(error, showStatus);
  }
}

async function loadMe() {
  me = await call("GET", "me");
  document.querySelector("[data-testid=pane-user]").textContent = me.user.name;
  document.querySelector("[data-testid=pane-full-history]").href = me.history_url;
  historyBox.hidden = false;
  loadHistory();
}

function renderStatus(answer, item) {
  shownStatus = answer.status;
  const header = el("div", { class: `status status-${answer.status}`, "data-testid": "email-status",
                             "data-status": answer.status },
    el("h1", { "data-testid": "status-title" }, answer.title),
    el("p", { "data-testid": "status-detail" }, answer.detail),
    answer.reason_text && el("p", { class: "reason", "data-testid": "status-reason" },
      answer.status === "excluded" ? `Rule: ${answer.reason_text}` : `Reason: ${answer.reason_text}`));
  const records = answer.records.length && el("ul", { class: "records", "data-testid": "status-records" },
    answer.records.map((r) => el("li", { "data-testid": "status-record", "data-recorded": r.recorded ? "true" : "false" },
      el("span", { class: r.recorded ? "check" : "dash", "aria-hidden": "true" }, r.recorded ? "✓" : "–"),
      `${r.type}: `, link(r.name, r.url, "record-link"),
      !r.recorded && r.reason && el("span", { class: "muted" }, ` (not recorded: ${r.reason})`))));
  const task = answer.task_url && el("p", {}, link("Open the activity in Salesforce", answer.task_url, "task-link"));
  const people = el("ul", { class: "participants", "data-testid": "participants" },
    answer.participants.map((p) => participant(p)));
  show(statusBox, header, records || "", task || "", el("h2", {}, "People on this email"),
    answer.participants.length ? people : el("p", { class: "muted" }, "Nobody but you."),
    actions(answer, item));
}

function participant(p) {
  const buttons = [];
  if (p.state !== "ignored") {
    buttons.push(el("button", { type: "button", "data-testid": "ignore-address",
      onclick: () => act(() => call("POST", "ignore", { kind: "address", value: p.address })) }, "Ignore address"));
    buttons.push(el("button", { type: "button", "data-testid": "ignore-domain",
      onclick: () => act(() => call("POST", "ignore", { kind: "domain", value: p.domain })) }, `Ignore ${p.domain}`));
  }
  if (p.create_contact_url) buttons.push(link("Create Contact", p.create_contact_url, "create-contact"));
  if (p.create_lead_url) buttons.push(link("Create Lead", p.create_lead_url, "create-lead"));
  return el("li", { "data-testid": "participant", "data-address": p.address, "data-state": p.state },
    el("div", { class: "person" }, el("strong", {}, p.name || p.address), p.name ? el("span", { class: "muted" }, ` ${p.address}`) : ""),
    el("div", { class: "state" }, p.state_text,
      p.record ? [" ", link(`${p.record.type}: ${p.record.name}`, p.record.url, "participant-record")] : ""),
    buttons.length ? el("div", { class: "row-actions" }, buttons) : "");
}

// Put a category on the email shown, unless the person has moved to another one meanwhile.
async function categorizeShown(item, name) {
  const now = Office.context.mailbox.item;
  if (!now || now.internetMessageId !== item.internetMessageId) throw new Error("another email is selected now");
  await applyCategory(item, name);
  return syncAndWait();
}

function actions(answer, item) {
  const buttons = [];
  const mid = item.internetMessageId;
  if (answer.status === "not_designated") {
    buttons.push(el("button", { type: "button", class: "primary", "data-testid": "sync-to-salesforce",
      onclick: () => act(() => categorizeShown(item, me.crm_category)) }, "Sync to Salesforce"));
  } else if (answer.can_sync_now) {
    buttons.push(el("button", { type: "button", class: "primary", "data-testid": "sync-now",
      onclick: () => act(() => syncAndWait()) }, "Sync now"));
  }
  if (answer.can_retry) {
    buttons.push(el("button", { type: "button", "data-testid": "retry-now",
      onclick: () => act(() => call("POST", "retry", { messageId: answer.message_id })) }, "Retry now"));
  }
  if (!["excluded", "ignored", "omitted", "off"].includes(answer.status)) {
    buttons.push(el("button", { type: "button", "data-testid": "dont-sync",
      onclick: () => act(() => categorizeShown(item, me.donotsync_category)) }, "Don't sync"));
  }
  if (answer.can_ignore_email) {
    buttons.push(el("button", { type: "button", "data-testid": "ignore-email",
      onclick: () => act(() => call("POST", "ignore-email", { internetMessageId: mid })) }, "Ignore this email"));
  }
  return buttons.length ? el("div", { class: "actions", "data-testid": "status-actions" }, buttons) : "";
}

// Run an action, then show the email again (and the history, whose counts changed). Its
// buttons stay disabled meanwhile: a second click would queue the same work twice.
async function act(run) {
  const mine = shownItem;
  statusBox.setAttribute("aria-busy", "true");
  for (const button of statusBox.querySelectorAll("button")) button.disabled = true;
  try {
    const answer = await run();
    if (mine !== shownItem) return;
    await showStatus();
    if (answer && answer.message) note(answer.message, "success");
    loadHistory();
  } catch (error) {
    if (mine === shownItem) failed(error, showStatus);
  }
}

// Sync now: queue the mailbox's sync, then watch the email until the worker has decided it.
async function syncAndWait() {
  const queued = await call("POST", "sync", {});
  if (!queued.queued) return { message: "The sync service did not answer; the email syncs at its next run." };
  if (await waitForNewStatus(shownStatus)) return null;
  return { message: "Sync is queued; this email's status updates when it finishes." };
}

// Ask again every SYNC_POLL_MS until the email's status is no longer `from` (the worker has
// acted), showing it; false if it did not change within SYNC_WAIT_MS or the email changed.
async function waitForNewStatus(from) {
  const mine = shownItem;
  const deadline = Date.now() + SYNC_WAIT_MS;
  while (Date.now() < deadline && mine === shownItem) {
    await new Promise((resolve) => setTimeout(resolve, SYNC_POLL_MS));
    const item = Office.context.mailbox.item;
    const answer = await call("POST", "status", await itemFacts(item));
    if (mine !== shownItem) return false;
    if (answer.status !== from && !["not_synced_yet", "pending"].includes(answer.status)) {
      renderStatus(answer, item);
      loadHistory();
      return true;
    }
  }
  return false;
}

// A ribbon command changed the email on screen: follow it to its new status.
onChange((internetMessageId) => {
  const item = Office.context.mailbox.item;
  if (item && item.internetMessageId === internetMessageId && shownStatus) {
    const mine = shownItem;
    waitForNewStatus(shownStatus).catch((error) => { if (mine === shownItem) failed(error, showStatus); });
  }
});

// --- the compact Sync History ----------------------------------------------------------
let historyRequest = 0; // only the answer to the latest request is drawn

async function loadHistory() {
  const mine = ++historyRequest;
  const params = new URLSearchParams({ tab: historyView.tab, q: historyView.q, page: historyView.page });
  try {
    const page = await call("GET", `history?${params}`);
    if (mine === historyRequest) renderHistory(page);
  } catch (error) {
    if (mine !== historyRequest) return;
    document.querySelector("[data-testid=pane-history-rows]").replaceChildren(
      el("li", { class: "problem", role: "alert" }, error.message));
  }
}

function renderHistory(page) {
  const tabs = document.querySelector("[data-testid=pane-history-tabs]");
  tabs.replaceChildren(...page.tabs.map((tab) => el("button", {
    type: "button", role: "tab", "aria-selected": tab.key === page.tab ? "true" : "false",
    "data-testid": "pane-history-tab", "data-tab": tab.key,
    onclick: () => { historyView = { ...historyView, tab: tab.key, page: 1 }; loadHistory(); },
  }, `${tab.label.replace(" Emails", "")} `, el("span", { class: "count", "data-testid": "pane-history-count" }, tab.count))));
  const rows = document.querySelector("[data-testid=pane-history-rows]");
  rows.replaceChildren(...(page.rows.length ? page.rows.map((row) => el("li", { "data-testid": "pane-history-row" },
    el("div", { class: "title" }, row.title),
    el("div", { class: "muted" }, [row.subtitle, row.when].filter(Boolean).join(" · ")),
    row.detail && el("div", { class: "detail" }, row.detail),
    row.create_contact_url && el("div", { class: "row-actions" },
      link("Create Contact", row.create_contact_url, "create-contact"), " ",
      link("Create Lead", row.create_lead_url, "create-lead"))))
    : [el("li", { class: "muted", "data-testid": "pane-history-empty" }, page.query ? "Nothing matches your search." : page.empty_text)]));
  document.querySelector("[data-page=prev]").disabled = page.page <= 1;
  document.querySelector("[data-page=next]").disabled = !page.has_next;
}

document.querySelector("[data-testid=pane-history-search]").addEventListener("submit", (event) => {
  event.preventDefault();
  historyView = { ...historyView, q: document.getElementById("history-query").value.trim(), page: 1 };
  loadHistory();
});
document.querySelector("[data-page=prev]").addEventListener("click", () => {
  historyView = { ...historyView, page: Math.max(1, historyView.page - 1) };
  loadHistory();
});
document.querySelector("[data-page=next]").addEventListener("click", () => {
  historyView = { ...historyView, page: historyView.page + 1 };
  loadHistory();
});

Office.onReady((info) => {
  if (!info.host) { // opened in a plain browser tab: there is no email to show
    historyBox.hidden = true;
    show(statusBox, el("p", { "data-testid": "outside-outlook" },
      "This is Mailferry's Outlook add-in: open an email in Outlook and choose Sync status."));
    return;
  }
  // A pinned pane stays open while the person moves between emails.
  Office.context.mailbox.addHandlerAsync(Office.EventType.ItemChanged, () => showStatus());
  showStatus();
});
