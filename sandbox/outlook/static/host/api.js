// The host page's calls to its own server (sandbox/outlook/host_api.py, naa.py). Failures carry
// Office.js error objects ({name, message, code}) that go back to the add-in unchanged.

export class OfficeError extends Error {
  constructor({ name = "GenericResponseError", message = "The request failed.", code = 9020 } = {}) {
    super(message);
    this.name = name;
    this.code = code;
  }

  toJSON() {
    return { name: this.name, message: this.message, code: this.code };
  }
}

export class HostApi {
  constructor(upn) {
    this.base = `/outlook/api/users/${encodeURIComponent(upn)}`;
  }

  async call(path, body) {
    const init = body === undefined ? {} : {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    };
    const response = await fetch(this.base + path, init);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new OfficeError(data.error);
    return data;
  }

  mailbox() { return this.call("/mailbox"); }
  message(id) { return this.call(`/messages/${encodeURIComponent(id)}`); }
  itemCategories(id, change) {
    return this.call(`/messages/${encodeURIComponent(id)}/categories`, change);
  }
  masterCategories(change) { return this.call("/masterCategories", change); }
  naa(request, token) { return this.call("/naa", { request, token: token || null }); }
}
