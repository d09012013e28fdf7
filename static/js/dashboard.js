// The admin dashboard: the roll board kept live over Socket.IO (the weekly trend chart is
// rate_chart.js; admins' connections receive every session's `statistics` and `session` events).
// <body data-live> is "connecting", "live" (connected and the board reloaded) or "offline".
(function () {
  "use strict";
  var body = document.body;
  var LABELS = { connecting: "Connecting…", live: "Live", offline: "Offline — the board will catch up when the connection is back" };
  var seqs = {};  // session id → last applied seq

  function setState(state) { window.attendanceLive.setState(state, LABELS); }

  function board() { return document.getElementById("roll-board"); }

  function row(sessionId) {
    var b = board();
    return b ? b.querySelector('tr[data-session-id="' + sessionId + '"]') : null;
  }

  function part(tr, name) { return tr.querySelector('[data-board="' + name + '"]'); }

  function refreshFlag(tr) {
    // Minutes since the start, and the "0 marked" flag once the quiet threshold has passed.
    var started = Date.parse(tr.dataset.started);
    if (isNaN(started)) { return; }
    var minutes = Math.max(0, Math.floor((Date.now() - started) / 60000));
    var quietAfter = parseInt(board().dataset.quietAfter || "15", 10);
    var marked = parseInt(part(tr, "marked").textContent, 10);
    var quiet = minutes >= quietAfter && marked === 0;
    part(tr, "minutes").textContent = String(minutes);
    var flag = part(tr, "flag");
    flag.textContent = "started " + minutes + " min ago, 0 marked";
    flag.hidden = !quiet;
    tr.classList.toggle("quiet", quiet);
  }

  function applyStatistics(msg) {
    var tr = row(msg.session_id);
    if (!tr) { reloadBoard(); return; }  // a session this board does not show yet
    if (seqs[msg.session_id] !== undefined && msg.seq < seqs[msg.session_id]) { return; }
    seqs[msg.session_id] = msg.seq;
    var st = msg.statistics;
    var marked = st.present + st.absent + st.late;
    part(tr, "marked").textContent = String(marked);
    part(tr, "total").textContent = String(st.total_enrolled);
    part(tr, "rate").textContent = window.attendanceRate(st.attendance_rate);
    var progress = part(tr, "progress");
    progress.max = st.total_enrolled || 1;
    progress.value = marked;
    progress.setAttribute("aria-label", marked + " of " + st.total_enrolled + " marked");
    refreshFlag(tr);
  }

  var reloading = null;
  function reloadBoard(then) {
    // The server's whole board: sessions started or ended since the page loaded.
    if (reloading) { return reloading; }
    reloading = fetch(body.dataset.boardUrl, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("board reload failed: " + response.status); }
        return response.text();
      })
      .then(function (html) {
        htmx.swap("#roll-board", html, { swapStyle: "outerHTML" });
        seqs = {};
        reloading = null;
        if (then) { then(); }
      })
      .catch(function () { reloading = null; setState("offline"); });
    return reloading;
  }

  function start() {
    setInterval(function () {
      var b = board();
      if (b) { b.querySelectorAll("tr[data-session-id]").forEach(refreshFlag); }
    }, 30000);
    var socket = window.attendanceLive.socket();
    if (!socket) { setState("offline"); return; }
    setState("connecting");
    socket.on("connect", function () {
      setState("connecting");
      // Anything missed while disconnected: reload the board, then we are live.
      reloadBoard(function () { setState("live"); });
    });
    socket.on("disconnect", function () { setState("offline"); });
    socket.on("connect_error", function () { setState("offline"); });
    socket.on("statistics", applyStatistics);
    socket.on("session", function (msg) {
      var tr = row(msg.session_id);
      if (!tr || msg.status !== "ACTIVE") { reloadBoard(); }
    });
  }

  document.addEventListener("DOMContentLoaded", start);
})();
