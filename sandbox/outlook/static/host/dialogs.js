// Office dialogs (displayDialogAsync): a real popup window opened by the host for a pane or
// function frame. Messages the dialog page sends with messageParent are passed to the frame
// that opened it; the user closing the popup is reported as DialogEventReceived 12006.
import { frameName } from "./urls.js";

const fail = (code, message) => Object.assign(new Error(message), { name: "Dialog error", code });

export class Dialogs {
  constructor(router, naa) {
    this.router = router;
    this.naa = naa;
    this.open = null; // {id, popup, owner, timer}
    this.next = 1;
  }

  // Outlook's checks on the first URL (reference §3.6): HTTPS, same origin as the calling page.
  display(url, options, owner, callerOrigin) {
    let target;
    try {
      target = new URL(url);
    } catch {
      throw fail(12002, "The dialog URL is not valid.");
    }
    if (target.protocol !== "https:") throw fail(12005, "The URL passed to displayDialogAsync uses the HTTP protocol. HTTPS is required.");
    if (target.origin !== callerOrigin) throw fail(12004, "The domain of the URL is not in the AppDomains element in the manifest and is not the same domain as the add-in.");
    if (this.open && !this.open.popup.closed) throw fail(12007, "A dialog box is already opened from this host window.");
    const width = Math.round(screen.availWidth * (Number(options?.width) || 80) / 100);
    const height = Math.round(screen.availHeight * (Number(options?.height) || 80) / 100);
    const popup = window.open(target.href, frameName("dialog", this.naa), `popup,width=${width},height=${height}`);
    if (!popup) throw fail(12011, "The dialog was blocked by the browser's popup blocker.");
    const id = this.next++;
    this.router.register(popup, { kind: "dialog", dialogId: id });
    const timer = setInterval(() => {
      if (!popup.closed) return;
      this.forget();
      this.router.post(owner, { type: "dialog-event", dialogId: id, kind: "event", error: 12006 });
    }, 300);
    this.open = { id, popup, owner, timer };
    return id;
  }

  message(dialogId, message, origin) {
    if (this.open?.id !== dialogId) return;
    this.router.post(this.open.owner, { type: "dialog-event", dialogId, kind: "message", message, origin });
  }

  // dialog.close() from the add-in: no DialogEventReceived, as in Outlook.
  close(dialogId) {
    if (this.open?.id !== dialogId) return;
    const { popup } = this.open;
    this.forget();
    popup.close();
  }

  forget() {
    clearInterval(this.open.timer);
    this.router.unregister(this.open.popup);
    this.open = null;
  }
}
