// Function commands: the manifest's FunctionFile loaded once in a hidden iframe and kept, each
// ExecuteFunction sent to it with the item and the control id; the button stays busy until the
// add-in calls event.completed(), and after the timeout the host says it didn't respond.
import { frameName, withStandIn } from "./urls.js";

export class FunctionRunner {
  constructor(url, router, naa, timeoutMs) {
    this.url = url;
    this.router = router;
    this.naa = naa;
    this.timeoutMs = timeoutMs;
    this.frame = null;
    this.ready = false;
    this.waiting = []; // invocations sent once the frame says hello
    this.running = new Map(); // invocationId → {resolve, reject, timer}
    this.next = 1;
  }

  ensureFrame() {
    if (this.frame) return;
    const frame = document.createElement("iframe");
    frame.dataset.testid = "function-frame";
    frame.hidden = true;
    frame.title = "Add-in function file";
    frame.name = frameName("function", this.naa);
    frame.src = withStandIn(this.url);
    document.body.append(frame);
    this.frame = frame;
    this.router.register(frame.contentWindow, { kind: "function" });
  }

  // Resolves when the add-in completes, rejects with the reason otherwise.
  invoke(control, item) {
    this.ensureFrame();
    const invocationId = this.next++;
    const message = { type: "invoke", invocationId, functionName: control.action.functionName, controlId: control.id, item };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.settle(invocationId, new Error("The add-in didn't respond.")), this.timeoutMs);
      this.running.set(invocationId, { resolve, reject, timer });
      if (this.ready) this.router.post(this.frame.contentWindow, message);
      else this.waiting.push(message);
    });
  }

  hello() {
    this.ready = true;
    for (const message of this.waiting.splice(0)) this.router.post(this.frame.contentWindow, message);
  }

  settle(invocationId, error, options) {
    const run = this.running.get(invocationId);
    if (!run) return; // completed after the timeout: Outlook ignores it too
    this.running.delete(invocationId);
    clearTimeout(run.timer);
    if (error) run.reject(error);
    else run.resolve(options);
  }
}
