// The function commands and the task pane are separate pages of the add-in's origin: when a
// command changes an email (a category, an Ignore List entry), it says so on this channel and
// an open pane showing that email watches for its new status.

const channel = "BroadcastChannel" in window ? new BroadcastChannel("mailferry-addin-changes") : null;

export function announceChange(internetMessageId) {
  if (channel) channel.postMessage({ internetMessageId });
}

export function onChange(callback) {
  if (channel) channel.addEventListener("message", (event) => callback(event.data.internetMessageId));
}
