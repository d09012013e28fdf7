// Period filters: <form data-date-range> with <input type="date" data-range="from|to">.
// A half-typed date is sent by the browser as an empty value, which would silently drop that
// filter; and a period that ends before it starts holds nothing. Either way the form is not
// sent: the field says why (the browser's bubble) and so does a line under the dates.
(function () {
  "use strict";
  var INCOMPLETE = "This date is incomplete: finish it (day, month and year) or clear it.";
  var REVERSED = "The start of the period must not be after its end.";

  function message(form) {
    var p = form.querySelector("[data-range-message]");
    if (!p) {
      p = document.createElement("p");
      p.className = "flash flash-error";
      p.setAttribute("data-range-message", "");
      p.setAttribute("role", "alert");
      p.hidden = true;
      var to = form.querySelector('input[data-range="to"]');
      var after = to ? to.closest(".grid") || to.parentNode : form.lastChild;
      after.parentNode.insertBefore(p, after.nextSibling);
    }
    return p;
  }

  // Sets each date's validity and the message line; true when the period can be sent.
  function check(form) {
    var from = form.querySelector('input[data-range="from"]');
    var to = form.querySelector('input[data-range="to"]');
    var problem = "";
    [from, to].forEach(function (input) {
      if (!input) { return; }
      var bad = input.validity.badInput;
      input.setCustomValidity(bad ? INCOMPLETE : "");
      if (bad && !problem) { problem = INCOMPLETE; }
    });
    if (!problem && from && to && from.value && to.value && from.value > to.value) {
      to.setCustomValidity(REVERSED);
      problem = REVERSED;
    }
    var line = message(form);
    line.textContent = problem;
    line.hidden = !problem;
    return !problem;
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-date-range]").forEach(function (form) {
      ["input", "change", "keyup", "focusout"].forEach(function (name) {
        form.addEventListener(name, function (event) {
          if (event.target.matches && event.target.matches("input[data-range]")) { check(form); }
        });
      });
      // A click on a submit button comes before the browser validates the form.
      form.querySelectorAll("button[type=submit], button:not([type])").forEach(function (button) {
        button.addEventListener("click", function () { check(form); });
      });
      form.addEventListener("submit", function (event) {
        if (!check(form)) { event.preventDefault(); form.reportValidity(); }
      });
    });
  });
})();
