"""A stand-in for Tencent's JS-SDK, whose host is out of reach here.

It does what the real one does with an open tag: it records wx.config, calls wx.ready,
draws the tag's wxtag-template into the tag's own shadow tree (so the page's CSP meets the
template's style) and fires `success` when the button is tapped.
"""

SDK_STUB = """
window.__wxConfig = null;
window.wx = {
  config: function (options) { window.__wxConfig = options; },
  error: function () {},
  ready: function (callback) {
    setTimeout(function () {
      document.querySelectorAll("wx-open-subscribe").forEach(function (tag) {
        var template = tag.querySelector('script[type="text/wxtag-template"]');
        var root = tag.attachShadow({mode: "open"});
        root.innerHTML = template.textContent;
        root.querySelector("button").addEventListener("click", function () {
          var details = {};
          tag.getAttribute("template").split(",").forEach(function (id) {
            details[id] = JSON.stringify({status: "accept"});
          });
          tag.dispatchEvent(new CustomEvent("success",
            {detail: {subscribeDetails: JSON.stringify(details)}}));
        });
      });
      callback();
    }, 0);
  }
};
"""
