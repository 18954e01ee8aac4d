// The console's only script (no inline code: the page's Content-Security-Policy forbids it).
// Everything here is a nicety: without JavaScript the forms still work and the preview shows the
// runs of the form as last rendered by the server.
(function () {
  "use strict";

  // Create/edit: show only the timing fields the chosen cadence uses.
  function showCadenceFields(form) {
    var cadence = form.elements.cadence.value;
    form.querySelectorAll(".field[class*='for-']").forEach(function (field) {
      var wanted = field.classList.contains("for-" + cadence);
      field.hidden = !wanted && !field.classList.contains("has-error");
    });
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  // Create/edit: the next runs as you type, with the runs daylight saving moved marked.
  function renderPreview(body, answer) {
    body.textContent = "";
    if (answer.state) {  // a saved schedule's pause or off, and what it does to the runs
      var state = element("p", "muted", answer.state);
      state.id = "preview-state";
      body.appendChild(state);
    }
    var fields = Object.keys(answer.errors || {});
    if (fields.length) {
      var error = element("p", "error", "");
      error.id = "preview-error";
      error.textContent = fields.map(function (name) { return answer.errors[name].join(" "); }).join(" ");
      body.appendChild(error);
      return;
    }
    if (!answer.runs.length) {
      if (!answer.state) body.appendChild(element("p", "muted", "No runs."));
      return;
    }
    var list = element("ol", "runs-ahead");
    list.id = "preview-runs";
    answer.runs.forEach(function (run) {
      var item = element("li", run.note ? "dst" : "");
      var time = element("time", "", run.local);
      time.setAttribute("datetime", run.at);
      item.appendChild(time);
      item.appendChild(document.createTextNode(" "));
      item.appendChild(element("span", "muted", run.relative));
      if (run.note) {
        item.appendChild(document.createElement("br"));
        item.appendChild(element("span", "note", "\u26a0 " + run.note));
      }
      list.appendChild(item);
    });
    body.appendChild(list);
  }

  function livePreview(form) {
    var body = document.getElementById("preview-body");
    var timer = null;
    var latest = 0;
    function update() {
      var asked = ++latest;
      var data = new FormData(form);
      fetch(form.dataset.preview, {
        method: "POST", body: data, credentials: "same-origin",
        headers: {"X-CSRF-Token": form.elements.csrf_token.value}
      }).then(function (response) {
        return response.ok ? response.json() : null;
      }).then(function (answer) {
        if (answer && asked === latest) renderPreview(body, answer);
      }).catch(function () { /* offline for a moment: keep the last preview */ });
    }
    function soon() {
      clearTimeout(timer);
      timer = setTimeout(update, 250);
    }
    form.addEventListener("input", soon);
    form.addEventListener("change", function () { showCadenceFields(form); soon(); });
    showCadenceFields(form);
  }

  // Schedule page: while a run is unfinished, refresh the run history every few seconds.
  function followHistory(container) {
    function refresh() {
      if (!container.querySelector("[data-unfinished]")) return;
      fetch(container.dataset.src, {credentials: "same-origin"}).then(function (response) {
        return response.ok ? response.text() : null;
      }).then(function (html) {
        // Server-rendered (and escaped) by the same template as the page itself.
        if (html !== null) container.innerHTML = html;
        setTimeout(refresh, 2000);
      }).catch(function () { setTimeout(refresh, 5000); });
    }
    setTimeout(refresh, 2000);
  }

  // Schedules list: the header's box ticks (or unticks) every schedule on the page for a bulk change.
  function tickAll(box) {
    box.addEventListener("change", function () {
      document.querySelectorAll("[data-bulk-pick]").forEach(function (pick) { pick.checked = box.checked; });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var all = document.querySelector("[data-bulk-all]");
    if (all) tickAll(all);
    var form = document.getElementById("schedule-form");
    if (form) livePreview(form);
    var history = document.getElementById("history-body");
    if (history) followHistory(history);
  });
})();
