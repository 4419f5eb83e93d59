// What the Office.js stand-in asks the host to do, by method name. Each answer becomes the
// AsyncResult the add-in's callback gets (value on success, {name, message, code} on failure).

export function officeCalls({ api, notifications, dialogs, view }) {
  const refreshAfter = async (promise) => {
    const result = await promise;
    view.refresh(); // show the category change in the list and the reading pane
    return result;
  };
  return {
    "item.categories.getAsync": ({ itemId }) => api.itemCategories(itemId).then((r) => r.value),
    "item.categories.addAsync": ({ itemId, categories }) =>
      refreshAfter(api.itemCategories(itemId, { add: categories })).then(() => undefined),
    "item.categories.removeAsync": ({ itemId, categories }) =>
      refreshAfter(api.itemCategories(itemId, { remove: categories })).then(() => undefined),
    "masterCategories.getAsync": () => api.masterCategories().then((r) => r.value),
    "masterCategories.addAsync": ({ categories }) => api.masterCategories({ add: categories }).then(() => undefined),
    "masterCategories.removeAsync": ({ categories }) =>
      refreshAfter(api.masterCategories({ remove: categories })).then(() => undefined),
    "item.notificationMessages.addAsync": ({ itemId, key, details }) => notifications.add(itemId, key, details),
    "item.notificationMessages.replaceAsync": ({ itemId, key, details }) => notifications.replace(itemId, key, details),
    "item.notificationMessages.removeAsync": ({ itemId, key }) => notifications.remove(itemId, key),
    "item.notificationMessages.getAllAsync": ({ itemId }) => notifications.getAll(itemId),
    "ui.displayDialogAsync": ({ url, options }, source, origin) => ({ dialogId: dialogs.display(url, options, source, origin) }),
    "dialog.close": ({ dialogId }) => dialogs.close(dialogId),
  };
}
