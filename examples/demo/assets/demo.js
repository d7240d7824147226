// Shows the message of a failed htmx request in the page's error box, for htmx
// 2.x (which does not swap 4xx/5xx responses) and htmx 4.x (which would swap
// them into the target: the swap is cancelled and the message shown instead).
(function () {
  function show(text) {
    var box = document.getElementById('error');
    if (box) { box.textContent = text || 'request failed'; box.hidden = false; }
  }
  function hide() {
    var box = document.getElementById('error');
    if (box) { box.hidden = true; box.textContent = ''; }
  }
  document.addEventListener('htmx:beforeRequest', hide);
  document.addEventListener('htmx:before:request', hide);
  document.addEventListener('htmx:responseError', function (e) { show(e.detail.xhr.responseText); });
  document.addEventListener('htmx:response:error', function (e) {
    e.detail.ctx.swap = 'none';
    show(e.detail.ctx.text);
  });
  // Empty a form's text inputs after a successful htmx post.
  function reset(form) { if (form && form.matches && form.matches('form[data-reset]')) form.reset(); }
  document.addEventListener('htmx:afterRequest', function (e) { if (e.detail.successful) reset(e.detail.elt); });
  document.addEventListener('htmx:after:request', function (e) {
    var ctx = e.detail.ctx;
    if (ctx && ctx.response && ctx.response.status < 400) reset(ctx.sourceElement);
  });
})();
