// Getting a bearer token for Mailferry's API (SPEC section 7).
//
// Nested App Authentication first: MSAL.js (served from our origin, from npm) asks Outlook's
// own broker for an Entra access token for Mailferry's API scope. Where the host has no NAA,
// a sign-in dialog (Office.context.ui.displayDialogAsync) runs the web sign-in in its own
// window and hands back a short-lived Mailferry token. Nothing depends on cookies, which a
// third-party iframe may not keep: the dialog token is kept in sessionStorage, which the
// pane and the function file (same origin, same Outlook window) share, and which ends with
// the window.

const settings = JSON.parse(document.body.dataset.settings);
const DIALOG_TOKEN_KEY = "mailferry.dialogToken";
const DIALOG_CLOSED = 12006;
let naaClient = null; // a promise: concurrent callers share one MSAL client

export class SignInRequired extends Error {}

export function naaSupported() {
  return Office.context.requirements.isSetSupported("NestedAppAuth", "1.1");
}

function nestedClient() {
  naaClient ||= msal.createNestablePublicClientApplication({
    auth: { clientId: settings.client_id, authority: settings.authority },
  });
  return naaClient;
}

// A token for the API. `interactive`: a popup or dialog may open (the person clicked);
// otherwise only silent ways are tried and SignInRequired says a click is needed.
// `fresh`: the last token was refused, do not reuse a cached one.
export async function accessToken({ interactive = false, fresh = false } = {}) {
  if (naaSupported()) {
    const client = await nestedClient();
    const request = { scopes: [settings.api_scope], forceRefresh: fresh };
    try {
      return (await client.acquireTokenSilent(request)).accessToken;
    } catch (silentError) {
      if (!interactive) throw new SignInRequired(silentError.message);
      return (await client.acquireTokenPopup(request)).accessToken;
    }
  }
  if (fresh) forgetDialogToken();
  const kept = sessionStorage.getItem(DIALOG_TOKEN_KEY);
  if (kept) return kept;
  if (!interactive) throw new SignInRequired("Sign in to Mailferry.");
  const token = await signInWithDialog();
  sessionStorage.setItem(DIALOG_TOKEN_KEY, token);
  return token;
}

// The API refused the dialog token (expired, or another account's): sign in again.
export function forgetDialogToken() {
  sessionStorage.removeItem(DIALOG_TOKEN_KEY);
}

function signInWithDialog() {
  const nonce = crypto.randomUUID();
  const url = new URL(settings.sign_in_url, window.location.href);
  url.searchParams.set("nonce", nonce);
  return new Promise((resolve, reject) => {
    Office.context.ui.displayDialogAsync(url.href, { height: 60, width: 40 }, (opened) => {
      if (opened.status !== Office.AsyncResultStatus.Succeeded) {
        reject(new Error(`The sign-in window did not open (${opened.error.code}: ${opened.error.message}).`));
        return;
      }
      const dialog = opened.value;
      dialog.addEventHandler(Office.EventType.DialogMessageReceived, (arg) => {
        let answer = null;
        try {
          answer = arg.origin && arg.origin !== window.location.origin ? null : JSON.parse(arg.message);
        } catch {
          answer = null;
        }
        if (!answer || answer.nonce !== nonce || !answer.token) return; // not the answer to this sign-in
        dialog.close();
        resolve(answer.token);
      });
      dialog.addEventHandler(Office.EventType.DialogEventReceived, (arg) => {
        if (arg.error === DIALOG_CLOSED) reject(new SignInRequired("The sign-in window was closed before signing in."));
        else reject(new Error(`The sign-in window failed (${arg.error}).`));
      });
    });
  });
}
