// Mailferry's add-in API: every call carries the bearer token and the address of the mailbox
// Outlook shows; a refused token is retried once with a fresh one, then reported as
// SignInRequired (never shown as data). A call that takes longer than TIMEOUT_MS fails, so a
// command always completes.

import { accessToken, forgetDialogToken, SignInRequired } from "./auth.js";

export { SignInRequired };

export class ApiError extends Error {}

const TIMEOUT_MS = 15000;

async function send(method, path, body, token) {
  const mailbox = Office.context.mailbox.userProfile.emailAddress;
  try {
    return await fetch(`/addin/api/${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, "X-Mailferry-Mailbox": mailbox,
                 ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      credentials: "omit",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    throw new ApiError(error.name === "TimeoutError" ? "Mailferry did not answer in time; try again."
      : `Mailferry cannot be reached (${error.message}).`);
  }
}

export async function call(method, path, body = null, { interactive = false } = {}) {
  let response = await send(method, path, body, await accessToken({ interactive }));
  if (response.status === 401) {
    response = await send(method, path, body, await accessToken({ interactive, fresh: true }));
  }
  let answer = {};
  try {
    answer = await response.json();
  } catch {
    throw new ApiError(`Mailferry answered HTTP ${response.status}.`);
  }
  if (response.status === 401 || answer.error === "wrong_account") {
    forgetDialogToken();
    throw new SignInRequired(answer.message);
  }
  if (!response.ok) throw new ApiError(answer.message || `Mailferry answered HTTP ${response.status}.`);
  return answer;
}
