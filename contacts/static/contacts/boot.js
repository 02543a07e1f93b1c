/* Contacts CRM website SDK: identifies visitors, updates them and tracks events.
 *
 *   <script src="https://crm.example.com/sdk/v1/boot.js"></script>
 *   <script>
 *     ContactsCRM.boot({pluginKey: "…", memberId: "m-42", memberHash: "…", profile: {name: "…"}})
 *       .then(function (user) { console.log(user.id); });
 *   </script>
 *
 * The anonymous device id (veilId) is kept in localStorage (and a first-party cookie as a
 * fallback); the session token of the last boot authenticates updateUser, track and tags.
 */
(function (window, document) {
  "use strict";
  var VEIL_KEY = "contactsCrmVeilId";
  var script = document.currentScript;
  var base = script && script.src ? new URL(script.src).origin : window.location.origin;
  var state = { sessionToken: null, user: null };

  function readVeil() {
    try {
      var stored = window.localStorage.getItem(VEIL_KEY);
      if (stored) return stored;
    } catch (e) { /* storage blocked: use the cookie */ }
    var match = document.cookie.match(new RegExp("(?:^|; )" + VEIL_KEY + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : null;
  }

  function writeVeil(value) {
    try {
      if (value) window.localStorage.setItem(VEIL_KEY, value);
      else window.localStorage.removeItem(VEIL_KEY);
    } catch (e) { /* storage blocked */ }
    var age = value ? 60 * 60 * 24 * 365 * 2 : 0;
    document.cookie = VEIL_KEY + "=" + encodeURIComponent(value || "") +
      "; path=/; max-age=" + age + "; SameSite=Lax";
  }

  function request(path, body, withSession) {
    var headers = { "Content-Type": "application/json" };
    if (withSession) {
      if (!state.sessionToken) return Promise.reject(new Error("Call ContactsCRM.boot first."));
      headers["x-session-token"] = state.sessionToken;
    }
    return window.fetch(base + "/sdk/v1/" + path, {
      method: "POST", headers: headers, body: JSON.stringify(body), credentials: "omit"
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) {
          var error = new Error(data.message || ("HTTP " + response.status));
          error.status = response.status; error.body = data;
          throw error;
        }
        if (data.user) state.user = data.user;
        return data;
      });
    });
  }

  function boot(options) {
    options = options || {};
    var body = {};
    for (var key in options) {
      if (Object.prototype.hasOwnProperty.call(options, key)) body[key] = options[key];
    }
    var veil = readVeil();
    if (veil && !body.veilId) body.veilId = veil;
    body.page = { url: window.location.href, referrer: document.referrer, title: document.title };
    body.device = { platform: "web", userAgent: window.navigator.userAgent };
    return request("boot", body, false).then(function (data) {
      state.sessionToken = data.sessionToken;
      if (data.veilId) writeVeil(data.veilId);
      return data.user;
    });
  }

  function user(data) { return request("user", data || {}, true).then(function (d) { return d.user; }); }
  function track(name, property) {
    return request("events", { name: name, property: property || {} }, true);
  }
  function tags(add, remove) {
    return request("tags", { add: add || [], remove: remove || [] }, true)
      .then(function (d) { return d.user; });
  }

  window.ContactsCRM = {
    boot: boot,
    updateUser: user,
    track: track,
    addTags: function (list) { return tags(list, []); },
    removeTags: function (list) { return tags([], list); },
    shutdown: function () { state.sessionToken = null; state.user = null; writeVeil(null); },
    user: function () { return state.user; }
  };
})(window, document);
