/* Return photos: shrink each picture in the browser (phones take 5-12 MB photos), then
   upload it with a progress bar. Works in WeChat's browser; no inline script (CSP). */
(function () {
  "use strict";
  var box = document.querySelector(".upload[data-upload-url]");
  if (!box) { return; }
  var input = document.getElementById("photo_input");
  var bar = document.getElementById("upload_progress");
  var error = document.getElementById("upload_error");
  var list = document.getElementById("photo_list");
  var LONGEST = 1600;

  function shrink(file) {
    return new Promise(function (resolve) {
      if (!window.createImageBitmap || !document.createElement("canvas").toBlob) { resolve(file); return; }
      createImageBitmap(file, { imageOrientation: "from-image" }).then(function (bitmap) {
        var scale = Math.min(1, LONGEST / Math.max(bitmap.width, bitmap.height));
        var canvas = document.createElement("canvas");
        canvas.width = Math.round(bitmap.width * scale);
        canvas.height = Math.round(bitmap.height * scale);
        canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
        canvas.toBlob(function (blob) { resolve(blob || file); }, "image/jpeg", 0.82);
      }).catch(function () { resolve(file); });  // not decodable here (HEIC): the server decides
    });
  }

  function upload(blob, name) {
    return new Promise(function (resolve) {
      var data = new FormData();
      data.append("photo", blob, name);
      var request = new XMLHttpRequest();
      request.open("POST", box.getAttribute("data-upload-url"));
      request.setRequestHeader("X-CSRF-Token", box.getAttribute("data-csrf"));
      request.setRequestHeader("HX-Request", "true");
      request.upload.onprogress = function (event) {
        if (event.lengthComputable) { bar.value = Math.round(100 * event.loaded / event.total); }
      };
      request.onload = function () {
        if (request.status === 200) { list.insertAdjacentHTML("beforeend", request.responseText); }
        else { error.innerHTML = request.responseText; error.hidden = false; }
        resolve();
      };
      request.onerror = function () { error.textContent = "网络错误，请重试"; error.hidden = false; resolve(); };
      request.send(data);
    });
  }

  input.addEventListener("change", function () {
    var files = Array.prototype.slice.call(input.files, 0, 6);
    error.hidden = true;
    bar.hidden = false;
    files.reduce(function (done, file) {
      return done.then(function () { bar.value = 0; return shrink(file); })
        .then(function (blob) { return upload(blob, file.name.replace(/[^\w.-]/g, "_") || "photo.jpg"); });
    }, Promise.resolve()).then(function () { bar.hidden = true; input.value = ""; });
  });
})();
