(function () {
  "use strict";
  function openTarget() {
    var id = decodeURIComponent(location.hash.slice(1));
    if (!id) { return; }
    var el = document.getElementById(id);
    for (var n = el; n; n = n.parentElement) {
      if (n.tagName === "DETAILS") { n.open = true; }
    }
    if (el) { el.scrollIntoView(); }
  }
  window.addEventListener("hashchange", openTarget);
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details.legend").forEach(function (d) { d.open = true; });
  });
  openTarget();
}());
