// The projector's check-in code: a countdown to the next code, then the next code fetched from
// the server (which alone knows the codes), and the live count of students checked in over the
// page's one Socket.IO connection. <body data-live> is "connecting", "live" or "offline".
(function () {
  "use strict";
  var body = document.body;
  var sessionId = body.dataset.sessionId;
  var panelUrl = body.dataset.panelUrl;
  var LABELS = { connecting: "Connecting…", live: "Live", offline: "Offline — reconnecting" };
  var deadline = 0;
  var timer = null;
  var refreshing = false;
  var again = false;
  var soon = null;

  function setState(state) { window.attendanceLive.setState(state, LABELS); }

  function setStats(stats) {
    Object.keys(stats || {}).forEach(function (key) {
      var el = document.querySelector('[data-stat="' + key + '"]');
      if (el) { el.textContent = key === "attendance_rate" ? window.attendanceRate(stats[key]) : String(stats[key]); }
    });
    var explained = document.querySelector(".rate-explained");
    if (explained && stats) {
      explained.textContent = stats.attendance_rate + "% = " + (stats.present + stats.late) + " of " +
        stats.total_enrolled + " (" + stats.present + " present + " + stats.late + " late) · " +
        stats.not_marked + " not marked";
    }
  }

  // The panel says how long its code has left (seconds, as the server counted them): the
  // deadline is local, so a projector whose clock is wrong still counts down correctly.
  function readPanel() {
    var panel = document.getElementById("check-in-panel");
    if (!panel || panel.dataset.closed) { clearInterval(timer); timer = null; return; }
    var left = Math.max(0.5, parseFloat(panel.dataset.expiresIn || "0"));
    deadline = Date.now() + left * 1000;
    tick();
  }

  function tick() {
    var left = Math.max(0, (deadline - Date.now()) / 1000);
    var count = document.querySelector("[data-countdown]");
    if (count) { count.textContent = String(Math.ceil(left)); }
    var bar = document.getElementById("countdown-bar");
    if (bar) { bar.value = left; }
    if (left <= 0) { refresh(); }
  }

  function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    fetch(panelUrl, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (response) {
        if (response.redirected) { window.location.reload(); throw new Error("signed out"); }
        return response.text();
      })
      .then(function (html) {
        htmx.swap("#check-in-panel", html, { swapStyle: "outerHTML" });
        refreshing = false;
        readPanel();
        if (again) { again = false; refresh(); }
      })
      .catch(function () {
        // No answer: keep the code shown and try again shortly.
        refreshing = false;
        deadline = Date.now() + 2000;
      });
  }

  function refreshSoon() {
    clearTimeout(soon);
    soon = setTimeout(refresh, 300);
  }

  function start() {
    if (!sessionId || !panelUrl) { return; }
    readPanel();
    timer = setInterval(tick, 250);
    var socket = window.attendanceLive && window.attendanceLive.socket();
    if (!socket) { return; }
    var joinedBefore = false;
    setState("connecting");
    socket.on("connect", function () {
      setState("connecting");
      socket.emit("join_session", { session_id: sessionId }, function (ack) {
        if (!ack || !ack.ok) { setState("offline"); return; }
        if (ack.status !== "ACTIVE") { window.location.reload(); return; }
        setStats(ack.statistics);
        // After a reconnection the count may have changed meanwhile.
        if (joinedBefore) { refresh(); }
        joinedBefore = true;
        setState("live");
      });
    });
    socket.on("disconnect", function () { setState("offline"); });
    socket.on("connect_error", function () { setState("offline"); });
    socket.on("statistics", function (msg) {
      if (msg.session_id === sessionId) { setStats(msg.statistics); }
    });
    socket.on("attendance", function (msg) {
      if (msg.session_id === sessionId) { refreshSoon(); }
    });
    socket.on("session", function (msg) {
      if (msg.session_id === sessionId && msg.status !== "ACTIVE") { window.location.reload(); }
    });
  }

  document.addEventListener("DOMContentLoaded", start);
})();
