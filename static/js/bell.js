// The bell in the header: its unread count follows `notifications` events live, on the page's
// one Socket.IO connection (the roster's or dashboard's, or its own on other pages), and
// resynchronises after every (re)connect.
(function () {
  "use strict";

  function show(unread) {
    var bell = document.querySelector("[data-bell]");
    var count = bell && bell.querySelector("[data-bell-count]");
    if (!bell || !count || typeof unread !== "number") { return; }
    var before = parseInt(bell.dataset.unread || "0", 10);
    bell.dataset.unread = String(unread);
    count.textContent = String(unread);
    count.hidden = unread === 0;
    bell.setAttribute("aria-label", "Notifications: " + unread + " unread");
    if (unread > before) {
      bell.classList.remove("bell-new");
      void bell.offsetWidth; // restart the animation
      bell.classList.add("bell-new");
    }
  }
  window.attendanceBell = show;

  function resync() {
    fetch("/notifications/count", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) { show(data.unread); } })
      .catch(function () {});
  }

  function start() {
    // The page's one connection (socket.js), shared with the roster's or dashboard's script.
    var socket = document.querySelector("[data-bell]") ? window.attendanceLive.socket() : null;
    if (!socket) { return; }
    socket.on("notifications", function (msg) { show(msg && msg.unread); });
    socket.on("connect", resync);
  }

  document.addEventListener("DOMContentLoaded", function () { setTimeout(start, 0); });
})();
