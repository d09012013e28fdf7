// Site-wide behaviour, no inline scripts (the pages run under a strict CSP).
(function () {
  "use strict";

  // Every htmx request carries the CSRF token from <meta name="csrf-token">.
  document.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) { event.detail.headers["X-CSRFToken"] = meta.content; }
  });

  function flash(message, category) {
    var region = document.getElementById("flash");
    if (!region) { return; }
    var p = document.createElement("p");
    p.className = "flash flash-" + (category || "error");
    p.setAttribute("role", "alert");
    p.textContent = message;
    region.replaceChildren(p);
  }
  window.attendanceFlash = flash;

  // A rate as every page writes it (services.reporting.statistics.rate_text, the `rate` template filter):
  // two decimals at most, at least one — 80 → "80.0", 33.333 → "33.33" — so a number updated
  // live or shown by a chart reads the same as the page first drawn.
  window.attendanceRate = function (value) {
    var n = Math.round(Number(value) * 100) / 100;
    return Number.isInteger(n) ? n.toFixed(1) : String(n);
  };

  // A network failure never leaves a silently wrong cell: mark the element and say so.
  document.addEventListener("htmx:sendError", function (event) {
    var taps = window.attendanceTaps;
    // A roster tap that failed on the way is kept and sent again by taps.js, which says so
    // itself ("not saved, tap again" would be untrue, and a second tap would cycle on).
    if (taps && taps.isTap(event.detail.requestConfig || {})) { return; }
    var elt = event.detail.elt;
    var cell = elt && elt.closest ? elt.closest("[data-student-id]") : null;
    if (cell) { cell.classList.add("pending-retry"); }
    flash("No connection: that change was not saved. Check the network and tap again.");
  });
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var taps = window.attendanceTaps;
    // A roster tap answered 503 is kept and retried by taps.js, which says so itself.
    if (xhr && xhr.status === 503 && taps && taps.isTap(event.detail.requestConfig || {})) { return; }
    if (xhr && xhr.status >= 500) {
      flash("The server failed to answer; nothing was changed. Please try again.");
    }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail.elt;
    var cell = elt && elt.closest ? elt.closest("[data-student-id]") : null;
    if (cell && event.detail.successful) { cell.classList.remove("pending-retry"); }
  });
})();
