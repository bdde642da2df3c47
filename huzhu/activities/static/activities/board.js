// Organiser pages: the QR screen's countdown, confirmations before removing someone, and
// "select all" on the records list. No inline scripts; everything hangs on data attributes.
(function () {
  "use strict";

  // [data-hz-countdown="N"]: count down to 0 each second (the QR partial resets it).
  window.setInterval(function () {
    document.querySelectorAll("[data-hz-countdown]").forEach(function (el) {
      var left = parseInt(el.getAttribute("data-hz-countdown"), 10) - 1;
      if (isNaN(left) || left < 0) { left = 0; }
      el.setAttribute("data-hz-countdown", String(left));
      el.textContent = String(left);
    });
  }, 1000);

  // <form data-hz-confirm="question">: ask before submitting.
  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-hz-confirm]");
    if (form && !window.confirm(form.getAttribute("data-hz-confirm"))) {
      event.preventDefault();
    }
  }, true);

  // <input type="checkbox" data-hz-check-all="name">: tick or clear every box of that name.
  document.addEventListener("change", function (event) {
    var box = event.target.closest("input[data-hz-check-all]");
    if (!box) { return; }
    var name = box.getAttribute("data-hz-check-all");
    box.form.querySelectorAll("input[type=checkbox][name='" + name + "']").forEach(function (el) {
      el.checked = box.checked;
    });
  });
})();
