// The roster tile, repainted in the browser. sessions/_roster.html (roster_cell) draws a tile;
// when a tile changes without the server's HTML — a live change from another device
// (live.js) or a tap queued offline (taps.js) — paintCell sets exactly what that macro sets:
// data-status, data-version, the status class, the status word and minutes late (and the
// menu's "Minutes late" value), the "Checked in" and "Excused" markers and the next tap's
// hx-vals. The button's accessible name is its own
// text (no aria-label), so repainting the word repaints what a screen reader announces.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="status-words"]');
  var WORDS = meta ? JSON.parse(meta.content) : {};
  var reasonsMeta = document.querySelector('meta[name="absence-reasons"]');
  var REASONS = reasonsMeta ? JSON.parse(reasonsMeta.content) : {};

  function word(status) { return WORDS[status || ""] || WORDS[""] || ""; }

  function tapOf(cell) { return cell.querySelector(".cell-tap"); }

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

  // The tile's "Excused" marker and dashed look. The service's rule, mirrored: a change to
  // PRESENT (or no mark) clears an excuse; ABSENT <-> LATE keeps it.
  function showExcused(cell, tap, rec, status) {
    var reason = cell.dataset.excused || "";
    if (status === "PRESENT" || !status) { reason = ""; }
    else if ("excused" in rec && rec.excused !== undefined) { reason = rec.excused ? rec.absence_reason : ""; }
    cell.dataset.excused = reason;
    cell.classList.toggle("excused", !!reason);
    var marker = cell.querySelector(".excused-marker");
    if (!reason) { if (marker) { marker.remove(); } return; }
    if (!marker && tap) {
      marker = document.createElement("span");
      marker.className = "excused-marker";
      tap.appendChild(marker);
    }
    if (!marker) { return; }
    var words = REASONS[reason] || reason;
    marker.title = "Excused: " + words;
    marker.textContent = "Excused";
    var spoken = document.createElement("span");
    spoken.className = "visually-hidden";
    spoken.textContent = ": " + words;
    marker.appendChild(spoken);
  }

  // The tile's "At risk" flag (as the macro's mini_history draws it).
  function showAlert(cell, reason) {
    var flag = cell.querySelector(".alert-flag");
    if (!reason) { if (flag) { flag.remove(); } return; }
    if (!flag) {
      var memory = cell.querySelector(".mini-history");
      if (!memory) {
        memory = document.createElement("p");
        memory.className = "mini-history";
        tapOf(cell).after(memory);
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

  // rec: {status, version?, late_minutes?, checked_in?, alert?, excused?, absence_reason?};
  // options.pending: a tap the
  // server has not confirmed yet (taps.js), shown dashed and said so.
  function paintCell(cell, rec, options) {
    var pending = !!(options && options.pending);
    var status = rec.status || "";
    var checkedIn = rec.checked_in === true;
    cell.dataset.status = status;
    if (rec.version !== undefined && rec.version !== null) {
      cell.dataset.version = String(status ? rec.version : 0);
    }
    cell.className = cell.className.replace(/\bstatus-\w+/, "status-" + (status.toLowerCase() || "none"));
    cell.classList.toggle("pending", pending);
    var w = cell.querySelector(".status-word");
    if (w) {
      w.textContent = word(status) + (pending ? " (pending)" : "");
      if (status === "LATE" && rec.late_minutes !== null && rec.late_minutes !== undefined) {
        w.appendChild(document.createTextNode(" "));
        var late = document.createElement("span");
        late.className = "late-minutes";
        late.textContent = "+" + rec.late_minutes + " min";
        w.appendChild(late);
      }
    }
    // The menu's "Minutes late" (shown by app.css on a LATE tile) while the menu is open
    // (cell_menu.js fills it in from the status word when it opens), unless being typed in.
    var minutes = cell.querySelector('.late-form input[name="minutes"]');
    if (minutes && document.activeElement !== minutes && !pending) {
      minutes.value = status === "LATE" && rec.late_minutes !== null && rec.late_minutes !== undefined
        ? String(rec.late_minutes) : "";
    }
    var tap = tapOf(cell);
    if (!pending) { showCheckedIn(cell, tap, checkedIn); }
    showExcused(cell, tap, rec, status);
    if (tap) {
      if (tap.hasAttribute("hx-vals")) { tap.setAttribute("hx-vals", JSON.stringify({ seen: status })); }
    }
    if (typeof rec.alert === "string") { showAlert(cell, rec.alert); }
  }

  // Refused taps (data-conflict, sessions/_roster.html conflict_message) stay on their tile
  // until the teacher taps it again or dismisses them: a grid refresh (resynchronisation,
  // undo, "mark all") redraws tiles from the server, so they are carried over here.
  var conflicts = {};  // student id → {intended, node}

  function syncConflicts() {
    var grid = document.getElementById("roster-grid");
    if (!grid) { return; }
    grid.querySelectorAll("[data-student-id]").forEach(function (cell) {
      var id = cell.dataset.studentId;
      var node = cell.querySelector(".cell-conflict");
      if (cell.hasAttribute("data-conflict") && node) {
        conflicts[id] = { intended: cell.dataset.conflict, node: node.cloneNode(true) };
      } else if (conflicts[id]) {
        var copy = conflicts[id].node.cloneNode(true);
        cell.setAttribute("data-conflict", conflicts[id].intended);
        cell.appendChild(copy);
        if (window.htmx) { htmx.process(copy); }
      }
    });
  }

  function clearConflict(cell) {
    delete conflicts[cell.dataset.studentId];
    cell.removeAttribute("data-conflict");
    var node = cell.querySelector(".cell-conflict");
    if (node) { node.remove(); }
  }

  // A tap on the tile (or "… anyway") answers the conflict: the response says what happened.
  document.addEventListener("htmx:configRequest", function (event) {
    if (!/\/students\/[^/]+\/status$/.test(event.detail.path || "")) { return; }
    var elt = event.detail.elt;
    var cell = elt && elt.closest ? elt.closest("#roster-grid [data-student-id]") : null;
    if (cell && cell.hasAttribute("data-conflict")) { clearConflict(cell); }
  });

  document.addEventListener("click", function (event) {
    var dismiss = event.target.closest ? event.target.closest("[data-dismiss-conflict]") : null;
    if (!dismiss) { return; }
    var cell = dismiss.closest("[data-student-id]");
    if (!cell) { return; }
    clearConflict(cell);
    var tap = tapOf(cell);
    if (tap) { tap.focus(); }
  });

  window.attendanceCells = { paint: paintCell, word: word, syncConflicts: syncConflicts };
})();
