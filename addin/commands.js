// The ribbon's function commands (manifest FunctionName ↔ Office.actions.associate).
// Each one tells the result in the email's notification bar and calls event.completed()
// on every path, errors included: Outlook waits for it before running the next command.

import { call, SignInRequired } from "./api.js";
import { naaSupported } from "./auth.js";
import { announceChange } from "./changes.js";
import { applyCategory, notify } from "./item.js";

function domainOf(address) {
  return address.slice(address.lastIndexOf("@") + 1).toLowerCase();
}

// Without Nested App Authentication a command may open the sign-in dialog itself; with it,
// a token the broker cannot give silently needs the pane's Sign in button.
function signInOptions() {
  return { interactive: !naaSupported() };
}

function explain(error) {
  if (error instanceof SignInRequired) {
    return naaSupported() ? "Sign in to Mailferry: open Sync status and choose Sign in."
      : "Sign in to Mailferry to use this command (the sign-in did not finish).";
  }
  return `Mailferry: ${error.message}`;
}

function command(run) {
  return async (event) => {
    const item = Office.context.mailbox.item;
    try {
      await notify(item, await run(item));
      announceChange(item.internetMessageId);
    } catch (error) {
      await notify(item, explain(error), { error: true });
    } finally {
      event.completed();
    }
  };
}

async function ignore(item, kind) {
  const sender = item.from && item.from.emailAddress;
  if (!sender) throw new Error("this email has no sender to ignore.");
  const value = kind === "domain" ? domainOf(sender) : sender;
  const answer = await call("POST", "ignore", { kind, value }, signInOptions());
  return answer.message;
}

// Don't sync / Sync to Salesforce: the category on the item (master list first), then the
// mailbox sync that acts on it; the message says what will really happen.
async function categorize(item, which) {
  const me = await call("GET", "me", null, signInOptions());
  const name = which === "crm" ? me.crm_category : me.donotsync_category;
  await applyCategory(item, name);
  const queued = await call("POST", "sync", {})
    .then((answer) => answer.queued, () => false);
  const when = queued ? "now" : "at its next sync";
  if (which === "crm") {
    if (!me.sync_enabled) return `Marked “${name}”, but your email sync is off: turn it on in Mailferry's My Settings.`;
    if (!me.salesforce_connected) return `Marked “${name}”: it syncs once you connect Salesforce in Mailferry.`;
    return `Marked “${name}”: Mailferry syncs this email to Salesforce ${when}.`;
  }
  return me.prevent_delete
    ? `Marked “${name}”: not synced. An activity already in Salesforce stays (your settings prevent deletes).`
    : `Marked “${name}”: not synced; an activity already recorded is removed ${when}.`;
}

Office.actions.associate("ignoreSender", command((item) => ignore(item, "address")));
Office.actions.associate("ignoreSenderDomain", command((item) => ignore(item, "domain")));
Office.actions.associate("dontSync", command((item) => categorize(item, "donotsync")));
Office.actions.associate("syncToSalesforce", command((item) => categorize(item, "crm")));
