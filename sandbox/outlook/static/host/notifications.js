// The notification bar: each item's `notificationMessages` (at most 5, keyed; Mailbox 1.3), plus
// the host's own messages (a command that didn't respond). Text is always set as text.

const LIMIT = 5;
const fail = (name, code, message) => Object.assign(new Error(message), { name, code });

export class Notifications {
  constructor(bar, iconUrl) {
    this.bar = bar;
    this.iconUrl = iconUrl; // resid → URL, from the manifest
    this.byItem = new Map(); // itemId → Map(key → details)
    this.shown = null;
  }

  entries(itemId) {
    if (!this.byItem.has(itemId)) this.byItem.set(itemId, new Map());
    return this.byItem.get(itemId);
  }

  add(itemId, key, details) {
    const entries = this.entries(itemId);
    if (entries.has(key)) throw fail("DuplicateNotificationKey", 9023, `A notification with the key '${key}' already exists.`);
    if (this.addInCount(entries) >= LIMIT) {
      throw fail("NumberOfNotificationMessagesExceeded", 9025, "There are already five notifications on this item.");
    }
    entries.set(key, details);
    this.render();
  }

  replace(itemId, key, details) {
    const entries = this.entries(itemId);
    if (!entries.has(key) && this.addInCount(entries) >= LIMIT) {
      throw fail("NumberOfNotificationMessagesExceeded", 9025, "There are already five notifications on this item.");
    }
    entries.set(key, details);
    this.render();
  }

  remove(itemId, key) {
    if (!this.entries(itemId).delete(key)) {
      throw fail("NotificationKeyNotFound", 9024, "There are no notifications with the provided key.");
    }
    this.render();
  }

  getAll(itemId) {
    return [...this.entries(itemId)].filter(([key]) => !key.startsWith("host:"))
      .map(([key, details]) => ({ key, ...details }));
  }

  // The host's own message (not counted against the add-in's five, not in getAllAsync).
  host(itemId, key, type, message) {
    this.entries(itemId).set(`host:${key}`, { type, message });
    this.render();
  }

  clearHost(itemId, key) {
    this.entries(itemId).delete(`host:${key}`);
    this.render();
  }

  addInCount(entries) { return [...entries.keys()].filter((k) => !k.startsWith("host:")).length; }

  // Outlook drops an item's non-persistent informational messages when the user moves on.
  leave(itemId) {
    const entries = this.entries(itemId);
    for (const [key, details] of entries) {
      if (details.type === "informationalMessage" && !details.persistent) entries.delete(key);
    }
  }

  show(itemId) {
    this.shown = itemId;
    this.render();
  }

  render() {
    this.bar.replaceChildren();
    if (!this.shown) return;
    for (const [key, details] of this.entries(this.shown)) {
      const row = document.createElement("div");
      row.className = `notification ${details.type}`;
      row.dataset.testid = "notification";
      row.dataset.key = key;
      row.dataset.type = details.type;
      row.setAttribute("role", details.type === "errorMessage" ? "alert" : "status");
      const icon = details.icon && this.iconUrl(details.icon);
      if (icon) {
        const img = document.createElement("img");
        img.src = icon;
        img.alt = "";
        row.append(img);
      }
      const text = document.createElement("span");
      text.textContent = details.message;
      row.append(text);
      if (details.type !== "progressIndicator") {
        const dismiss = document.createElement("button");
        dismiss.type = "button";
        dismiss.textContent = "×";
        dismiss.setAttribute("aria-label", "Dismiss");
        dismiss.addEventListener("click", () => { this.entries(this.shown).delete(key); this.render(); });
        row.append(dismiss);
      }
      this.bar.append(row);
    }
  }
}
