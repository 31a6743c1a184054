/* Copy buttons: the waybill number is what customers paste into a carrier's app. */
(function () {
  "use strict";
  // Without this script there is no button, only the number, which a tap selects whole.
  document.documentElement.className += " js";

  function selectText(element) {
    var selection = window.getSelection && window.getSelection();
    if (!selection) { return; }
    var range = document.createRange();
    range.selectNodeContents(element);
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function copyWithTextarea(text) {
    // WeChat's older in-app browser and plain-http pages have no async clipboard.
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.appendChild(area);
    area.select();
    area.setSelectionRange(0, text.length);
    var copied = false;
    try { copied = document.execCommand("copy"); } catch (error) { copied = false; }
    document.body.removeChild(area);
    return copied;
  }

  // Resolves true when the text reached the clipboard, false when only a selection is left.
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).then(
        function () { return true; },
        function () { return copyWithTextarea(text); }
      );
    }
    return Promise.resolve(copyWithTextarea(text));
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (!button) { return; }
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) { return; }
    var original = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", original);
    copyText(source.textContent.trim()).then(function (copied) {
      if (!copied) { selectText(source); }
      button.textContent = button.getAttribute(copied ? "data-copied" : "data-selected") || original;
      button.setAttribute("data-result", copied ? "copied" : "selected");
      setTimeout(function () { button.textContent = original; }, 1500);
    });
  });
})();

/* Inside a mini-program's <web-view>: the way back to the mini-program (JS-SDK wx.miniProgram). */
(function () {
  "use strict";
  window.addEventListener("load", function () {
    var back = document.querySelector("[data-miniprogram-back]");
    var sdk = window.wx && window.wx.miniProgram;
    if (!back || !sdk) { return; }
    sdk.getEnv(function (env) {
      if (env && env.miniprogram) { back.hidden = false; }
    });
    back.querySelector("button").addEventListener("click", function () { sdk.navigateBack(); });
  });
})();
