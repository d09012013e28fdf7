// The page's one Socket.IO connection, shared by live.js (the roster), dashboard.js and
// bell.js: started once, signed out once, and one way to show the live state.
// <body data-live> is "connecting", "live" or "offline"; #live-label says it in words.
(function () {
  "use strict";
  var socket = null;

  function start() {
    // The connection, opened on first use. A sign-out (here or on another device) ends it and
    // sends the page to the login: a page may not stay live for a signed-out user.
    if (socket || typeof io === "undefined") { return socket; }
    socket = io({ transports: ["websocket", "polling"] });
    socket.on("signed_out", function () {
      socket.disconnect();
      window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname));
    });
    // While the device itself says it is offline, reconnecting can only fail: wait for it
    // to say it is back, then reconnect at once (rather than after a growing back-off).
    // (disconnect() stops the manager's pending reconnection; connect() starts afresh.)
    window.addEventListener("offline", function () { socket.disconnect(); });
    window.addEventListener("online", function () { if (!socket.connected) { socket.connect(); } });
    return socket;
  }

  function setState(state, labels) {
    document.body.dataset.live = state;
    var label = document.getElementById("live-label");
    if (label && labels && labels[state]) { label.textContent = labels[state]; }
  }

  window.attendanceLive = { socket: start, setState: setState };
})();
