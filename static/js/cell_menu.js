// The tile's menu ("More"), filled in when it opens. A tile draws only the menu's summary;
// its body is the page's one <template id="cell-menu-template"> (sessions/_roster.html
// cell_menu_template), copied into the tile and given this student's URLs, ids, name, status,
// minutes late, note and excuse as the tile shows them at that moment. Nothing is fetched, so a
// menu opens at once and offline too; its status buttons are taps like the tile's own
// (taps.js queues them offline).
(function () {
  "use strict";

  function template() { return document.getElementById("cell-menu-template"); }

  // The student's name as "First Last", from the summary's spoken " for First Last".
  function who(details) {
    var spoken = details.querySelector("summary .visually-hidden");
    return spoken ? spoken.textContent.replace(/^\s*for\s+/, "") : "";
  }

  function fill(details) {
    var tpl = template();
    var cell = details.closest("[data-student-id]");
    var tap = cell && cell.querySelector(".cell-tap[hx-post]");
    if (!tpl || !tap) { return false; }
    var id = cell.dataset.studentId;
    var base = tap.getAttribute("hx-post").replace(/\/status$/, "");
    var status = cell.dataset.status || "";
    var excused = cell.dataset.excused || "";
    var excusable = (tpl.dataset.excusable || "").split(" ").indexOf(status) !== -1;
    var name = who(details);
    var body = tpl.content.firstElementChild.cloneNode(true);

    body.querySelectorAll("[data-if-marked]").forEach(function (el) { if (!status) { el.remove(); } });
    body.querySelectorAll("[data-if-excusable]").forEach(function (el) { if (!excusable) { el.remove(); } });
    body.querySelectorAll("[data-if-excused]").forEach(function (el) { if (!excused) { el.remove(); } });
    body.querySelectorAll("[data-action]").forEach(function (el) {
      var url = base + "/" + el.dataset.action;
      el.setAttribute("hx-post", url);
      el.setAttribute("hx-target", "#cell-" + id);
      if (el.tagName === "FORM" && el.hasAttribute("method")) { el.setAttribute("action", url); }
    });
    body.querySelectorAll("[data-id]").forEach(function (el) { el.id = el.dataset.id + "-" + id; });
    body.querySelectorAll("[data-for]").forEach(function (el) { el.htmlFor = el.dataset.for + "-" + id; });
    body.querySelectorAll("[data-describedby]").forEach(function (el) {
      el.setAttribute("aria-describedby", el.dataset.describedby.split(" ").map(function (part) {
        return part + "-" + id;
      }).join(" "));
    });
    body.querySelectorAll("[data-label]").forEach(function (el) {
      if (el.tagName === "LABEL") { el.textContent = el.dataset.label + " " + name; }
      else { el.setAttribute("aria-label", el.dataset.label + " " + name); }
    });

    // Minutes late, as the tile's status word says them ("+12 min").
    var late = cell.querySelector(".status-word .late-minutes");
    var minutes = body.querySelector('.late-form input[name="minutes"]');
    if (minutes) { minutes.value = late ? late.textContent.replace(/[^0-9]/g, "") : ""; }

    var note = body.querySelector("input[name=notes]");
    if (note) {
      var shown = cell.querySelector(".cell-note");
      note.value = shown ? shown.textContent : "";
      var count = body.querySelector(".notes-count");
      if (count) { count.textContent = note.value.length + " / " + note.dataset.max; }
    }

    var excuse = body.querySelector("[data-excuse-form]");
    if (excuse) {
      var select = excuse.querySelector("select[name=reason]");
      if (excused) {
        var unchosen = select.querySelector("[data-unchosen]");
        if (unchosen) { unchosen.remove(); }
        select.value = excused;
        excuse.querySelector("input[name=note]").value = details.dataset.excuseNote || "";
        var button = excuse.querySelector("[data-excused-text]");
        button.textContent = button.dataset.excusedText;
      }
    }

    var old = details.querySelector(".cell-menu-body");
    if (old) { old.replaceWith(body); } else { details.appendChild(body); }
    if (window.htmx) { htmx.process(body); }
    return true;
  }

  // Filled as it opens: a click on the summary (the mouse, a finger, or Enter and Space on
  // it) runs before the details opens. A menu opened any other way is filled on "toggle".
  document.addEventListener("click", function (event) {
    var summary = event.target.closest ? event.target.closest("details.cell-menu > summary") : null;
    if (summary && !summary.parentElement.open) { fill(summary.parentElement); }
  });
  document.addEventListener("toggle", function (event) {
    var details = event.target;
    if (details.matches && details.matches("details.cell-menu") && details.open &&
        !details.querySelector(".cell-menu-body")) {
      fill(details);
    }
  }, true);

  window.attendanceMenu = { fill: fill };
})();
