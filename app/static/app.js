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
    label: control.getAttribute("aria-label"),
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
    // the aria-label tells apart the rows' buttons of the same text (« Enregistrer » on each attendance row);
    // a link or a button is the same one only with the same text (« Modifier la section » is not « Annuler »)
    var named = wanted.tag === "button" || wanted.tag === "a";
    if (c.getAttribute("name") === wanted.name && c.getAttribute("value") === wanted.value &&
        c.getAttribute("aria-label") === wanted.label &&
        (!named || (c.textContent || "").trim() === wanted.text)) {
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
  // A request the user did not make with this control (a poll of the notifications badge, a lazy load) may
  // settle while another swap has just dropped the focus: it must not take it to its own region.
  var elt = detail.elt;
  var used = !!(control && elt && (elt === control || elt.contains(control) || (control.form && control.form === elt)));
  appRequests.set(detail.xhr, {
    targetId: detail.target && detail.target.id,
    control: appDescribe(control),
    used: used
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
  // what the server announced for this request (HX-Trigger « announce ») is what the user did: a
  // [data-announce] of the swapped fragment (a search's count inside a re-rendered form) must not replace it
  var told = /"announce"/.test(event.detail.xhr.getResponseHeader("HX-Trigger") || "");
  if (region && !told) {
    var announced = region.matches("[data-announce]") ? region : region.querySelector("[data-announce]");
    if (announced) { appAnnounce(announced.getAttribute("data-announce") || announced.textContent.trim()); }
  }
  if (!appFocusLost()) { return; }
  var control = appFind(info.used ? region : null, info.used ? info.control : null);
  if (control && !control.disabled) { control.focus(); return; }
  if (region && info.used) { appFocusRegion(region); }
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

// --- field messages written by the script (autosave, file size): the DSFR error state of the field's group,
// aria-invalid and aria-describedby pointing at <id>-messages, as app/templates/dsfr/_forms.html renders them.
function appGroupOf(control) {
  return control.closest(".fr-input-group, .fr-select-group, .fr-upload-group, .fr-checkbox-group, .fr-fieldset");
}

function appGroupErrorClass(group) {
  var kinds = ["fr-input-group", "fr-select-group", "fr-upload-group", "fr-checkbox-group", "fr-fieldset"];
  for (var i = 0; i < kinds.length; i++) {
    if (group.classList.contains(kinds[i])) { return kinds[i] + "--error"; }
  }
  return null;
}

function appSetFieldError(control, message) {
  appClearFieldError(control);
  var group = appGroupOf(control);
  var id = control.id + "-messages";
  var box = document.createElement("div");
  box.className = "fr-messages-group";
  box.id = id;
  box.setAttribute("aria-live", "polite");
  box.setAttribute("data-app-message", "");
  var text = document.createElement("p");
  text.className = "fr-message fr-message--error";
  text.textContent = message;
  box.appendChild(text);
  if (group) {
    var cls = appGroupErrorClass(group);
    if (cls) { group.classList.add(cls); }
    group.appendChild(box);
  } else {
    control.insertAdjacentElement("afterend", box);
  }
  if (control.classList.contains("fr-input")) { control.classList.add("fr-input--error"); }
  if (control.classList.contains("fr-select")) { control.classList.add("fr-select--error"); }
  control.setAttribute("aria-invalid", "true");
  var described = (control.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
  if (described.indexOf(id) < 0) { described.push(id); }
  control.setAttribute("aria-describedby", described.join(" "));
}

function appClearFieldError(control) {
  var id = control.id + "-messages";
  var box = document.getElementById(id);
  if (box) { box.remove(); }
  var group = appGroupOf(control);
  if (group) {
    var cls = appGroupErrorClass(group);
    if (cls) { group.classList.remove(cls); }
  }
  control.classList.remove("fr-input--error", "fr-select--error");
  control.removeAttribute("aria-invalid");
  var described = (control.getAttribute("aria-describedby") || "").split(/\s+/).filter(function (x) {
    return x && x !== id;
  });
  if (described.length) { control.setAttribute("aria-describedby", described.join(" ")); }
  else { control.removeAttribute("aria-describedby"); }
}

// --- autosave of the dossier's draft on the step pages (templates/dossiers/steps.html) ------------------------
// A section form with data-autosave is posted to that URL (dossiers.autosave_section: the same service as its
// « Enregistrer la section » button) 1.2 s after the last keystroke or choice, one request at a time. The page is
// never swapped and the focus never moved: the answer only updates the version, the status line (« Brouillon
// enregistré à 14:02 », role=status) and the messages at the fields. A 409 (someone else saved the section)
// stops the autosave of that form, never overwriting; « Précédent » / « Suivant » first save what is pending.
var APP_AUTOSAVE_DELAY = 1200;
var appAutosaves = new WeakMap();

function appSnapshot(form) {
  var parts = [];
  new FormData(form).forEach(function (value, name) {
    if (name !== "version" && name !== "csrf_token" && typeof value === "string") { parts.push(name + "=" + value); }
  });
  return parts.join("&");
}

function appAutosaveState(form) {
  var state = appAutosaves.get(form);
  if (!state) {
    state = { timer: null, inflight: null, dirty: false, again: false, stopped: false, invalid: false,
              saved: appSnapshot(form) };
    appAutosaves.set(form, state);
  }
  return state;
}

// What each form holds when shown is its saved draft: only a change from it is sent.
function appAutosaveInit(root) {
  var forms = (root || document).querySelectorAll("form[data-autosave]");
  for (var i = 0; i < forms.length; i++) { appAutosaveState(forms[i]); }
}
appAutosaveInit(document);
document.addEventListener("htmx:afterSettle", function () { appAutosaveInit(document); });
// The button's save (htmx) replaces the section: no autosave of the old form may follow it.
document.addEventListener("htmx:beforeRequest", function (event) {
  var form = event.detail.elt && event.detail.elt.closest && event.detail.elt.closest("form[data-autosave]");
  if (form) {
    var state = appAutosaveState(form);
    window.clearTimeout(state.timer);
    state.timer = null;
    state.stopped = true;
  }
});

function appAutosaveStatus(form, message, kind) {
  var status = form.querySelector("[data-autosave-status]");
  if (!status) { return; }
  status.textContent = message;
  status.classList.toggle("fr-error-text", kind === "error");
  status.classList.toggle("fr-valid-text", kind === "saved");
}

function appAutosaveErrors(form, errors) {
  var inError = form.querySelectorAll("[aria-invalid=true]");
  for (var i = 0; i < inError.length; i++) { appClearFieldError(inError[i]); }
  var left = [];
  Object.keys(errors || {}).forEach(function (id) {
    var control = document.getElementById(id);
    if (control && form.contains(control)) { appSetFieldError(control, errors[id]); }
    else { left.push(errors[id]); }
  });
  return left;
}

function appAutosaveConflict(form, message) {
  var previous = form.querySelector("[data-app-conflict]");
  if (previous) { previous.remove(); }
  var alert = document.createElement("div");
  alert.className = "fr-alert fr-alert--warning fr-alert--sm fr-mb-2w";
  alert.setAttribute("role", "alert");
  alert.setAttribute("data-app-conflict", "");
  var text = document.createElement("p");
  text.textContent = message;
  alert.appendChild(text);
  form.insertBefore(alert, form.firstChild);
}

function appAutosave(form) {
  var state = appAutosaveState(form);
  window.clearTimeout(state.timer);
  state.timer = null;
  if (state.stopped || !form.isConnected) { return Promise.resolve(false); }
  if (state.inflight) { state.again = true; return state.inflight; }
  var snapshot = appSnapshot(form);
  if (!state.dirty || (snapshot === state.saved && !state.invalid)) { state.dirty = false; return Promise.resolve(!state.invalid); }
  state.dirty = false;
  var meta = document.querySelector('meta[name="csrf-token"]');
  appAutosaveStatus(form, "Enregistrement du brouillon…", null);
  state.inflight = fetch(form.getAttribute("data-autosave"), {
    method: "POST",
    body: new FormData(form),
    credentials: "same-origin",
    headers: meta ? { "X-CSRFToken": meta.content, "Accept": "application/json" } : { "Accept": "application/json" }
  }).then(function (response) {
    return response.json().catch(function () { return {}; }).then(function (body) {
      return { status: response.status, body: body };
    });
  }).then(function (answer) {
    var body = answer.body || {};
    if (answer.status === 200) {
      var version = form.querySelector("input[name=version]");
      if (version && body.version !== undefined) { version.value = String(body.version); }
      appAutosaveErrors(form, {});
      state.invalid = false;
      state.saved = snapshot;
      appAutosaveStatus(form, body.message || "Brouillon enregistré", "saved");
      return true;
    }
    if (answer.status === 422) {
      var left = appAutosaveErrors(form, body.errors).concat(body.general || []);
      state.invalid = true;
      appAutosaveStatus(form, (body.message || "Brouillon non enregistré.") + (left.length ? " " + left.join(" ") : ""), "error");
      return false;
    }
    if (answer.status === 409) {
      state.stopped = true;
      state.conflict = true;
      appAutosaveConflict(form, body.message || "Cette section a été modifiée entre-temps : rechargez la page.");
      appAutosaveStatus(form, "Brouillon non enregistré : modification concurrente.", "error");
      return false;
    }
    state.invalid = true;
    appAutosaveStatus(form, body.message || appErrorMessage(answer.status), "error");
    return false;
  }, function () {
    state.dirty = true;
    appAutosaveStatus(form, "Brouillon non enregistré : le serveur ne répond pas. Nouvel essai à la prochaine saisie.", "error");
    return false;
  }).then(function (ok) {
    state.inflight = null;
    if (state.again) { state.again = false; return appAutosave(form); }
    return ok;
  });
  return state.inflight;
}

function appAutosaveLater(event) {
  var form = event.target && event.target.closest && event.target.closest("form[data-autosave]");
  if (!form || event.target.type === "file") { return; }
  var state = appAutosaveState(form);
  if (state.stopped) { return; }
  state.dirty = true;
  window.clearTimeout(state.timer);
  state.timer = window.setTimeout(function () { appAutosave(form); }, APP_AUTOSAVE_DELAY);
}
document.addEventListener("input", appAutosaveLater);
document.addEventListener("change", appAutosaveLater);

// « Précédent » / « Suivant »: save the pending drafts first; stay (focus on the first field in error) when one
// is refused, else go and give the focus to the next page's step title.
document.addEventListener("click", function (event) {
  var link = event.target.closest && event.target.closest("a[data-app-step-nav]");
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey) { return; }
  event.preventDefault();
  var forms = document.querySelectorAll("form[data-autosave]");
  var saves = [];
  for (var i = 0; i < forms.length; i++) {
    var state = appAutosaveState(forms[i]);
    if (state.conflict) { saves.push(Promise.resolve(false)); continue; }
    saves.push(state.dirty || state.inflight || state.timer ? appAutosave(forms[i]) : Promise.resolve(!state.invalid));
  }
  Promise.all(saves).then(function (results) {
    if (results.every(Boolean)) {
      try { window.sessionStorage.setItem("app-step-focus", "1"); } catch (e) { /* private mode: no focus hint */ }
      window.location.assign(link.href);
      return;
    }
    appAnnounce("Brouillon non enregistré : corrigez les champs signalés avant de changer d'étape.");
    var wrong = document.querySelector("form[data-autosave] [aria-invalid=true], form[data-autosave] [data-app-conflict]");
    if (wrong) {
      if (!wrong.matches("input, select, textarea")) { wrong.setAttribute("tabindex", "-1"); }
      wrong.focus();
    }
  });
});

(function () {
  var title = document.getElementById("step-title");
  var wanted = false;
  try { wanted = window.sessionStorage.getItem("app-step-focus") === "1"; window.sessionStorage.removeItem("app-step-focus"); }
  catch (e) { wanted = false; }
  if (title && wanted) { title.focus(); }
})();

// Leaving the page with a draft not yet sent: send it (sendBeacon survives the navigation; the server still
// checks the version and the input); a draft the server refused makes the browser ask before leaving.
window.addEventListener("pagehide", function () {
  var forms = document.querySelectorAll("form[data-autosave]");
  for (var i = 0; i < forms.length; i++) {
    var state = appAutosaveState(forms[i]);
    if ((state.dirty || state.timer) && !state.stopped && navigator.sendBeacon) {
      navigator.sendBeacon(forms[i].getAttribute("data-autosave"), new FormData(forms[i]));
    }
  }
});
window.addEventListener("beforeunload", function (event) {
  var forms = document.querySelectorAll("form[data-autosave]");
  for (var i = 0; i < forms.length; i++) {
    var state = appAutosaveState(forms[i]);
    if (state.invalid && !state.stopped) { event.preventDefault(); event.returnValue = ""; return; }
  }
});

// --- file size checked before sending (every input[type=file][data-max-bytes], rendered from the setting the
// server enforces): a too-large file is refused at the field, the input emptied, the focus kept on it.
function appFileSize(bytes) {
  var mo = bytes / 1048576;
  return (mo >= 10 ? Math.round(mo) : Math.round(mo * 10) / 10).toString().replace(".", ",") + " Mo";
}

function appCheckFiles(input) {
  var max = parseInt(input.getAttribute("data-max-bytes"), 10);
  var maxTotal = parseInt(input.getAttribute("data-max-total-bytes"), 10);
  var files = Array.prototype.slice.call(input.files || []);
  var message = null;
  var total = 0;
  for (var i = 0; i < files.length; i++) {
    total += files[i].size;
    if (max && files[i].size > max) {
      message = "Le fichier « " + files[i].name + " » pèse " + appFileSize(files[i].size) +
        " : la taille maximale est de " + appFileSize(max) + ". Choisissez un fichier plus léger.";
      break;
    }
  }
  if (!message && maxTotal && total > maxTotal) {
    message = "Les fichiers choisis pèsent " + appFileSize(total) + " ensemble : " + appFileSize(maxTotal) +
      " au plus par envoi. Envoyez-les en plusieurs fois.";
  }
  if (message) {
    input.value = "";
    appSetFieldError(input, message);
    input.focus();
    return false;
  }
  if (input.getAttribute("aria-invalid") === "true") { appClearFieldError(input); }
  return true;
}

document.addEventListener("change", function (event) {
  var input = event.target;
  if (input.matches && input.matches("input[type=file][data-max-bytes]")) { appCheckFiles(input); }
});
// A form is never sent with a too-large file (capture phase: before htmx's own submit listener).
document.addEventListener("submit", function (event) {
  var inputs = event.target.querySelectorAll ? event.target.querySelectorAll("input[type=file][data-max-bytes]") : [];
  for (var i = 0; i < inputs.length; i++) {
    if (!appCheckFiles(inputs[i])) { event.preventDefault(); event.stopImmediatePropagation(); return; }
  }
}, true);
