// The roster: search and filter, keyboard control. Taps themselves are htmx (see _roster.html).
(function () {
  "use strict";

  function cells() {
    return Array.prototype.slice.call(document.querySelectorAll("#roster-grid [data-student-id]"));
  }
  function visibleCells() {
    return cells().filter(function (c) { return !c.hidden; });
  }

  // A query as person searches compare it — services.school.people.fold, the one rule: case
  // folded, accents dropped, commas read as spaces, runs of spaces one. Each tile's
  // data-search is the server's folded "first last" / "last first" (users.name_search) and its
  // number, so "Bailey, Jasmine", "bailey jasmine" and "Jasmine Bailey" all find her.
  function fold(text) {
    return text.toLowerCase().normalize("NFKD").replace(/\p{M}/gu, "")
      .replace(/,/g, " ").split(/\s+/).filter(Boolean).join(" ");
  }

  function applyFilters() {
    var raw = (document.getElementById("roster-search") || {}).value || "";
    var f = (document.getElementById("roster-filter") || {}).value || "";
    var q = fold(raw);
    var shown = 0;
    cells().forEach(function (cell) {
      var status = (cell.dataset.status || "none").toLowerCase();
      var matches = (!q || (cell.dataset.search || "").indexOf(q) !== -1) && (!f || f === status);
      cell.hidden = !matches;
      if (matches) { shown++; }
    });
    var empty = document.getElementById("roster-empty");
    if (empty) {
      var none = shown === 0 && (q || f);
      empty.hidden = !none;
      empty.textContent = none ? (q ? "No students match \u201c" + raw.trim() + "\u201d." : "No students match this filter.") : "";
    }
  }

  function tapButton(cell) { return cell ? cell.querySelector(".cell-tap") : null; }

  function focusedCell() {
    var active = document.activeElement;
    return active && active.closest ? active.closest("#roster-grid [data-student-id]") : null;
  }

  function columns(list) {
    if (list.length < 2) { return 1; }
    var top = list[0].getBoundingClientRect().top;
    var n = 0;
    while (n < list.length && Math.abs(list[n].getBoundingClientRect().top - top) < 4) { n++; }
    return Math.max(1, n);
  }

  function move(delta) {
    var list = visibleCells();
    if (!list.length) { return; }
    var current = focusedCell();
    var i = current ? list.indexOf(current) : -1;
    var step = Math.abs(delta) === 1 ? delta : (delta > 0 ? columns(list) : -columns(list));
    var next = list[Math.min(list.length - 1, Math.max(0, i + step))];
    if (next) { tapButton(next).focus(); }
  }

  function setStatus(cell, status) {
    var button = tapButton(cell);
    if (!button || !button.hasAttribute("hx-post")) { return; }
    htmx.ajax("POST", button.getAttribute("hx-post"), {
      target: "#" + cell.id, swap: "outerHTML", values: { status: status }, source: button
    });
  }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var typing = target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT");
    if (event.key === "/" && !typing) {
      event.preventDefault();
      document.getElementById("roster-search").focus();
      return;
    }
    if (typing || event.ctrlKey || event.metaKey || event.altKey) { return; }
    var cell = focusedCell();
    if (event.key === "P" && event.shiftKey) {
      var all = document.getElementById("mark-unmarked-present");
      if (all) { event.preventDefault(); keepFocus(cell); all.click(); }
      return;
    }
    switch (event.key) {
      case "ArrowRight": event.preventDefault(); move(1); return;
      case "ArrowLeft": event.preventDefault(); move(-1); return;
      case "ArrowDown": event.preventDefault(); move(2); return;
      case "ArrowUp": event.preventDefault(); move(-2); return;
    }
    if (!cell) { return; }
    if (event.key === "u" || event.key === "U") {
      var undo = document.getElementById("undo-button");
      if (undo) { event.preventDefault(); keepFocus(cell); undo.click(); }
      return;
    }
    var key = event.key.toLowerCase();
    if (key === "p") { event.preventDefault(); setStatus(cell, "PRESENT"); }
    else if (key === "a") { event.preventDefault(); setStatus(cell, "ABSENT"); }
    else if (key === "l") { event.preventDefault(); setStatus(cell, "LATE"); }
  });

  // U and Shift+P redraw the whole grid: the tile that had focus gets it back, so the next
  // arrow key moves on from there rather than from the first tile.
  var refocus = null;
  function keepFocus(cell) { refocus = cell ? cell.id : null; }
  document.addEventListener("htmx:afterSettle", function () {
    if (!refocus) { return; }
    var again = document.getElementById(refocus);
    refocus = null;
    if (again && tapButton(again)) { tapButton(again).focus(); }
  });

  // A long press on a tile (a finger or the mouse held still for half a second), or the
  // context menu, opens the tile's menu with Late one tap away; the click that ends the press
  // does not also cycle the status.
  var HOLD_MS = 500;
  var hold = null;     // {timer, tap, x, y} while a press may become a long press
  var held = null;     // the tile button a long press has just opened the menu of

  function focusLate(tap) {
    var late = tap.closest("[data-student-id]").querySelector('.cell-menu [data-set-status="LATE"]');
    if (late) { late.focus(); }
  }
  function openMenu(tap) {
    var cell = tap.closest("[data-student-id]");
    var menu = cell && cell.querySelector("details.cell-menu");
    if (!menu) { return false; }
    if (!menu.open && window.attendanceMenu) { window.attendanceMenu.fill(menu); }
    menu.open = true;
    focusLate(tap);
    return true;
  }
  function cancelHold() {
    if (hold) { clearTimeout(hold.timer); hold = null; }
  }
  document.addEventListener("pointerdown", function (event) {
    held = null;
    cancelHold();
    var tap = event.target.closest ? event.target.closest("#roster-grid .cell-tap[hx-post]") : null;
    if (!tap || (event.pointerType === "mouse" && event.button !== 0)) { return; }
    hold = { tap: tap, x: event.clientX, y: event.clientY, timer: setTimeout(function () {
      hold = null;
      if (openMenu(tap)) { held = tap; }
    }, HOLD_MS) };
  });
  document.addEventListener("pointermove", function (event) {
    if (hold && Math.abs(event.clientX - hold.x) + Math.abs(event.clientY - hold.y) > 10) { cancelHold(); }
  });
  document.addEventListener("pointercancel", cancelHold);
  document.addEventListener("pointerup", function () {
    cancelHold();
    // Letting go may move focus to the tile (a touch's compatibility events): back to Late.
    var tap = held;
    if (tap) { setTimeout(function () { if (held === tap) { focusLate(tap); } }, 0); }
  });
  document.addEventListener("click", function (event) {
    var tap = event.target.closest ? event.target.closest(".cell-tap") : null;
    if (held && tap === held) {
      event.preventDefault();
      event.stopImmediatePropagation();
      focusLate(tap);
    }
    held = null;
  }, true);
  document.addEventListener("contextmenu", function (event) {
    var tap = event.target.closest ? event.target.closest("#roster-grid .cell-tap[hx-post]") : null;
    if (!tap) { return; }
    event.preventDefault();
    cancelHold();
    if (openMenu(tap)) { held = tap; }
  });

  // A tile of a session that cannot be marked (ended, or not started) says why when tapped.
  document.addEventListener("click", function (event) {
    var tap = event.target.closest ? event.target.closest("#roster-grid .cell-tap[aria-disabled]") : null;
    if (!tap) { return; }
    var cell = tap.closest("[data-student-id]");
    var why = document.body.dataset.sessionStatus === "ENDED"
      ? "This session has ended: its attendance is locked."
      : "This session has not started yet: start it to mark attendance.";
    var note = cell.querySelector(".cell-locked");
    if (!note) {
      note = document.createElement("p");
      note.className = "cell-locked";
      note.setAttribute("role", "status");
      cell.appendChild(note);
    }
    note.textContent = "";
    setTimeout(function () { note.textContent = why; }, 50);  // re-announced on every tap
  });

  // A long note on a tile: shown whole, or clamped again.
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest(".note-expand") : null;
    if (!button) { return; }
    var note = document.getElementById(button.getAttribute("aria-controls"));
    var open = button.getAttribute("aria-expanded") !== "true";
    note.classList.toggle("expanded", open);
    button.setAttribute("aria-expanded", open ? "true" : "false");
    button.textContent = open ? "Show less" : "Show the whole note";
  });

  // The note field counts its characters; over the limit it says so and will not send
  // (nothing is cut: the server refuses it too, with the same words).
  function countNote(input) {
    var max = parseInt(input.dataset.max || "2000", 10);
    var count = document.getElementById("notes-count-" + input.id.replace(/^notes-/, ""));
    var over = input.value.trim().length - max;
    if (count) {
      count.textContent = over > 0
        ? input.value.trim().length + " / " + max + ": " + over + " too many; shorten the note to save it."
        : input.value.trim().length + " / " + max;
      count.classList.toggle("over", over > 0);
    }
    input.setAttribute("aria-invalid", over > 0 ? "true" : "false");
    var save = input.form && input.form.querySelector("button[type=submit]");
    if (save) { save.disabled = over > 0; }
  }
  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("input[name=notes][data-max]")) { countNote(event.target); }
  });

  // After a cell is replaced, keep keyboard focus on it and keep the filters applied.
  document.addEventListener("htmx:afterSwap", function (event) {
    applyFilters();
    window.attendanceCells.syncConflicts();
    var elt = event.detail.elt;
    if (elt && elt.matches && elt.matches("[data-student-id]") && event.detail.requestConfig &&
        document.activeElement === document.body) {
      var button = tapButton(document.getElementById(elt.id));
      if (button) { button.focus(); }
    }
  });

  // The bar offers Undo for 30 s after each change (the server allows a few minutes), and
  // says what an undo put back for 10 s.
  var UNDO_SECONDS = 30;
  var DONE_SECONDS = 10;
  var undoShown = 0;
  document.addEventListener("htmx:afterSettle", function () {
    var bar = document.getElementById("undo-bar");
    var text = bar && bar.querySelector(".undo-text");
    if (!text || text.dataset.timed) { return; }
    text.dataset.timed = "1";
    var button = document.getElementById("undo-button");
    var mine = ++undoShown;
    setTimeout(function () {
      if (mine === undoShown && bar.querySelector(".undo-text") === text) {
        bar.replaceChildren();
        bar.classList.remove("active");
      }
    }, (button ? UNDO_SECONDS : DONE_SECONDS) * 1000);
  });

  document.addEventListener("DOMContentLoaded", function () {
    var search = document.getElementById("roster-search");
    var filter = document.getElementById("roster-filter");
    if (search) {
      search.addEventListener("input", applyFilters);
      // Enter or Down arrow goes into the results (the first tile shown); Escape clears.
      search.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === "ArrowDown") {
          var first = visibleCells()[0];
          if (first) { event.preventDefault(); tapButton(first).focus(); }
        } else if (event.key === "Escape") {
          event.preventDefault();
          search.value = "";
          applyFilters();
        }
      });
    }
    if (filter) { filter.addEventListener("change", applyFilters); }
  });
})();
