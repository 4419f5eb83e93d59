// The sign-in dialog's last page: hand the short-lived token to the pane that opened it,
// with the pane's nonce, so the pane takes only the answer to its own request.
Office.onReady(() => {
  const { token, nonce } = document.body.dataset;
  Office.context.ui.messageParent(JSON.stringify({ token, nonce }));
});
