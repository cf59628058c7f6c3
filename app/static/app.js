// Send the CSRF token with every htmx request (Flask-WTF reads the X-CSRFToken header).
document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) { event.detail.headers["X-CSRFToken"] = meta.content; }
});

// --- announcements: one polite live region (base.html #app-announcer) ---------------------------------------
// Filled by the server's HX-Trigger {"announce": "…"} (app/htmx.py announce) or by a [data-announce] element of
// the swapped fragment. Emptied first so that the same message twice is read twice.
function appAnnounce(message) {
  var region = document.getElementById("app-announcer");
  if (!region || !message) { return; }
  region.textContent = "";
  window.setTimeout(function () { region.textContent = message; }, 50);
}
document.addEventListener("announce", function (event) {
  appAnnounce(event.detail && event.detail.value);
});
// A page reached after an action (a 303 or htmx's HX-Redirect) shows its confirmation in #flash; the text
// of a status present when the page loads is not read by screen readers: once the page has loaded, its
// (role=status, so live) element gets fresh copies of its content in one step, which they announce; the
// text never disappears from the page. Marked data-app-announced.
(function () {
  var statuses = document.querySelectorAll("#flash [role=status]");
  if (!statuses.length) { return; }
  window.setTimeout(function () {
    Array.prototype.forEach.call(statuses, function (status) {
      var copies = Array.prototype.map.call(status.childNodes, function (node) { return node.cloneNode(true); });
      status.replaceChildren.apply(status, copies);
      status.setAttribute("data-app-announced", "");
    });
  }, 100);
})();

// --- focus after a swap ------------------------------------------------------------------------------------
// Before each request, remember the control used (the submit button, or the focused field) and the target's
// id; once the new content has settled, an error summary ([data-app-focus]) takes the focus, otherwise the
// same control in the new content, otherwise the region's heading or the region itself (tabindex=-1). Focus
// only moves when the swap lost it (a search box keeps it while its results refresh).
var appRequests = new WeakMap();

function appDescribe(control) {
  if (!control || control === document.body || !control.tagName) { return null; }
  return {
    id: control.id || null,
    tag: control.tagName.toLowerCase(),
    name: control.getAttribute("name"),
    value: control.getAttribute("value"),
    text: (control.textContent || "").trim()
  };
}

function appFind(region, wanted) {
  if (!wanted) { return null; }
  if (wanted.id) {
    var byId = document.getElementById(wanted.id);
    if (byId) { return byId; }
  }
  var scope = region || document;
  var candidates = scope.querySelectorAll(wanted.tag);
  for (var i = 0; i < candidates.length; i++) {
    var c = candidates[i];
    if (c.getAttribute("name") === wanted.name && c.getAttribute("value") === wanted.value &&
        (wanted.tag !== "button" || (c.textContent || "").trim() === wanted.text)) {
      return c;
    }
  }
  return null;
}

function appFocusLost() {
  var active = document.activeElement;
  return !active || active === document.body || !active.isConnected;
}

function appFocusRegion(region) {
  var heading = region.querySelector("h2, h3, h4, th[scope=row], td:first-child a");
  var target = heading || region;
  if (!target.matches("a, button, input, select, textarea") && !target.hasAttribute("tabindex")) {
    target.setAttribute("tabindex", "-1");
  }
  target.focus();
}

document.addEventListener("htmx:beforeRequest", function (event) {
  var detail = event.detail;
  var trigger = detail.requestConfig && detail.requestConfig.triggeringEvent;
  var control = (trigger && trigger.submitter) || document.activeElement;
  appRequests.set(detail.xhr, {
    targetId: detail.target && detail.target.id,
    control: appDescribe(control)
  });
});

document.addEventListener("htmx:afterSettle", function (event) {
  var info = appRequests.get(event.detail.xhr);
  if (!info) { return; }
  appRequests.delete(event.detail.xhr);  // once per request (afterSettle fires for each swapped element)
  var region = (info.targetId && document.getElementById(info.targetId)) || event.detail.elt;
  if (!region || !region.isConnected) { region = null; }
  var scope = region || document;
  var summary = scope.querySelector("[data-app-focus]");
  if (summary) { summary.focus(); return; }
  if (region) {
    var announced = region.matches("[data-announce]") ? region : region.querySelector("[data-announce]");
    if (announced) { appAnnounce(announced.getAttribute("data-announce") || announced.textContent.trim()); }
  }
  if (!appFocusLost()) { return; }
  var control = appFind(region, info.control);
  if (control && !control.disabled) { control.focus(); return; }
  if (region) { appFocusRegion(region); }
});

// --- failures htmx does not swap (403, 413, 5xx, network): a DSFR alert before the form, never nothing ------
function appErrorMessage(status) {
  if (status === 413) {
    var region = document.getElementById("app-announcer");
    var limit = region && region.getAttribute("data-max-upload-mb");
    return "Le fichier envoyé est trop volumineux" + (limit ? " : " + limit + " Mo au maximum." : ".") +
      " Choisissez un fichier plus léger et réessayez.";
  }
  if (status === 403) { return "Action non autorisée : vos droits ne permettent pas cette action ou votre session a expiré. Rechargez la page."; }
  if (status === 404) { return "L'élément demandé n'existe plus. Rechargez la page."; }
  if (status === 429) { return "Trop de requêtes : patientez quelques instants puis réessayez."; }
  if (status >= 500) { return "Le service a rencontré une erreur et votre action n'a pas été enregistrée. Réessayez dans quelques instants."; }
  if (status === 0) { return "Le serveur ne répond pas : vérifiez votre connexion puis réessayez."; }
  return "Votre action n'a pas pu être enregistrée (erreur " + status + "). Rechargez la page.";
}

function appShowError(elt, status) {
  var anchor = (elt && elt.closest && (elt.closest("form") || elt)) || document.getElementById("flash");
  if (!anchor || !anchor.isConnected) { anchor = document.getElementById("flash"); }
  var previous = anchor.previousElementSibling;
  if (previous && previous.hasAttribute("data-app-error")) { previous.remove(); }
  var alert = document.createElement("div");
  alert.className = "fr-alert fr-alert--error fr-alert--sm fr-mb-2w";
  alert.setAttribute("role", "alert");
  alert.setAttribute("tabindex", "-1");
  alert.setAttribute("data-app-error", "");
  var text = document.createElement("p");
  text.textContent = appErrorMessage(status);
  alert.appendChild(text);
  anchor.parentNode.insertBefore(alert, anchor);
  alert.focus();
}

document.addEventListener("htmx:responseError", function (event) {
  appRequests.delete(event.detail.xhr);
  appShowError(event.detail.elt, event.detail.xhr.status);
});
document.addEventListener("htmx:sendError", function (event) {
  appShowError(event.detail.elt, 0);
});
// A new successful request clears the alert of a previous failure of the same form.
document.addEventListener("htmx:beforeRequest", function (event) {
  var form = event.detail.elt && event.detail.elt.closest && event.detail.elt.closest("form");
  var previous = form && form.previousElementSibling;
  if (previous && previous.hasAttribute("data-app-error")) { previous.remove(); }
});

// The close button of a closable DSFR alert (dsfr/_components.html alert(closable=True)): no inline script (CSP).
document.addEventListener("click", function (event) {
  var button = event.target.closest && event.target.closest("[data-app-close-alert]");
  if (button) { button.closest(".fr-alert").remove(); }
});

// --- wide tables: a table wider than its box scrolls in its DSFR container, which then becomes a labelled,
// focusable region (keyboard users scroll it with the arrows; RGAA 7.3, axe scrollable-region-focusable).
function appScrollRegions(root) {
  var containers = (root || document).querySelectorAll(".fr-table__container");
  for (var i = 0; i < containers.length; i++) {
    var c = containers[i];
    var scrolls = c.scrollWidth > c.clientWidth + 1;
    if (scrolls && !c.hasAttribute("tabindex")) {
      var caption = c.querySelector("caption");
      c.setAttribute("tabindex", "0");
      c.setAttribute("role", "region");
      c.setAttribute("aria-label", (caption ? caption.textContent.trim() : "Tableau") + " (défilement horizontal)");
      c.setAttribute("data-app-scroll", "");
    } else if (!scrolls && c.hasAttribute("data-app-scroll")) {
      ["tabindex", "role", "aria-label", "data-app-scroll"].forEach(function (name) { c.removeAttribute(name); });
    }
  }
}
appScrollRegions(document);
var appResizeTimer = null;
window.addEventListener("resize", function () {
  window.clearTimeout(appResizeTimer);
  appResizeTimer = window.setTimeout(function () { appScrollRegions(document); }, 150);
});
document.addEventListener("htmx:afterSettle", function () { appScrollRegions(document); });
