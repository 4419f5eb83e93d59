// The sign-in dialog's last page: hand the short-lived token to the pane that opened it.
Office.onReady(() => {
  Office.context.ui.messageParent(JSON.stringify({ token: document.body.dataset.token }));
});
