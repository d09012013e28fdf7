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
    return socket;
  }

  function setState(state, labels) {
    document.body.dataset.live = state;
    var label = document.getElementById("live-label");
    if (label && labels && labels[state]) { label.textContent = labels[state]; }
  }

  window.attendanceLive = { socket: start, setState: setState };
})();
