/* Deals: drag and drop on the board (SortableJS), moves saved without leaving the page, the
   lost-reason dialog, and dragging stages into order in Settings → Pipelines.

   Without JavaScript everything still works: each card has a "Move…" form, Lost opens a page
   that asks the reason, and stages have ↑ ↓ buttons. No inline script: this file hooks onto
   data-* attributes. */
(function () {
  "use strict";

  function csrfToken(root) {
    var input = (root || document).querySelector("input[name=csrfmiddlewaretoken]") ||
      document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function boardEl() { return document.querySelector("[data-board]"); }

  function announce(text) {
    var region = document.querySelector("[data-board-announce]");
    if (!region) return;
    region.textContent = "";
    window.setTimeout(function () { region.textContent = text; }, 60);
  }

  /* Replace the board with the server's fresh rendering of it (totals, counts, versions). */
  function swapBoard(html, focusDealId) {
    var current = boardEl();
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    var fresh = template.content.querySelector("[data-board]");
    if (!current || !fresh) { window.location.reload(); return; }
    current.replaceWith(fresh);
    if (window.htmx) window.htmx.process(fresh);
    initBoard(fresh);
    var message = fresh.querySelector("[data-board-message]");
    if (message) announce((message.querySelector("p") || message).textContent.replace(/\s+/g, " ").trim());
    if (focusDealId) {
      var link = fresh.querySelector('[data-deal-id="' + focusDealId + '"] .deal-card-title');
      var target = link || message || fresh;
      if (target.focus) target.focus();
    }
  }

  function request(url, body) {
    var headers = {"HX-Request": "true", "HX-Target": "board"};
    var options = {credentials: "same-origin", headers: headers};
    if (body) {
      options.method = "POST";
      options.body = body;
      headers["X-CSRFToken"] = body.get("csrfmiddlewaretoken");
    }
    return window.fetch(url, options).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.text();
    });
  }

  function setBusy(board, busy) {
    board.classList.toggle("is-busy", busy);
    board.setAttribute("aria-busy", busy ? "true" : "false");
    (board._sortables || []).forEach(function (s) { s.option("disabled", busy); });
  }

  /* The board as it is now on the server (after a failed request, or a cancelled drag). */
  function refreshBoard(errorText) {
    var board = boardEl();
    if (!board) return;
    request(window.location.pathname + window.location.search).then(function (html) {
      swapBoard(html, null);
      if (errorText) showError(errorText);
    }, function () { window.location.reload(); });
  }

  function showError(text) {
    var board = boardEl();
    if (!board) return;
    var alert = document.createElement("div");
    alert.className = "alert alert-error";
    alert.setAttribute("role", "alert");
    alert.setAttribute("data-board-message", "");
    var icon = document.createElement("span");
    icon.className = "alert-icon";
    icon.setAttribute("aria-hidden", "true");
    icon.textContent = "!";
    var p = document.createElement("p");
    p.textContent = text;
    alert.appendChild(icon);
    alert.appendChild(p);
    board.insertBefore(alert, board.firstChild);
  }

  function sendMove(card, fields, focusAfter) {
    var board = boardEl();
    if (!board || board.classList.contains("is-busy")) return;
    var data = new FormData();
    data.append("csrfmiddlewaretoken", csrfToken(card));
    data.append("version", card.getAttribute("data-version"));
    data.append("board_query", board.getAttribute("data-query") || "");
    Object.keys(fields).forEach(function (name) { data.append(name, fields[name]); });
    setBusy(board, true);
    var dealId = card.getAttribute("data-deal-id");
    request(card.getAttribute("data-move-url"), data).then(function (html) {
      swapBoard(html, focusAfter ? dealId : null);
    }, function () {
      refreshBoard("The move could not be saved: the connection failed. The board shows what is " +
                   "saved; try again.");
    });
  }

  /* Ask why the deal was lost; `onConfirm(fields)` or `onCancel()`. */
  function askLost(card, onConfirm, onCancel) {
    var dialog = document.querySelector("[data-lost-dialog]");
    if (!dialog || typeof dialog.showModal !== "function") {
      var here = window.location.pathname + window.location.search;
      window.location.href = card.getAttribute("data-move-url").replace(/move\/$/, "lost/") +
        "?next=" + encodeURIComponent(here);
      return;
    }
    var form = dialog.querySelector("form");
    form.reset();
    var name = dialog.querySelector("[data-lost-name]");
    if (name) name.textContent = "“" + card.getAttribute("data-name") + "”";
    var confirmed = false;
    form.onsubmit = function (event) {
      event.preventDefault();
      if (form.reportValidity && !form.reportValidity()) return;
      var fields = {};
      ["lost_reason_id", "lost_note"].forEach(function (field) {
        var input = form.elements[field];
        if (input) fields[field] = input.value;
      });
      confirmed = true;
      dialog.close();
      onConfirm(fields);
    };
    dialog.onclose = function () {
      form.onsubmit = null;
      dialog.onclose = null;
      if (!confirmed) onCancel();
    };
    dialog.showModal();
    var first = dialog.querySelector("select, textarea");
    if (first) first.focus();
  }

  function putBack(card) {
    var home = card._home;
    if (!home) return;
    var next = home.next && home.next.parentNode === home.list ? home.next : null;
    home.list.insertBefore(card, next);
    card._home = null;
  }

  function dropped(card, list) {
    var stageId = list.getAttribute("data-stage-id");
    if (list.getAttribute("data-kind") === "lost") {
      askLost(card, function (fields) {
        fields.stage_id = stageId;
        sendMove(card, fields, false);
      }, function () {
        putBack(card);
        announce("Not moved: “" + card.getAttribute("data-name") + "” stays where it was.");
      });
    } else {
      sendMove(card, {stage_id: stageId}, false);
    }
  }

  var justDragged = false;

  function initBoard(board) {
    if (!board || !window.Sortable || board._sortables) return;
    var group = "deals-" + board.getAttribute("data-pipeline-id");
    board._sortables = [];
    board.querySelectorAll("[data-board-list]").forEach(function (list) {
      var isOpen = list.getAttribute("data-kind") === "open";
      board._sortables.push(window.Sortable.create(list, {
        group: {name: group, pull: isOpen, put: true},
        sort: false,
        draggable: "[data-deal-card]",
        filter: "summary, select, option, button, input, label, textarea, .card-move",
        preventOnFilter: false,
        // A finger scrolls the board; holding a card a moment picks it up.
        delay: 180,
        delayOnTouchOnly: true,
        touchStartThreshold: 6,
        // The same pointer-driven drag for mouse, pen and touch, with a clone on top of the page
        // (never clipped by a column) and auto-scroll across the board.
        forceFallback: true,
        fallbackOnBody: true,
        fallbackTolerance: 4,
        animation: 150,
        ghostClass: "is-ghost",
        chosenClass: "is-chosen",
        dragClass: "is-lifted",
        scroll: true,
        bubbleScroll: true,
        scrollSensitivity: 90,
        scrollSpeed: 16,
        emptyInsertThreshold: 24,
        onStart: function (event) {
          document.body.classList.add("board-dragging");
          event.item._home = {list: event.from, next: event.item.nextElementSibling};
        },
        onEnd: function (event) {
          document.body.classList.remove("board-dragging");
          justDragged = true;
          window.setTimeout(function () { justDragged = false; }, 0);
          if (event.from === event.to) return;
          dropped(event.item, event.to);
        }
      }));
    });
  }

  // A drag that ends over the card's own link is not a click on it.
  document.addEventListener("click", function (event) {
    if (justDragged && event.target.closest && event.target.closest("[data-deal-card]")) {
      event.preventDefault();
      event.stopPropagation();
    }
  }, true);

  // The cards' "Move…" forms: keyboard and no-drag moves, saved without leaving the board.
  document.addEventListener("submit", function (event) {
    var form = event.target.closest && event.target.closest("[data-move-form]");
    var board = boardEl();
    if (!form || !board || !board.contains(form)) return;
    event.preventDefault();
    var card = form.closest("[data-deal-card]");
    var select = form.querySelector("select[name=stage_id]");
    var option = select.options[select.selectedIndex];
    if (option && option.getAttribute("data-kind") === "lost") {
      askLost(card, function (fields) {
        fields.stage_id = select.value;
        sendMove(card, fields, true);
      }, function () { select.focus(); });
    } else {
      sendMove(card, {stage_id: select.value}, true);
    }
  });

  // The deal page: its Lost button opens the dialog (without JavaScript, a page asks).
  document.addEventListener("click", function (event) {
    var opener = event.target.closest && event.target.closest("[data-lost-open]");
    if (opener) {
      var dialog = document.querySelector("[data-lost-dialog]");
      if (dialog && typeof dialog.showModal === "function") {
        event.preventDefault();
        dialog.showModal();
        var select = dialog.querySelector("select, textarea");
        if (select) select.focus();
      }
      return;
    }
    var cancel = event.target.closest && event.target.closest("[data-dialog-cancel]");
    if (cancel) {
      var owner = cancel.closest("dialog");
      if (owner) owner.close();
    }
  });

  // Settings → Pipelines: drag open stages into order (the ↑ ↓ buttons do it without a mouse).
  function initStageSort(list) {
    if (!window.Sortable || list._sortable) return;
    list._sortable = window.Sortable.create(list, {
      draggable: "[data-sortable]",
      handle: ".stage-handle",
      forceFallback: true,
      delay: 120,
      delayOnTouchOnly: true,
      animation: 150,
      ghostClass: "is-ghost",
      // Won and Lost stay last.
      onMove: function (event) { return event.related.hasAttribute("data-sortable"); },
      onEnd: function (event) {
        if (event.oldIndex === event.newIndex) return;
        var form = document.getElementById(list.getAttribute("data-reorder-form"));
        if (!form) return;
        form.querySelectorAll("input[name=stage_ids]").forEach(function (input) { input.remove(); });
        list.querySelectorAll("[data-stage-id]").forEach(function (row) {
          var input = document.createElement("input");
          input.type = "hidden";
          input.name = "stage_ids";
          input.value = row.getAttribute("data-stage-id");
          form.appendChild(input);
        });
        form.submit();
      }
    });
  }

  function initAll() {
    // On a phone the filters fold away (unless one is set) so the board shows first.
    var panel = document.querySelector("[data-filter-panel]");
    if (panel && window.matchMedia("(max-width: 640px)").matches &&
        !panel.querySelector(".badge")) panel.removeAttribute("open");
    initBoard(boardEl());
    document.querySelectorAll("[data-stage-sort]").forEach(initStageSort);
  }

  // A filter change swaps the board in through htmx; going back in history restores one.
  document.addEventListener("htmx:load", function (event) {
    var el = event.detail && event.detail.elt;
    if (el && el.matches && el.matches("[data-board]")) initBoard(el);
  });
  document.addEventListener("htmx:historyRestore", function () { initBoard(boardEl()); });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", initAll);
  else initAll();
})();
