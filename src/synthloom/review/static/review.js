// Keyboard shortcuts for the review page. No record text is ever read or written here: the
// server renders (and escapes) everything; this file only opens forms and submits them.
"use strict";

(function () {
  const panels = ["reject-panel", "edit-panel"];
  let submitting = false;

  function typing(el) {
    if (!el) return false;
    const tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }

  function submit(form) {
    if (!form || submitting) return;
    form.requestSubmit(); // validates first; the submit event below marks it sent
  }

  function closeAll() {
    for (const id of panels) {
      const panel = document.getElementById(id);
      if (panel) panel.hidden = true;
    }
    const view = document.getElementById("fields-view");
    if (view) view.hidden = false;
    if (document.activeElement && document.activeElement !== document.body) {
      document.activeElement.blur();
    }
  }

  function open(id) {
    const panel = document.getElementById(id);
    if (!panel) return;
    closeAll();
    panel.hidden = false;
    if (id === "edit-panel") {
      const view = document.getElementById("fields-view");
      if (view) view.hidden = true;
    }
    const first = panel.querySelector("select, textarea, input:not([type=hidden])");
    if (first) {
      first.focus();
      if (first.tagName === "TEXTAREA") first.setSelectionRange(0, 0);
    }
    panel.scrollIntoView({ block: "nearest" });
  }

  function follow(id) {
    const link = document.getElementById(id);
    if (link) window.location.assign(link.href);
  }

  document.addEventListener("click", function (ev) {
    const opener = ev.target.closest("[data-open]");
    if (opener) {
      ev.preventDefault();
      open(opener.getAttribute("data-open"));
      return;
    }
    if (ev.target.closest("[data-close]")) {
      ev.preventDefault();
      closeAll();
    }
  });

  document.addEventListener("submit", function () {
    submitting = true; // one verdict per page: a second key press must not send another
  });

  window.addEventListener("pageshow", function () {
    submitting = false; // coming back through the history restores the page as it was
  });

  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape") {
      closeAll();
      return;
    }
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey) && typing(ev.target)) {
      ev.preventDefault();
      submit(ev.target.form);
      return;
    }
    if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.isComposing || typing(ev.target)) return;
    switch (ev.key) {
      case "a":
        submit(document.getElementById("accept-form"));
        break;
      case "r":
        open("reject-panel");
        break;
      case "e":
        open("edit-panel");
        break;
      case "j":
        follow("next-link");
        break;
      case "k":
        follow("prev-link");
        break;
      default:
        return;
    }
    ev.preventDefault();
  });
})();
