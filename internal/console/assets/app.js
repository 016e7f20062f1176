// Concord console: draws the overview's charts from the JSON the page
// carries (no inline script: the content security policy forbids it).
(function () {
  "use strict";
  var palette = ["#0b5cad", "#b45309", "#0b5d2a", "#7b2cbf", "#a4161a", "#006d77", "#5c4d00", "#3d405b"];

  function chart(el, times, series, label) {
    var names = Object.keys(series).sort();
    if (typeof uPlot === "undefined" || times.length === 0 || names.length === 0) {
      el.textContent = "No data yet.";
      return;
    }
    var data = [times];
    var opts = {
      width: Math.max(280, el.clientWidth - 8), height: 200,
      scales: { x: { time: true } },
      axes: [{ stroke: "#4f5863" }, { stroke: "#4f5863", label: label }],
      series: [{}],
      legend: { live: false },
    };
    names.forEach(function (n, i) {
      data.push(series[n]);
      opts.series.push({ label: n, stroke: palette[i % palette.length], width: 2 });
    });
    el.textContent = "";
    new uPlot(opts, data, el);
  }

  function draw() {
    var src = document.getElementById("series");
    if (!src) return;
    var s;
    try { s = JSON.parse(src.textContent); } catch (e) { return; }
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      switch (el.getAttribute("data-chart")) {
        case "applied": chart(el, s.times || [], s.applied || {}, "records"); break;
        case "errors": chart(el, s.times || [], s.errors || {}, "records"); break;
        case "lag": chart(el, s.lag_times || [], s.lag || {}, "seconds"); break;
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
