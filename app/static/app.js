// Send the CSRF token with every htmx request (Flask-WTF reads the X-CSRFToken header).
document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) { event.detail.headers["X-CSRFToken"] = meta.content; }
});
// After a swap, move the keyboard focus to the first element that asks for it (e.g. a new error summary).
document.addEventListener("htmx:afterSettle", function (event) {
  var target = event.detail.elt && event.detail.elt.querySelector && event.detail.elt.querySelector("[data-app-focus]");
  if (target) { target.focus(); }
});
// The close button of a closable DSFR alert (dsfr/_components.html alert(closable=True)): no inline script (CSP).
document.addEventListener("click", function (event) {
  var button = event.target.closest && event.target.closest("[data-app-close-alert]");
  if (button) { button.closest(".fr-alert").remove(); }
});
