// Getting a bearer token for Mailferry's API (SPEC section 7).
//
// Nested App Authentication first: MSAL.js (served from our origin, from npm) asks Outlook's
// own broker for an Entra access token for Mailferry's API scope. Where the host has no NAA,
// a sign-in dialog (Office.context.ui.displayDialogAsync) runs the web sign-in in its own
// window and hands back a short-lived Mailferry token. Tokens live in memory only: nothing
// depends on cookies, which a third-party iframe may not keep.

const settings = JSON.parse(document.body.dataset.settings);
let dialogToken = null;
let naaClient = null;

export class SignInRequired extends Error {}

function naaSupported() {
  return Office.context.requirements.isSetSupported("NestedAppAuth", "1.1");
}

async function nestedClient() {
  if (!naaClient) {
    naaClient = await msal.createNestablePublicClientApplication({
      auth: { clientId: settings.client_id, authority: settings.authority },
    });
  }
  return naaClient;
}

// A token for the API. `interactive`: the person clicked "Sign in", so a popup or dialog
// may open; otherwise only silent ways are tried and SignInRequired says a click is needed.
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
  if (dialogToken && !fresh) return dialogToken;
  dialogToken = null;
  if (!interactive) throw new SignInRequired("Sign in to Mailferry.");
  dialogToken = await signInWithDialog();
  return dialogToken;
}

function signInWithDialog() {
  const url = new URL(settings.sign_in_url, window.location.href).href;
  return new Promise((resolve, reject) => {
    Office.context.ui.displayDialogAsync(url, { height: 60, width: 40 }, (opened) => {
      if (opened.status !== Office.AsyncResultStatus.Succeeded) {
        reject(new Error(`The sign-in window did not open (${opened.error.code}: ${opened.error.message}).`));
        return;
      }
      const dialog = opened.value;
      dialog.addEventHandler(Office.EventType.DialogMessageReceived, (arg) => {
        dialog.close();
        const answer = JSON.parse(arg.message);
        if (answer.token) resolve(answer.token);
        else reject(new Error(answer.error || "The sign-in did not finish."));
      });
      dialog.addEventHandler(Office.EventType.DialogEventReceived, () => {
        reject(new SignInRequired("The sign-in window was closed before signing in."));
      });
    });
  });
}
