// The ribbon's function commands (manifest FunctionName ↔ Office.actions.associate).
// Each one tells the result in the email's notification bar and calls event.completed()
// on every path, errors included: Outlook waits for it before running the next command.

import { call, SignInRequired } from "./api.js";
import { announceChange } from "./changes.js";
import { applyCategory, notify } from "./item.js";

function domainOf(address) {
  return address.slice(address.lastIndexOf("@") + 1).toLowerCase();
}

function explain(error) {
  if (error instanceof SignInRequired) return "Sign in to Mailferry: open Sync status and choose Sign in.";
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
  const answer = await call("POST", "ignore", { kind, value });
  return answer.message;
}

async function categorize(item, which) {
  const me = await call("GET", "me");
  const name = which === "crm" ? me.crm_category : me.donotsync_category;
  await applyCategory(item, name);
  await call("POST", "sync", { internetMessageId: item.internetMessageId });
  return which === "crm"
    ? `Marked “${name}”: Mailferry is syncing this email to Salesforce.`
    : `Marked “${name}”: this email is not synced (an activity already recorded is removed).`;
}

Office.actions.associate("ignoreSender", command((item) => ignore(item, "address")));
Office.actions.associate("ignoreSenderDomain", command((item) => ignore(item, "domain")));
Office.actions.associate("dontSync", command((item) => categorize(item, "donotsync")));
Office.actions.associate("syncToSalesforce", command((item) => categorize(item, "crm")));
