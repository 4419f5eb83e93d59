/*
 * Office.js stand-in for the Mailferry sandbox's simulated Outlook (docs/sandbox.md,
 * "Simulated Outlook"). A classic script defining the global `Office`, like Microsoft's
 * office.js, implementing the subset of the Outlook API Mailferry's add-in uses, with the real
 * shapes (AsyncResult, enums, event objects). It talks to the host page only with postMessage:
 * it sends to, and accepts messages from, the origin it was itself served from. Anything not
 * implemented throws "Office.js stand-in: <name> is not implemented".
 */
(function () {
  "use strict";

  var MARK = "mailferryOutlook";
  var SANDBOX_ORIGIN = new URL(document.currentScript.src).origin;
  // The host puts {frame, naa} in the frame's window.name (as Office on the web passes its host
  // information); a page opened anywhere else behaves as under office.js outside Office.
  var hostInfo = (function () {
    try {
      var parsed = JSON.parse(window.name);
      return (parsed && parsed[MARK]) || null;
    } catch (error) {
      return null;
    }
  })();
  var isDialog = Boolean(hostInfo && hostInfo.frame === "dialog");
  var hostWindow = hostInfo ? (isDialog ? window.opener : window.parent) : null;
  if (hostWindow === window) hostWindow = null;

  // -- strictness: unimplemented members throw instead of silently being undefined ------------
  var SAFE = ["then", "toJSON", "constructor", "valueOf", "toString", "nodeType", "$$typeof", "asymmetricMatch", "length"];
  function notImplemented(name) {
    return new Error("Office.js stand-in: " + name + " is not implemented");
  }
  function strict(path, target) {
    return new Proxy(target, {
      get: function (object, property, receiver) {
        if (typeof property === "symbol" || property in object || SAFE.indexOf(property) >= 0) {
          return Reflect.get(object, property, receiver);
        }
        throw notImplemented(path + "." + property);
      },
    });
  }

  // -- enums -------------------------------------------------------------------------------
  var colors = { None: "None" };
  for (var n = 0; n <= 24; n++) colors["Preset" + n] = "Preset" + n;
  var AsyncResultStatus = { Succeeded: "succeeded", Failed: "failed" };
  var EventType = {
    ItemChanged: "olkItemSelectedChanged",
    DialogMessageReceived: "dialogMessageReceived",
    DialogEventReceived: "dialogEventReceived",
  };
  var NotificationType = {
    ProgressIndicator: "progressIndicator", InformationalMessage: "informationalMessage",
    ErrorMessage: "errorMessage", InsightMessage: "insightMessage",
  };
  var SUPPORTED_SETS = { mailbox: "1.14", dialogapi: "1.2" };

  // -- the channel to the host ---------------------------------------------------------------
  var handlers = {};
  function send(message) {
    if (!hostWindow) throw new Error("Office.js stand-in: this page is not running inside the simulated Outlook");
    message[MARK] = 1;
    hostWindow.postMessage(message, SANDBOX_ORIGIN);
  }
  window.addEventListener("message", function (event) {
    if (!hostWindow || event.source !== hostWindow || event.origin !== SANDBOX_ORIGIN) return;
    var data = event.data;
    if (!data || data[MARK] !== 1 || !handlers[data.type]) return;
    handlers[data.type](data);
  });

  function asyncResult(ok, value, error, options) {
    return {
      status: ok ? AsyncResultStatus.Succeeded : AsyncResultStatus.Failed,
      value: ok ? value : undefined,
      error: ok ? undefined : { name: error.name, message: error.message, code: error.code },
      asyncContext: options && options.asyncContext,
      diagnostics: undefined,
    };
  }

  // `(required..., options?, callback?)`, as every *Async method takes them.
  function tail(args, required) {
    var rest = Array.prototype.slice.call(args, required);
    var callback = rest.filter(function (a) { return typeof a === "function"; })[0];
    var options = rest.filter(function (a) { return a && typeof a === "object"; })[0] || {};
    return { callback: callback, options: options };
  }

  var pendingCalls = {};
  var nextCall = 1;
  function hostCall(method, args, options, callback, wrap) {
    var id = nextCall++;
    pendingCalls[id] = function (reply) {
      if (!callback) return;
      var value = reply.ok && wrap ? wrap(reply.value) : reply.value;
      callback(asyncResult(reply.ok, value, reply.error, options));
    };
    send({ type: "call", id: id, method: method, args: args });
  }
  handlers.result = function (data) {
    var done = pendingCalls[data.id];
    delete pendingCalls[data.id];
    if (done) done(data);
  };

  function argumentError(name, why) {
    var error = new Error("Sys.ArgumentException: Value does not fall within the expected range.\nParameter name: " + name + " (" + why + ")");
    error.name = "Sys.ArgumentException";
    return error;
  }

  // -- the item ------------------------------------------------------------------------------
  function checkNotification(key, details) {
    if (typeof key !== "string" || !key) throw argumentError("key", "a non-empty string is required");
    if (key.length > 32) throw argumentError("key", "at most 32 characters");
    if (!details || typeof details !== "object") throw argumentError("JSONmessage", "an object is required");
    var types = Object.keys(NotificationType).map(function (k) { return NotificationType[k]; });
    if (types.indexOf(details.type) < 0) throw argumentError("type", "one of " + types.join(", "));
    if (typeof details.message !== "string" || !details.message) throw argumentError("message", "a non-empty string is required");
    if (details.message.length > 150) throw argumentError("message", "at most 150 characters");
    if (details.actions !== undefined) throw notImplemented("NotificationMessageDetails.actions");
    var informational = details.type === NotificationType.InformationalMessage;
    if (informational && (typeof details.icon !== "string" || typeof details.persistent !== "boolean")) {
      throw argumentError(typeof details.icon !== "string" ? "icon" : "persistent", "required for informationalMessage");
    }
    if (!informational && details.persistent !== undefined) throw argumentError("persistent", "only for informationalMessage");
    if (!informational && details.type !== NotificationType.InsightMessage && details.icon !== undefined) {
      throw argumentError("icon", "only for informationalMessage and insightMessage");
    }
    return { type: details.type, message: details.message, icon: details.icon, persistent: details.persistent };
  }

  function categoryNames(value, parameter) {
    if (!Array.isArray(value) || !value.length) throw argumentError(parameter, "a non-empty array is required");
    return value;
  }

  function makeItem(data) {
    if (!data) return null;
    var itemId = data.itemId;
    var path = "Office.context.mailbox.item";
    var item = {
      itemId: itemId, itemType: data.itemType, itemClass: data.itemClass,
      internetMessageId: data.internetMessageId, conversationId: data.conversationId,
      subject: data.subject, normalizedSubject: data.normalizedSubject,
      from: data.from, sender: data.sender, to: data.to, cc: data.cc,
      dateTimeCreated: new Date(data.dateTimeCreated), dateTimeModified: new Date(data.dateTimeModified),
      categories: strict(path + ".categories", {
        getAsync: function () {
          var t = tail(arguments, 0);
          hostCall("item.categories.getAsync", { itemId: itemId }, t.options, t.callback);
        },
        addAsync: function (categories) {
          var t = tail(arguments, 1);
          hostCall("item.categories.addAsync", { itemId: itemId, categories: categoryNames(categories, "categories") }, t.options, t.callback);
        },
        removeAsync: function (categories) {
          var t = tail(arguments, 1);
          hostCall("item.categories.removeAsync", { itemId: itemId, categories: categoryNames(categories, "categories") }, t.options, t.callback);
        },
      }),
      notificationMessages: strict(path + ".notificationMessages", {
        addAsync: function (key, details) {
          var t = tail(arguments, 2);
          hostCall("item.notificationMessages.addAsync", { itemId: itemId, key: key, details: checkNotification(key, details) }, t.options, t.callback);
        },
        replaceAsync: function (key, details) {
          var t = tail(arguments, 2);
          hostCall("item.notificationMessages.replaceAsync", { itemId: itemId, key: key, details: checkNotification(key, details) }, t.options, t.callback);
        },
        removeAsync: function (key) {
          var t = tail(arguments, 1);
          if (typeof key !== "string" || !key) throw argumentError("key", "a non-empty string is required");
          hostCall("item.notificationMessages.removeAsync", { itemId: itemId, key: key }, t.options, t.callback);
        },
        getAllAsync: function () {
          var t = tail(arguments, 0);
          hostCall("item.notificationMessages.getAllAsync", { itemId: itemId }, t.options, t.callback);
        },
      }),
    };
    return strict(path, item);
  }

  // -- the mailbox ---------------------------------------------------------------------------
  var itemChangedHandlers = [];
  function makeMailbox(context) {
    var profile = context.userProfile || {};
    return strict("Office.context.mailbox", {
      item: makeItem(context.item),
      userProfile: strict("Office.context.mailbox.userProfile", {
        displayName: profile.displayName, emailAddress: profile.emailAddress,
        timeZone: profile.timeZone, accountType: profile.accountType,
      }),
      diagnostics: strict("Office.context.mailbox.diagnostics", {
        hostName: "OutlookWebApp", hostVersion: "16.0", OWAView: "ThreeColumns",
      }),
      masterCategories: strict("Office.context.mailbox.masterCategories", {
        getAsync: function () {
          var t = tail(arguments, 0);
          hostCall("masterCategories.getAsync", {}, t.options, t.callback);
        },
        addAsync: function (categories) {
          var t = tail(arguments, 1);
          hostCall("masterCategories.addAsync", { categories: categoryNames(categories, "categories") }, t.options, t.callback);
        },
        removeAsync: function (categories) {
          var t = tail(arguments, 1);
          hostCall("masterCategories.removeAsync", { categories: categoryNames(categories, "categories") }, t.options, t.callback);
        },
      }),
      // The simulated Outlook hands out Graph (REST) ids already, so conversion is the identity.
      convertToRestId: function (id) { return id; },
      convertToEwsId: function (id) { return id; },
      addHandlerAsync: function (eventType, handler) {
        var t = tail(arguments, 2);
        if (eventType !== EventType.ItemChanged) throw notImplemented("mailbox.addHandlerAsync(" + eventType + ")");
        if (typeof handler !== "function") throw argumentError("handler", "a function is required");
        itemChangedHandlers.push(handler);
        if (t.callback) t.callback(asyncResult(true, undefined, null, t.options));
      },
      removeHandlerAsync: function (eventType) {
        var t = tail(arguments, 1);
        if (eventType !== EventType.ItemChanged) throw notImplemented("mailbox.removeHandlerAsync(" + eventType + ")");
        itemChangedHandlers = [];
        if (t.callback) t.callback(asyncResult(true, undefined, null, t.options));
      },
    });
  }

  handlers.event = function (data) {
    Office.context.mailbox.item = makeItem(data.item);
    itemChangedHandlers.slice().forEach(function (handler) { handler({ type: EventType.ItemChanged }); });
  };

  // -- dialogs -------------------------------------------------------------------------------
  var dialogs = {};
  function makeDialog(id) {
    var listeners = {};
    dialogs[id] = listeners;
    return strict("Office.Dialog", {
      addEventHandler: function (eventType, handler) {
        if (eventType !== EventType.DialogMessageReceived && eventType !== EventType.DialogEventReceived) {
          throw notImplemented("Dialog.addEventHandler(" + eventType + ")");
        }
        (listeners[eventType] = listeners[eventType] || []).push(handler);
      },
      close: function () {
        delete dialogs[id];
        send({ type: "call", id: 0, method: "dialog.close", args: { dialogId: id } });
      },
    });
  }
  handlers["dialog-event"] = function (data) {
    var listeners = dialogs[data.dialogId];
    if (!listeners) return;
    var message = data.kind === "message"
      ? { type: EventType.DialogMessageReceived, message: data.message, origin: data.origin }
      : { type: EventType.DialogEventReceived, error: data.error };
    if (data.kind !== "message") delete dialogs[data.dialogId];
    (listeners[message.type] || []).forEach(function (handler) { handler(message); });
  };

  var ui = strict("Office.context.ui", {
    displayDialogAsync: function (url) {
      if (isDialog) throw notImplemented("Office.context.ui.displayDialogAsync inside a dialog");
      var t = tail(arguments, 1);
      var options = { width: t.options.width, height: t.options.height, displayInIframe: t.options.displayInIframe };
      hostCall("ui.displayDialogAsync", { url: String(url), options: options }, t.options, t.callback,
        function (value) { return makeDialog(value.dialogId); });
    },
    messageParent: function (message) {
      if (!isDialog) throw new Error("Office.js stand-in: messageParent is only available in a dialog");
      send({ type: "dialog-message", message: String(message) });
    },
  });

  // -- requirements, actions, readiness ------------------------------------------------------
  function atLeast(have, want) {
    var a = String(have).split("."), b = String(want || "1.1").split(".");
    for (var i = 0; i < Math.max(a.length, b.length); i++) {
      var x = Number(a[i] || 0), y = Number(b[i] || 0);
      if (x !== y) return x > y;
    }
    return true;
  }
  var requirements = strict("Office.context.requirements", {
    isSetSupported: function (name, minVersion) {
      if (!hostInfo) return false;
      var key = String(name).toLowerCase();
      if (key === "nestedappauth") return Boolean(hostInfo.naa) && atLeast("1.1", minVersion);
      return key in SUPPORTED_SETS && atLeast(SUPPORTED_SETS[key], minVersion);
    },
  });

  var associations = {};
  handlers.invoke = function (data) {
    ready.then(function () {
      Office.context.mailbox.item = makeItem(data.item);
      var fn = associations[data.functionName] || (typeof window[data.functionName] === "function" ? window[data.functionName] : null);
      if (!fn) {
        send({ type: "invoke-failed", invocationId: data.invocationId,
          message: "The add-in's function file has no function '" + data.functionName + "' (Office.actions.associate was not called for it)." });
        return;
      }
      var done = false;
      var event = strict("Office.AddinCommands.Event", {
        source: { id: data.controlId },
        completed: function (options) {
          if (done) return;
          done = true;
          send({ type: "completed", invocationId: data.invocationId, options: options ? { allowEvent: options.allowEvent } : undefined });
        },
      });
      try {
        fn(event);
      } catch (error) {
        send({ type: "invoke-failed", invocationId: data.invocationId,
          message: "The add-in's function '" + data.functionName + "' failed: " + (error && error.message) });
        throw error;
      }
    });
  };

  var domReady = new Promise(function (resolve) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", resolve, { once: true });
    else resolve();
  });
  var resolveContext;
  var contextReady = new Promise(function (resolve) { resolveContext = resolve; });
  handlers.context = function (data) {
    if (Office.context.mailbox) return;
    Office.context.mailbox = makeMailbox(data.context);
    resolveContext();
  };

  var inOutlook = { host: "Outlook", platform: "OfficeOnline" };
  var ready;
  if (!hostWindow) ready = domReady.then(function () { return { host: null, platform: null }; });
  else if (isDialog) ready = domReady.then(function () { return inOutlook; });
  else ready = Promise.all([domReady, contextReady]).then(function () { return inOutlook; });
  ready.then(function () {
    if (typeof Office.initialize === "function") Office.initialize("inserted");
  });

  var Office = strict("Office", {
    initialize: undefined,
    onReady: function (callback) {
      return ready.then(function (info) {
        if (typeof callback === "function") callback(info);
        return info;
      });
    },
    context: strict("Office.context", {
      mailbox: undefined, requirements: requirements, ui: ui,
      displayLanguage: "en-US", contentLanguage: "en-US",
    }),
    actions: strict("Office.actions", {
      associate: function (name, fn) {
        if (typeof name !== "string" || typeof fn !== "function") throw argumentError("associate", "a name and a function are required");
        associations[name] = fn;
      },
    }),
    AsyncResultStatus: strict("Office.AsyncResultStatus", AsyncResultStatus),
    EventType: strict("Office.EventType", EventType),
    HostType: strict("Office.HostType", { Outlook: "Outlook" }),
    PlatformType: strict("Office.PlatformType", { OfficeOnline: "OfficeOnline" }),
    MailboxEnums: strict("Office.MailboxEnums", {
      CategoryColor: strict("Office.MailboxEnums.CategoryColor", colors),
      ItemNotificationMessageType: strict("Office.MailboxEnums.ItemNotificationMessageType", NotificationType),
      RestVersion: strict("Office.MailboxEnums.RestVersion", { v1_0: "v1.0", v2_0: "v2.0", Beta: "beta" }),
      ItemType: strict("Office.MailboxEnums.ItemType", { Message: "message", Appointment: "appointment" }),
      RecipientType: strict("Office.MailboxEnums.RecipientType", {
        DistributionList: "distributionList", User: "user", ExternalUser: "externalUser", Other: "other",
      }),
    }),
  });
  window.Office = Office;

  // -- Nested App Authentication: the bridge msal-browser's createNestablePublicClientApplication
  // looks for; defined now, before the page's own scripts run.
  if (hostWindow && hostInfo.naa && !isDialog) {
    var naaListeners = [];
    window.nestedAppAuthBridge = {
      postMessage: function (payload) { send({ type: "naa", payload: String(payload) }); },
      addEventListener: function (type, listener) { if (type === "message") naaListeners.push(listener); },
      removeEventListener: function (type, listener) {
        naaListeners = naaListeners.filter(function (l) { return l !== listener; });
      },
    };
    handlers.naa = function (data) {
      naaListeners.slice().forEach(function (listener) { listener(data.payload); });
    };
  }

  if (hostWindow && !isDialog) send({ type: "hello" });
})();
