/* The 公众号 subscribe button: wx.config with the values the server signed for this page,
   then WeChat renders <wx-open-subscribe>. WeChat's own push tells the server the result;
   the page only thanks the customer. */
(function () {
  "use strict";
  window.addEventListener("load", function () {
    var box = document.querySelector("[data-wechat-subscribe]");
    var wx = window.wx;
    if (!box || !wx || !wx.config) { return; }
    wx.config({
      debug: false,
      appId: box.dataset.appid,
      timestamp: Number(box.dataset.timestamp),
      nonceStr: box.dataset.nonce,
      signature: box.dataset.signature,
      jsApiList: [],
      openTagList: ["wx-open-subscribe"]
    });
    // This WeChat or phone cannot draw open tags (fired after wx.config, before or after
    // ready): there would be nothing to tap, so nothing is shown.
    var unsupported = false;
    document.addEventListener("WeixinOpenTagsError", function () {
      unsupported = true;
      box.hidden = true;
    });
    wx.ready(function () { box.hidden = unsupported; });
    var tag = box.querySelector("wx-open-subscribe");
    tag.addEventListener("success", function () {
      box.querySelector("[data-subscribe-done]").hidden = false;
    });
  });
})();
