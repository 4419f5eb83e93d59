// The open email through Office.js: its facts for the API, its categories, and the
// notification bar. Callback APIs are wrapped in promises that reject with Office's error.

export function officeCall(start) {
  return new Promise((resolve, reject) => {
    start((result) => {
      if (result.status === Office.AsyncResultStatus.Succeeded) resolve(result.value);
      else reject(Object.assign(new Error(result.error.message), { name: result.error.name, code: result.error.code }));
    });
  });
}

function person(details) {
  return details ? { emailAddress: details.emailAddress, displayName: details.displayName || "" } : null;
}

// What the API needs to find the email, or decide it live (SPEC section 7).
export async function itemFacts(item) {
  let categories = [];
  try {
    categories = (await officeCall((done) => item.categories.getAsync(done))).map((c) => c.displayName);
  } catch {
    // Hosts below Mailbox 1.8 have no categories API: decide without them.
  }
  return {
    internetMessageId: item.internetMessageId,
    from: person(item.from),
    to: (item.to || []).map(person),
    cc: (item.cc || []).map(person),
    categories,
  };
}

// Master list first (Office.js refuses an item category the list lacks), then the item.
export async function applyCategory(item, name) {
  const master = await officeCall((done) => Office.context.mailbox.masterCategories.getAsync(done));
  if (!master.some((c) => c.displayName.toLowerCase() === name.toLowerCase())) {
    try {
      await officeCall((done) => Office.context.mailbox.masterCategories.addAsync(
        [{ displayName: name, color: Office.MailboxEnums.CategoryColor.Preset7 }], done));
    } catch (error) {
      if (error.name !== "DuplicateCategory") throw error; // added meanwhile: fine
    }
  }
  const present = await officeCall((done) => item.categories.getAsync(done));
  if (!present.some((c) => c.displayName.toLowerCase() === name.toLowerCase())) {
    await officeCall((done) => item.categories.addAsync([name], done));
  }
}

const NOTIFICATION_KEY = "mailferry";

// One Mailferry message in the email's notification bar (at most 150 characters).
export function notify(item, text, { error = false } = {}) {
  const message = text.length > 150 ? `${text.slice(0, 149)}…` : text;
  const details = error
    ? { type: Office.MailboxEnums.ItemNotificationMessageType.ErrorMessage, message }
    : { type: Office.MailboxEnums.ItemNotificationMessageType.InformationalMessage, message,
        icon: "Icon.16", persistent: false };
  return new Promise((resolve) => item.notificationMessages.replaceAsync(NOTIFICATION_KEY, details, () => resolve()));
}
