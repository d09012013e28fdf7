// The CSV import page: a progress bar while a form is sent (upload progress from htmx's
// htmx:xhr:progress), then an indeterminate bar while the server checks or imports the file.
// The forms name their bar with data-progress; htmx disables their button meanwhile
// (hx-disabled-elt). No inline scripts: the pages run under a strict CSP.
(function () {
  "use strict";

  function widgets(form) {
    var id = form && form.getAttribute ? form.getAttribute("data-progress") : null;
    var box = id ? document.getElementById(id) : null;
    if (!box) { return null; }
    return { box: box, bar: box.querySelector("progress"), text: box.querySelector("[role=status]") };
  }

  function working(w, words) {
    // A <progress> without a value is indeterminate (Pico animates it).
    w.bar.removeAttribute("value");
    w.text.textContent = words;
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt;
    var w = widgets(form);
    if (!w) { return; }
    form.removeAttribute("data-sent");
    w.bar.value = 0;
    w.text.textContent = "Sending… 0%";
    w.box.hidden = false;
  });

  // Fired for the upload and then for the response's download: once the whole request is
  // sent, the rest is the server's work, so later events are ignored.
  document.addEventListener("htmx:xhr:progress", function (event) {
    var form = event.target;
    var w = widgets(form);
    var d = event.detail;
    if (!w || form.hasAttribute("data-sent")) { return; }
    if (!d.lengthComputable || !d.total || d.loaded >= d.total) {
      form.setAttribute("data-sent", "");
      working(w, form.id === "import-upload" ? "Checking every row…" : "Importing…");
      return;
    }
    var percent = Math.floor((d.loaded / d.total) * 100);
    w.bar.value = percent;
    w.text.textContent = "Sending… " + percent + "%";
  });

  // When the page is not replaced (a network error, an error shown in #flash), hide the bar.
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    var w = widgets(form);
    if (!w) { return; }
    form.removeAttribute("data-sent");
    w.box.hidden = true;
  });
})();
