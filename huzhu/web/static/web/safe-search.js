// A full ID or phone number must never travel in a URL. The search form marked
// data-hz-safe-search refuses to send one (its hx-trigger filter calls hzSafeSearch()) and
// hands it to the POST lookup form #hz-lookup-form instead.
function hzSafeSearch() {
  var form = document.querySelector("form[data-hz-safe-search]");
  if (!form) { return true; }
  var q = form.querySelector("input[name=q]");
  var unsafe = /\d{5,}/.test((q.value || "").replace(/[\s\-_.·]/g, ""));
  var hint = document.getElementById("hz-search-hint");
  if (hint) { hint.classList.toggle("d-none", !unsafe); }
  return !unsafe;
}

document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form[data-hz-safe-search]");
  if (!form) { return; }
  form.addEventListener("submit", function (event) {
    if (hzSafeSearch()) { return; }
    event.preventDefault();
    event.stopImmediatePropagation();
    var q = form.querySelector("input[name=q]");
    var lookup = document.getElementById("hz-lookup-form");
    lookup.querySelector("input[name=number]").value = q.value;
    q.value = "";
    lookup.submit();
  }, true);
  form.addEventListener("change", function (event) {
    if (event.target.name === "q" && !hzSafeSearch()) { event.stopImmediatePropagation(); }
  }, true);
});
