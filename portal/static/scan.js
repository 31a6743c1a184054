/* Pack scan: keep the input focused for a keyboard-wedge scanner, clear it after each scan,
   and offer the phone camera where the browser has BarcodeDetector. */
(function () {
  "use strict";
  var input = document.getElementById("code");
  var form = document.getElementById("scan_form");
  if (!input || !form) { return; }
  document.body.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.elt === form) { input.value = ""; input.focus(); }
  });
  if (!("BarcodeDetector" in window) || !navigator.mediaDevices) { return; }
  var button = document.getElementById("camera-scan");
  var video = document.getElementById("camera");
  button.hidden = false;
  button.addEventListener("click", function () {
    var detector = new window.BarcodeDetector({ formats: ["code_128", "code_39", "qr_code", "ean_13"] });
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (stream) {
      video.srcObject = stream;
      video.hidden = false;
      video.play();
      var look = function () {
        detector.detect(video).then(function (codes) {
          if (codes.length) {
            stream.getTracks().forEach(function (track) { track.stop(); });
            video.hidden = true;
            input.value = codes[0].rawValue;
            form.requestSubmit();
          } else {
            window.requestAnimationFrame(look);
          }
        }).catch(function () { window.requestAnimationFrame(look); });
      };
      look();
    });
  });
})();
