(function () {
  "use strict";
  var doc = document, root = doc.documentElement, me = doc.currentScript;
  var min = Math.max(1, parseFloat(me && me.getAttribute("data-poll-min")) || 10) * 1000;
  var max = Math.max(min, (parseFloat(me && me.getAttribute("data-poll-max")) || 120) * 1000);

  // The visitor's own time zone, next to the configured ones, unless it is one of them.
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    var shown = (root.getAttribute("data-zones") || "").split(" ");
    if (zone && shown.indexOf(zone) < 0) {
      var format = new Intl.DateTimeFormat(root.lang || undefined, {
        weekday: "short", month: "long", day: "numeric",
        hour: "numeric", minute: "2-digit", timeZoneName: "short"
      });
      var nodes = doc.querySelectorAll("[data-local]");
      for (var i = 0; i < nodes.length; i++) {
        var node = nodes[i];
        var start = new Date(node.getAttribute("data-local"));
        var end = node.getAttribute("data-local-end");
        if (isNaN(start.getTime())) continue;
        var text = end && format.formatRange ? format.formatRange(start, new Date(end)) : format.format(start);
        node.textContent = (node.getAttribute("data-label") || "{time}").replace("{time}", text);
        node.hidden = false;
      }
    }
  } catch (e) { /* keep the times in the configured zones */ }

  // Notice when the site is back: read the status document (or, without one, ask this
  // same URL), gently, and load the page again when maintenance is over.
  if (!window.fetch) { setTimeout(function () { location.reload(); }, max); return; }
  var delay = min, timer = 0, statusUrl = me && me.getAttribute("data-status");
  function later(ms) {
    clearTimeout(timer);
    timer = setTimeout(check, ms + Math.random() * ms * 0.2);  // spread a crowd of tabs
  }
  function back() { location.replace(location.href.split("#")[0]); }
  function wait(seconds) {
    delay = Math.min(max, Math.max(delay * 2, isNaN(seconds) ? 0 : seconds * 1000));
    later(delay);
  }
  // A component's page (partial maintenance) waits for that component, not for the site.
  var part = me && me.getAttribute("data-component");
  function up(status) {
    if (!part) return true;
    var list = status.components || [];
    for (var i = 0; i < list.length; i++) {
      if (list[i] && list[i].id === part) return list[i].status === "operational";
    }
    return true;  // not listed: the site no longer knows it as down
  }
  function check() {
    if (doc.hidden || navigator.onLine === false) { later(delay); return; }
    if (statusUrl) {
      fetch(statusUrl, { cache: "no-store", credentials: "same-origin" })
        .then(function (answer) {
          if (!answer.ok) throw new Error("no status document");
          return answer.json();
        })
        .then(function (status) {
          // "none": the site is up; "minor": it is up with some components down.
          var site = status && status.status && status.status.indicator;
          if ((site === "none" || site === "minor") && up(status)) { back(); return; }
          wait(parseInt(status && status.retry_after, 10));
        }, function () {
          statusUrl = null;  // not reachable: fall back to asking the page itself
          later(delay);
        });
      return;
    }
    fetch(location.href, { method: "HEAD", cache: "no-store", credentials: "same-origin", redirect: "manual" })
      .then(function (answer) {
        var status = answer.status;
        if (answer.type === "opaqueredirect" || (status >= 200 && status < 500 && status !== 429)) {
          back();
          return;
        }
        var wait = parseInt(answer.headers.get("Retry-After"), 10) * 1000;
        delay = Math.min(max, Math.max(delay * 2, isNaN(wait) ? 0 : wait));
        later(delay);
      }, function () {
        delay = Math.min(max, delay * 2);
        later(delay);
      });
  }
  later(delay);
})();
