// The host's end of the postMessage channel with the add-in's frames (task pane, function file,
// dialog popups). Only messages from a frame the host opened, at the manifest's origin, are read;
// everything sent goes to that origin only.

export const MARK = "mailferryOutlook";

export class FrameRouter {
  constructor(origin, handlers) {
    this.origin = origin;
    this.handlers = handlers;
    this.frames = new Map(); // window → {kind, ...}
    window.addEventListener("message", (event) => this.receive(event));
  }

  register(win, entry) { this.frames.set(win, entry); }
  unregister(win) { this.frames.delete(win); }

  receive(event) {
    const entry = this.frames.get(event.source);
    if (!entry || event.origin !== this.origin) return;
    const data = event.data;
    if (!data || data[MARK] !== 1 || typeof data.type !== "string") return;
    const handler = this.handlers[data.type];
    if (handler) handler(data, entry, event);
  }

  post(win, message) {
    if (win) win.postMessage({ [MARK]: 1, ...message }, this.origin);
  }
}
