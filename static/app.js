// binspector: comfort on top of pages that work without it: copy buttons, ticking ages,
// and live arrival of new requests over Server-Sent Events.
"use strict";
(function () {
  document.documentElement.classList.add("js");

  function age(ms) {
    var s = Math.max(0, Math.floor((Date.now() - ms) / 1000));
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 86400) return Math.floor(s / 3600) + " h ago";
    return Math.floor(s / 86400) + " d ago";
  }

  function tick() {
    document.querySelectorAll(".age[data-ts]").forEach(function (el) {
      var ms = Number(el.getAttribute("data-ts"));
      if (ms) el.textContent = age(ms);
    });
  }

  function setupCopy(root) {
    root.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
      if (button.dataset.bound) return;
      button.dataset.bound = "1";
      button.addEventListener("click", function () {
        var target = document.getElementById(button.getAttribute("data-copy"));
        if (!target) return;
        var text = target.value !== undefined && target.tagName === "INPUT" ? target.value : target.textContent;
        var done = function () {
          var label = button.textContent;
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = label; }, 1200);
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(done, function () {});
        } else if (target.select) {
          target.select();
          document.execCommand("copy");
          done();
        }
      });
    });
  }

  function live() {
    var bin = document.getElementById("bin");
    var list = document.getElementById("requests");
    if (!bin || !list || !window.EventSource) return;
    var url = bin.getAttribute("data-live");
    if (!url) return;
    var filter = bin.getAttribute("data-filter");
    var binId = bin.getAttribute("data-bin");
    var status = document.getElementById("live-status");
    var count = document.getElementById("request-count");
    var shown = 0;
    function say(text) {
      if (!status) return;
      status.hidden = false;
      status.textContent = text;
    }
    var source = new EventSource(url);
    source.addEventListener("open", function () { say("Live: new requests appear here as they arrive."); });
    source.addEventListener("error", function () { say("Live updates paused; reconnecting…"); });
    source.addEventListener("reload", function () { window.location.reload(); });
    source.addEventListener("request", function (message) {
      var arrival;
      try { arrival = JSON.parse(message.data); } catch (e) { return; }
      if (filter && arrival.event_type !== filter) return;
      if (document.getElementById("r" + arrival.id)) return;
      fetch("/inspect/" + binId + "/cards/" + encodeURIComponent(arrival.id), { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (!html || document.getElementById("r" + arrival.id)) return;
          var empty = document.getElementById("empty-state");
          if (empty) empty.remove();
          var holder = document.createElement("div");
          holder.innerHTML = html;
          var card = holder.querySelector("article.card");
          if (!card) return;
          card.classList.add("fresh");
          // Fetches finish in any order: place the card by id so the list stays newest first.
          var id = Number(arrival.id);
          var next = Array.prototype.find.call(list.querySelectorAll("article.card"), function (other) {
            return Number(other.getAttribute("data-id")) < id;
          });
          list.insertBefore(card, next || null);
          setupCopy(card);
          shown += 1;
          if (count) {
            var n = Number(count.textContent.split(" ")[0]) + 1;
            count.textContent = n + (n === 1 ? " request" : " requests");
          }
        })
        .catch(function () {});
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupCopy(document);
    tick();
    setInterval(tick, 1000);
    live();
  });
})();
