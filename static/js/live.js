// Live updates of the roster over Socket.IO: join the session's room, apply broadcasts in
// sequence order, resynchronise from the server after every (re)connect.
// <body data-live> is "connecting", "live" (joined and in sync) or "offline".
(function () {
  "use strict";
  var body = document.body;
  var sessionId = body.dataset.sessionId;
  var seq = parseInt(body.dataset.seq || "0", 10);
  // The state in a word: what being offline means for taps is the banner's to say
  // (#offline-notice, sessions/roster.html), once.
  var LABELS = { connecting: "Connecting…", live: "Live", offline: "Offline" };
  if (body.dataset.sessionStatus === "ENDED") {
    // Nothing on an ended session changes: no green "Live" (app.css greys the dot).
    LABELS.live = "Ended · read-only";
  }

  function setState(state) { window.attendanceLive.setState(state, LABELS); }

  function showViewers(v) {
    var el = document.getElementById("viewers");
    if (!el || !v) { return; }
    el.textContent = v.count > 1 ? v.count + " people marking: " + v.names.join(", ") : "";
    el.title = v.names.join(", ");
  }

  function setStats(stats) {
    Object.keys(stats).forEach(function (key) {
      var el = document.querySelector('[data-stat="' + key + '"]');
      if (el) { el.textContent = key === "attendance_rate" ? window.attendanceRate(stats[key]) : String(stats[key]); }
    });
    var explained = document.querySelector(".rate-explained");
    if (explained) {
      explained.textContent = window.attendanceRate(stats.attendance_rate) + "% = " + (stats.present + stats.late) + " of " +
        stats.total_enrolled + " (" + stats.present + " present + " + stats.late + " late) · " +
        stats.not_marked + " not marked";
    }
  }

  function applyRecord(rec) {
    var cell = document.querySelector('#roster-grid [data-student-id="' + rec.student.id + '"]');
    if (!cell) { return false; }
    var version = parseInt(cell.dataset.version || "0", 10);
    if (rec.version && rec.version < version) { return true; }
    window.attendanceCells.paint(cell, { status: rec.status, version: rec.status ? (rec.version || version) : 0,
      late_minutes: rec.late_minutes, checked_in: rec.checked_in === true, alert: rec.alert,
      excused: rec.excused, absence_reason: rec.absence_reason });
    cell.classList.remove("changed");
    void cell.offsetWidth;  // restart the highlight animation
    cell.classList.add("changed");
    if (rec.marked_by && rec.marked_by !== body.dataset.userName && !rec.checked_in) {
      // Say who changed it, briefly: another teacher's tablet, the admin, the API.
      cell.setAttribute("data-changed-by", rec.marked_by);
      var label = cell.querySelector(".changed-by") || document.createElement("p");
      label.className = "changed-by";
      label.textContent = "Changed by " + rec.marked_by;
      cell.appendChild(label);
      clearTimeout(label._timer);
      label._timer = setTimeout(function () { label.remove(); }, 4000);
    }
    return true;
  }

  function resync(then) {
    // The server's whole grid and statistics; resets every cell, so nothing stale remains.
    var url = body.dataset.gridUrl;
    fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("resync failed: " + response.status); }
        var fresh = parseInt(response.headers.get("X-Live-Seq") || "0", 10);
        return response.text().then(function (html) { return { html: html, seq: fresh }; });
      })
      .then(function (result) {
        htmx.swap("#roster-grid", result.html, { swapStyle: "outerHTML" });
        window.attendanceCells.syncConflicts();
        seq = Math.max(seq, result.seq);
        if (then) { then(); }
      })
      .catch(function () { setState("offline"); });
  }

  function start() {
    var socket = sessionId ? window.attendanceLive.socket() : null;
    if (!socket) { return; }
    setState("connecting");

    function join() {
      socket.emit("join_session", { session_id: sessionId }, function (ack) {
        if (!ack || !ack.ok) {
          setState("offline");
          if (window.attendanceFlash) { window.attendanceFlash((ack && ack.error) || "Could not join the live session."); }
          return;
        }
        showViewers(ack.viewers);
        var behind = ack.seq > seq;
        setStats(ack.statistics);
        if (ack.status !== body.dataset.sessionStatus) { window.location.reload(); return; }
        if (behind) {
          resync(function () { seq = Math.max(seq, ack.seq); setState("live"); });
        } else {
          setState("live");
        }
      });
    }

    function onConnect() {
      if (!socket.connected) { return; }
      setState("connecting");
      // Taps queued while offline go first; "live" only once they are in and the grid is
      // resynchronised, so no stale cell remains.
      var taps = window.attendanceTaps;
      var flushed = taps ? taps.flush() : Promise.resolve(true);
      flushed.then(function (done) {
        if (done === false) { setState("offline"); setTimeout(onConnect, 3000); return; }
        join();
      });
    }
    socket.on("connect", onConnect);
    // The device's network: taps queue at once (taps.js) and the notice shows; back online,
    // socket.js reconnects, and onConnect sends the queued taps and resyncs.
    window.addEventListener("offline", function () { setState("offline"); });
    socket.on("disconnect", function () { setState("offline"); });
    socket.on("connect_error", function () { setState("offline"); });

    socket.on("statistics", function (msg) {
      if (msg.session_id !== sessionId || msg.seq < seq) { return; }
      setStats(msg.statistics);
    });
    socket.on("attendance", function (msg) {
      if (msg.session_id !== sessionId || msg.seq <= seq) { return; }
      // Every change of the session has its number and its broadcast: a number skipped means
      // a broadcast never arrived (the message queue was down, a process died before it
      // sent it), so the page takes the server's grid instead of staying behind.
      var skipped = msg.seq > seq + 1;
      seq = msg.seq;
      var missing = skipped;
      msg.records.forEach(function (rec) { if (!applyRecord(rec)) { missing = true; } });
      (msg.removed_students || []).forEach(function (studentId) {
        applyRecord({ student: { id: studentId }, status: "", version: 0, late_minutes: null });
      });
      if (missing) { resync(); }
    });
    socket.on("presence", function (msg) {
      if (msg.session_id === sessionId) { showViewers(msg); }
    });
    socket.on("session", function (msg) {
      if (msg.session_id !== sessionId) { return; }
      if (msg.status !== body.dataset.sessionStatus) { window.location.reload(); }
    });
  }

  document.addEventListener("DOMContentLoaded", start);
})();
