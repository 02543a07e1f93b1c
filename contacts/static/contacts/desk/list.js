// The contact list: "/" focuses the search; a refused reveal says why beside its eye button.
(function () {
  "use strict";

  function typing(target) {
    return target instanceof HTMLElement &&
      (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) {
      return;
    }
    var search = document.getElementById("contact-search");
    if (search) {
      event.preventDefault();
      search.focus();
      search.select();
    }
  });

  document.addEventListener("htmx:responseError", function (event) {
    var button = event.detail.elt;
    if (!button || !button.classList || !button.classList.contains("eye")) {
      return;
    }
    var reason = event.detail.xhr.responseText || "The value could not be revealed.";
    var note = document.createElement("span");
    note.className = "eye-refused";
    note.textContent = reason;  // text, never markup
    button.replaceWith(note);
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var button = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (button && button.classList && button.classList.contains("eye") && button.isConnected) {
      button.remove();  // the name's eye: its value now shows in the link
    }
  });
})();
