// The message list (Inbox, Sent Items) and the reading pane, drawn from the sandbox mail store.

const dateFormat = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short" });

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function categoryChips(categories) {
  const list = element("span", "categories");
  for (const category of categories) {
    const chip = element("span", `category ${category.color.toLowerCase()}`, category.displayName);
    chip.dataset.testid = "category";
    list.append(chip);
  }
  return list;
}

export class MailView {
  constructor(list, pane, api, onSelect) {
    this.list = list;
    this.pane = pane;
    this.api = api;
    this.onSelect = onSelect;
    this.folder = "inbox";
    this.folders = {};
    this.selected = null; // {item, row}
  }

  async refresh() {
    const mailbox = await this.api.mailbox();
    this.folders = mailbox.folders;
    this.userProfile = mailbox.userProfile;
    this.renderList();
    if (this.selected) {
      const row = this.rows().find((r) => r.id === this.selected.row.id);
      if (row) this.renderPane(row);
    }
    return mailbox;
  }

  rows() { return this.folders[this.folder]?.messages || []; }

  showFolder(name) {
    this.folder = name;
    this.renderList();
    this.select(null);
  }

  renderList() {
    this.list.replaceChildren(...this.rows().map((row) => {
      const li = element("li", "message-row");
      li.dataset.testid = "message-row";
      li.dataset.messageId = row.id;
      li.dataset.internetMessageId = row.internetMessageId;
      li.tabIndex = 0;
      li.setAttribute("aria-selected", String(this.selected?.row.id === row.id));
      li.append(element("span", "from", this.folder === "sentitems" ? `To: ${row.to}` : row.from || "(no sender)"),
        element("span", "subject", row.subject || "(no subject)"),
        element("time", "date", dateFormat.format(new Date(row.received))), categoryChips(row.categories));
      li.addEventListener("click", () => this.select(row.id));
      li.addEventListener("keydown", (event) => { if (event.key === "Enter") this.select(row.id); });
      return li;
    }));
  }

  async select(id) {
    this.selected = id ? await this.api.message(id) : null;
    this.renderList();
    if (this.selected) this.renderPane(this.selected.row);
    else this.pane.replaceChildren(element("p", "empty", "Select an item to read"));
    this.onSelect(this.selected?.item || null);
  }

  renderPane(row) {
    const header = element("header");
    header.append(element("h1", "subject", row.subject || "(no subject)"),
      element("p", "from", `From: ${row.from || "(no sender)"}`), element("p", "to", `To: ${row.to}`),
      element("time", "date", dateFormat.format(new Date(row.received))), categoryChips(row.categories));
    this.pane.replaceChildren(header, element("div", "body", row.body));
  }
}
