// The task pane: the add-in's page in an iframe on the right, with a pin toggle when the manifest
// allows pinning. A pinned pane follows the selection (ItemChanged); an unpinned one closes when
// another message is selected, as in Outlook.
import { frameName, withStandIn } from "./urls.js";

export class TaskPane {
  constructor(aside, router, naa) {
    this.aside = aside;
    this.router = router;
    this.naa = naa;
    this.frame = null;
    this.controlId = null;
    this.pinned = false;
    this.pin = aside.querySelector('[data-testid="pin-taskpane"]');
    this.pin.addEventListener("click", () => this.setPinned(!this.pinned));
    aside.querySelector(".close").addEventListener("click", () => this.close());
  }

  get window() { return this.frame?.contentWindow || null; }

  open(control) {
    if (this.frame && this.controlId === control.id) return;
    this.close();
    this.controlId = control.id;
    this.aside.querySelector(".taskpane-title").textContent = control.label;
    this.pin.hidden = !control.action.supportsPinning;
    this.setPinned(false);
    const frame = document.createElement("iframe");
    frame.dataset.testid = "taskpane-frame";
    frame.title = control.label;
    frame.name = frameName("taskpane", this.naa);
    frame.src = withStandIn(control.action.sourceLocation);
    this.aside.append(frame);
    this.frame = frame;
    this.router.register(frame.contentWindow, { kind: "taskpane" });
    this.aside.hidden = false;
  }

  setPinned(value) {
    this.pinned = value;
    this.pin.setAttribute("aria-pressed", String(value));
    this.pin.textContent = value ? "Unpin" : "Pin";
  }

  close() {
    if (!this.frame) return;
    this.router.unregister(this.frame.contentWindow);
    this.frame.remove();
    this.frame = null;
    this.controlId = null;
    this.aside.hidden = true;
  }
}
