// The desk's profile and blocked pages: feedback for the eye button, Esc closes the block box.
// (A static file, not an inline script: the pages will carry a Content-Security-Policy.)
(function () {
  "use strict";
  // A refused reveal (403: the role may not reveal; 400: nothing to reveal) says why in place.
  document.addEventListener("htmx:responseError", function (event) {
    var button = event.detail.elt;
    if (!button || !button.classList || !button.classList.contains("eye")) return;
    var page = button.closest(".desk-page");
    var note = document.createElement("span");
    note.className = "reveal-error";
    note.setAttribute("role", "alert");
    note.textContent =
      (event.detail.xhr && event.detail.xhr.responseText) ||
      (page && page.dataset.revealFailed) || "";
    button.replaceWith(note);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("details.block-box[open]").forEach(function (box) {
      box.open = false;
    });
  });
})();
