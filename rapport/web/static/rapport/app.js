/* Rapport UI behaviour. No inline scripts: everything hooks onto data-* attributes. */
(function () {
  "use strict";

  function isTyping(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }

  function searchInput() { return document.querySelector("[data-search-input]"); }
  function dropdown() { return document.getElementById("search-dropdown"); }
  function closeDropdown() { var d = dropdown(); if (d) d.innerHTML = ""; }

  document.addEventListener("keydown", function (event) {
    var input = searchInput();
    if (event.key === "/" && !event.ctrlKey && !event.metaKey && !event.altKey && !isTyping(document.activeElement)) {
      if (input) { event.preventDefault(); input.focus(); input.select(); }
      return;
    }
    if (event.key === "Escape") {
      if (document.activeElement === input || (dropdown() && dropdown().contains(document.activeElement))) {
        closeDropdown();
        if (input) input.focus();
      }
      document.querySelectorAll("details.user-menu[open]").forEach(function (d) { d.removeAttribute("open"); });
    }
    if (event.key === "ArrowDown" && document.activeElement === input) {
      var first = dropdown() && dropdown().querySelector("a");
      if (first) { event.preventDefault(); first.focus(); }
    }
  });

  document.addEventListener("click", function (event) {
    var form = event.target.closest ? event.target.closest(".global-search") : null;
    if (!form) closeDropdown();
    document.querySelectorAll("details.user-menu[open]").forEach(function (d) {
      if (!d.contains(event.target)) d.removeAttribute("open");
    });
  });

  /* Destructive buttons whose form says data-confirm ask first. */
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });

  /* Collapsible navigation on small screens. */
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest && event.target.closest("[data-nav-toggle]");
    if (!toggle) return;
    var open = toggle.getAttribute("aria-expanded") === "true";
    toggle.setAttribute("aria-expanded", open ? "false" : "true");
    document.body.classList.toggle("nav-open", !open);
  });

  /* List table: select all, and a live count of selected rows. */
  function updateBulk(form) {
    var boxes = form.querySelectorAll("[data-row-check]");
    var checked = form.querySelectorAll("[data-row-check]:checked").length;
    var all = form.querySelector("[data-select-all]");
    if (all) {
      all.checked = checked > 0 && checked === boxes.length;
      all.indeterminate = checked > 0 && checked < boxes.length;
    }
    var label = form.querySelector("[data-bulk-count]");
    if (label) {
      label.textContent = checked ? checked + " selected" : "Select rows to act on several at once.";
    }
    form.classList.toggle("has-selection", checked > 0);
  }

  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest("[data-bulk-form]");
    if (!form) return;
    if (event.target.matches("[data-select-all]")) {
      form.querySelectorAll("[data-row-check]").forEach(function (box) { box.checked = event.target.checked; });
    }
    updateBulk(form);
  });

  /* Copy buttons: data-copy="#selector" copies that input's value. */
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    var done = function () {
      var original = button.textContent;
      button.textContent = "Copied ✓";
      setTimeout(function () { button.textContent = original; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.value).then(done);
    } else {
      source.select();
      document.execCommand("copy");
      done();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-bulk-form]").forEach(updateBulk);
  });

  // Charts: the server sends each chart's Chart.js configuration as JSON beside its canvas.
  function drawCharts(root) {
    if (!window.Chart) return;
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var source = document.getElementById(canvas.getAttribute("data-chart"));
      if (!source || canvas.hasAttribute("data-drawn")) return;
      new window.Chart(canvas, JSON.parse(source.textContent));
      canvas.setAttribute("data-drawn", "");
    });
  }
  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
})();

/* Forms that show only the inputs the chosen option needs: a container names its select
   with data-show-by; children list the options they belong to in data-show-for. Without
   JavaScript every input shows, and the server ignores the ones that do not apply. */
(function () {
  "use strict";
  function refresh(container) {
    var select = container.querySelector(container.getAttribute("data-show-by"));
    if (!select) return;
    container.querySelectorAll("[data-show-for]").forEach(function (el) {
      if (el.closest("[data-show-by]") !== container) return;
      var wanted = el.getAttribute("data-show-for").split(" ");
      el.hidden = wanted.indexOf(select.value) === -1;
    });
  }
  function all() { document.querySelectorAll("[data-show-by]").forEach(refresh); }
  document.addEventListener("change", function (event) {
    var container = event.target.closest && event.target.closest("[data-show-by]");
    if (container && event.target.matches(container.getAttribute("data-show-by"))) refresh(container);
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", all);
  else all();
})();
