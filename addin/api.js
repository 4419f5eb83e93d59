// Mailferry's add-in API: every call carries the bearer token; a refused token is retried
// once with a fresh one, then reported as SignInRequired (never shown as data).

import { accessToken, SignInRequired } from "./auth.js";

export { SignInRequired };

export class ApiError extends Error {}

async function send(method, path, body, token) {
  return fetch(`/addin/api/${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    credentials: "omit",
  });
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
  if (response.status === 401) throw new SignInRequired(answer.message);
  if (!response.ok) throw new ApiError(answer.message || `Mailferry answered HTTP ${response.status}.`);
  return answer;
}
