/* Copy buttons: the waybill number is what customers paste into a carrier's app. */
(function () {
  "use strict";
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // WeChat's older in-app browser and plain-http pages have no async clipboard.
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } finally { document.body.removeChild(area); }
    return Promise.resolve();
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (!button) { return; }
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) { return; }
    var original = button.textContent;
    copyText(source.textContent.trim()).then(function () {
      button.textContent = button.getAttribute("data-copied") || original;
      setTimeout(function () { button.textContent = original; }, 1500);
    });
  });
})();
