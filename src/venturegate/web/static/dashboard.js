// Draws the venture page's charts with uPlot and keeps polling from wiping a form being filled in.
(function () {
  "use strict";
  var LEVELS = [
    ["target", "#2e7d32"],
    ["threshold", "#f9a825"],
    ["alert", "#c62828"],
  ];

  function draw(figure) {
    var holder = figure.querySelector(".plot");
    var source = figure.querySelector("script.chart-data");
    if (!holder || !source || holder.dataset.drawn) return;
    var spec = JSON.parse(source.textContent);
    holder.dataset.drawn = "1";
    if (!spec.x.length) {
      holder.textContent = "No samples yet.";
      holder.className += " empty";
      return;
    }
    var xs = spec.x.slice();
    if (xs.length === 1) xs = [xs[0] - 60, xs[0]];
    var data = [xs, spec.x.length === 1 ? [null, spec.y[0]] : spec.y];
    var series = [{}, { label: spec.metric, stroke: "#1565c0", width: 2, points: { show: true, size: 5 } }];
    LEVELS.forEach(function (level) {
      var value = spec.levels[level[0]];
      if (value === null || value === undefined) return;
      data.push(xs.map(function () { return value; }));
      series.push({ label: level[0], stroke: level[1], width: 1, dash: [6, 4], points: { show: false } });
    });
    var width = Math.max(280, Math.min(holder.clientWidth || 560, 720));
    new uPlot({ width: width, height: 220, series: series, scales: { x: { time: true } } }, data, holder);
  }

  function drawAll(root) {
    if (typeof uPlot === "undefined") return;
    (root || document).querySelectorAll("[data-chart]").forEach(draw);
  }

  function busy(target) {
    var el = document.activeElement;
    return el && target && target.contains(el) && (el.tagName === "INPUT" || el.tagName === "TEXTAREA") &&
      el.type !== "hidden" && el.value !== "";
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:afterSettle", function (evt) { drawAll(evt.target); });
  // A poll would replace a half-written reason: skip that poll, the next one comes in a few seconds.
  document.addEventListener("htmx:beforeRequest", function (evt) {
    if (evt.detail.requestConfig && evt.detail.requestConfig.verb === "get" && busy(evt.detail.target)) {
      evt.preventDefault();
    }
  });
})();
