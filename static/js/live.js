// Live updates of the roster over Socket.IO: join the session's room, apply broadcasts in
// sequence order, resynchronise from the server after every (re)connect.
// <body data-live> is "connecting", "live" (joined and in sync) or "offline".
(function () {
  "use strict";
  var WORDS = { PRESENT: "Present", ABSENT: "Absent", LATE: "Late", "": "Not marked" };
  var body = document.body;
  var sessionId = body.dataset.sessionId;
  var seq = parseInt(body.dataset.seq || "0", 10);
  var LABELS = { connecting: "Connecting…", live: "Live", offline: "Offline — changes will resume when the connection is back" };

  function setState(state) {
    body.dataset.live = state;
    var label = document.getElementById("live-label");
    if (label) { label.textContent = LABELS[state]; }
  }

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
      explained.textContent = stats.attendance_rate + "% = " + (stats.present + stats.late) + " of " +
        stats.total_enrolled + " (" + stats.present + " present + " + stats.late + " late) · " +
        stats.not_marked + " not marked";
    }
  }

  function applyRecord(rec) {
    var cell = document.querySelector('#roster-grid [data-student-id="' + rec.student.id + '"]');
    if (!cell) { return false; }
    var version = parseInt(cell.dataset.version || "0", 10);
    if (rec.version && rec.version < version) { return true; }
    cell.dataset.status = rec.status;
    cell.dataset.version = String(rec.status ? (rec.version || version) : 0);
    cell.className = cell.className.replace(/\bstatus-\w+/, "status-" + (rec.status.toLowerCase() || "none"));
    var word = cell.querySelector(".status-word");
    if (word) {
      word.textContent = WORDS[rec.status];
      if (rec.status === "LATE" && rec.late_minutes !== null && rec.late_minutes !== undefined) {
        var late = document.createElement("span");
        late.className = "late-minutes";
        late.textContent = " +" + rec.late_minutes + " min";
        word.appendChild(late);
      }
    }
    var tap = cell.querySelector(".cell-tap");
    showCheckedIn(cell, tap, rec.checked_in === true);
    if ("excused" in rec || !rec.status) { showExcused(cell, tap, rec.excused ? rec.absence_reason : ""); }
    if (tap && tap.hasAttribute("hx-vals")) {
      tap.setAttribute("hx-vals", JSON.stringify({ seen: rec.status }));
    }
    if (typeof rec.alert === "string") { showAlert(cell, rec.alert); }
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

  // The tile's "Checked in" marker (as sessions/_roster.html draws it): the student checked
  // themself in, and nobody has changed the record since.
  function showCheckedIn(cell, tap, checkedIn) {
    var marker = cell.querySelector(".checked-in-marker");
    if (!checkedIn) { if (marker) { marker.remove(); } return; }
    if (marker || !tap) { return; }
    marker = document.createElement("span");
    marker.className = "checked-in-marker";
    marker.title = "The student checked in with the code";
    marker.textContent = "Checked in";
    tap.appendChild(marker);
  }

  // The tile's "Excused" marker and dashed look (as sessions/_roster.html draws them).
  var REASONS = { ILLNESS: "Illness", MEDICAL: "Medical appointment", FAMILY: "Family reasons",
    SCHOOL_ACTIVITY: "School activity", RELIGIOUS: "Religious observance", OTHER: "Other" };
  function showExcused(cell, tap, reason) {
    cell.dataset.excused = reason || "";
    cell.classList.toggle("excused", !!reason);
    var marker = cell.querySelector(".excused-marker");
    if (!reason) { if (marker) { marker.remove(); } return; }
    if (!marker && tap) {
      marker = document.createElement("span");
      marker.className = "excused-marker";
      marker.textContent = "Excused";
      tap.appendChild(marker);
    }
    if (marker) { marker.title = "Excused: " + (REASONS[reason] || reason); }
  }

  // The tile's "At risk" flag (as sessions/_roster.html draws it), from a broadcast record.
  function showAlert(cell, reason) {
    var flag = cell.querySelector(".alert-flag");
    if (!reason) { if (flag) { flag.remove(); } return; }
    if (!flag) {
      var memory = cell.querySelector(".mini-history");
      if (!memory) {
        memory = document.createElement("p");
        memory.className = "mini-history";
        cell.querySelector(".cell-tap").after(memory);
      }
      flag = document.createElement("span");
      flag.className = "alert-flag";
      memory.appendChild(flag);
    }
    flag.title = reason;
    flag.textContent = "At risk";
    var spoken = document.createElement("span");
    spoken.className = "visually-hidden";
    spoken.textContent = ": " + reason;
    flag.appendChild(spoken);
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
        seq = Math.max(seq, result.seq);
        if (then) { then(); }
      })
      .catch(function () { setState("offline"); });
  }

  function start() {
    if (!sessionId || typeof io === "undefined") { return; }
    var socket = io({ transports: ["websocket", "polling"] });
    window.attendanceSocket = socket;
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
    socket.on("signed_out", function () {
      // Signed out here or on another device: this page may not stay live.
      socket.disconnect();
      window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname));
    });
    socket.on("session", function (msg) {
      if (msg.session_id !== sessionId) { return; }
      if (msg.status !== body.dataset.sessionStatus) { window.location.reload(); }
    });
  }

  document.addEventListener("DOMContentLoaded", start);
})();
