// Small helpers for the volunteer's activity pages. No libraries, nothing sent anywhere
// but the page's own form.
//
// form[data-hz-geo]            check-in forms: fill the hidden lat/lng inputs from the
//                              phone's location when the browser allows it. With
//                              data-hz-geo-required the submit waits (a few seconds at most)
//                              for the location; the server decides whether it is needed.
// [data-hz-distance]           a button that tells how far the user is from data-lat/data-lng
//                              into the next [data-hz-distance-output].
// [data-hz-copy="#selector"]   copies that input's value to the clipboard.
(function () {
  "use strict";

  var WAIT_MS = 8000;

  function locate(onDone) {
    if (!("geolocation" in navigator)) { onDone(null); return; }
    navigator.geolocation.getCurrentPosition(
      function (position) { onDone(position.coords); },
      function () { onDone(null); },
      { enableHighAccuracy: true, timeout: WAIT_MS, maximumAge: 60000 }
    );
  }

  function distanceMetres(lat1, lng1, lat2, lng2) {
    var rad = Math.PI / 180;
    var dPhi = (lat2 - lat1) * rad;
    var dLambda = (lng2 - lng1) * rad;
    var a = Math.pow(Math.sin(dPhi / 2), 2) +
      Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.pow(Math.sin(dLambda / 2), 2);
    return 2 * 6371000 * Math.asin(Math.sqrt(a));
  }

  function readable(metres) {
    return metres < 1000 ? Math.round(metres) + " m" : (metres / 1000).toFixed(1) + " km";
  }

  function setupGeoForm(form) {
    var lat = form.querySelector("input[name=lat]");
    var lng = form.querySelector("input[name=lng]");
    if (!lat || !lng) { return; }
    var state = "pending";
    var submitting = false;
    locate(function (coords) {
      if (coords) {
        lat.value = coords.latitude.toFixed(6);
        lng.value = coords.longitude.toFixed(6);
      }
      state = "done";
      if (submitting) { HTMLFormElement.prototype.submit.call(form); }
    });
    form.addEventListener("submit", function (event) {
      if (state === "done" || !form.hasAttribute("data-hz-geo-required")) { return; }
      event.preventDefault();
      if (submitting) { return; }
      submitting = true;
      var button = form.querySelector("button[type=submit]");
      if (button) { button.disabled = true; }
      window.setTimeout(function () {
        if (state !== "done") { state = "done"; HTMLFormElement.prototype.submit.call(form); }
      }, WAIT_MS + 500);
    });
  }

  function setupDistance(button) {
    var output = document.querySelector("[data-hz-distance-output]");
    button.addEventListener("click", function () {
      var lat = parseFloat(button.getAttribute("data-lat"));
      var lng = parseFloat(button.getAttribute("data-lng"));
      locate(function (coords) {
        if (!output) { return; }
        if (!coords || isNaN(lat) || isNaN(lng)) {
          output.textContent = button.getAttribute("data-label-failed") || "";
          return;
        }
        var text = button.getAttribute("data-label-far") || "%s";
        output.textContent = text.replace("%s", readable(
          distanceMetres(coords.latitude, coords.longitude, lat, lng)
        ));
      });
    });
  }

  function setupCopy(button) {
    var target = document.querySelector(button.getAttribute("data-hz-copy"));
    if (!target) { return; }
    button.addEventListener("click", function () {
      var done = function () {
        var label = button.getAttribute("data-label-done");
        if (label) { button.textContent = label; }
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(target.value).then(done, function () {
          target.select();
        });
      } else {
        target.select();
        try { if (document.execCommand("copy")) { done(); } } catch (e) { /* selected */ }
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-hz-geo]").forEach(setupGeoForm);
    document.querySelectorAll("[data-hz-distance]").forEach(setupDistance);
    document.querySelectorAll("[data-hz-copy]").forEach(setupCopy);
  });
})();
