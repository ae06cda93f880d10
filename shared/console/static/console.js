/* exsync console: sends the page's CSRF token with every htmx request (forms also carry it). */
(function () {
  "use strict";
  document.addEventListener("htmx:config:request", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    var ctx = event.detail && event.detail.ctx;
    if (meta && ctx && ctx.request && ctx.request.headers) {
      ctx.request.headers["X-CSRF-Token"] = meta.content;
    }
  });
})();
