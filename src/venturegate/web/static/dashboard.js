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
    var ys = spec.y.slice();
    var past = (spec.past || []).slice();
    if (xs.length === 1) { xs = [xs[0] - 60, xs[0]]; ys = [null, ys[0]]; past = [false, past[0]]; }
    var data = [xs, ys];
    var series = [
      { value: function (u, ts) { return ts === null ? "" : iso(ts); } },
      { label: spec.metric, stroke: "#1565c0", width: 2, points: { show: true, size: 5 } },
    ];
    if (past.some(Boolean)) {  // samples on the wrong side of the threshold, drawn again as red dots
      data.push(ys.map(function (y, i) { return past[i] ? y : null; }));
      series.push({ label: "past threshold", stroke: "#c62828", width: 0, fill: "#c62828",
        points: { show: true, size: 9, fill: "#c62828" } });
    }
    // Levels that share a value are one line with both names ("target = threshold"), not two hidden ones.
    var byValue = {};
    LEVELS.forEach(function (level) {
      var value = spec.levels[level[0]];
      if (value === null || value === undefined) return;
      if (byValue[value]) { byValue[value].names.push(level[0]); return; }
      byValue[value] = { names: [level[0]], colour: level[1], value: value };
    });
    Object.keys(byValue).forEach(function (key) {
      var line = byValue[key];
      data.push(xs.map(function () { return line.value; }));
      series.push({ label: line.names.join(" = "), stroke: line.colour, width: 1, dash: [6, 4],
        points: { show: false } });
    });
    var width = Math.max(260, Math.min(holder.clientWidth || 560, 720));
    new uPlot({
      width: width, height: 220, series: series, scales: { x: { time: true } },
      axes: [{ space: 70, values: function (u, splits) { return splits.map(function (t) { return iso(t).replace(" ", "\n"); }); } }, {}],
    }, data, holder);
  }

  function iso(ts) {
    return new Date(ts * 1000).toISOString().slice(0, 16).replace("T", " ");
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
