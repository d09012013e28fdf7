// The attendance-rate chart of a student's history (data in the canvas's data-chart).
(function () {
  "use strict";
  var COLORS = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2"];
  document.addEventListener("DOMContentLoaded", function () {
    var canvas = document.getElementById("rate-chart");
    if (!canvas || typeof Chart === "undefined") { return; }
    var data = JSON.parse(canvas.dataset.chart);
    var labels = [];
    data.series.forEach(function (s) {
      s.data.forEach(function (p) { if (labels.indexOf(p.x) === -1) { labels.push(p.x); } });
    });
    labels.sort();
    new Chart(canvas, {
      type: "line",
      data: {
        labels: labels,
        datasets: data.series.map(function (s, i) {
          return {
            label: s.label, data: s.data, borderColor: COLORS[i % COLORS.length],
            backgroundColor: COLORS[i % COLORS.length], spanGaps: true,
            // Monotone curves never swing past the points (a rate is never drawn lower or
            // higher than it was); clip 6 keeps points at 100% whole at the chart's top edge.
            cubicInterpolationMode: "monotone", clip: 6
          };
        })
      },
      options: {
        animation: false,
        // Taller on a phone, so the rotated dates leave room for the lines.
        aspectRatio: canvas.parentNode.clientWidth < 600 ? 1.3 : 2.5,
        parsing: { xAxisKey: "x", yAxisKey: "y" },
        scales: { y: { min: 0, max: 100, title: { display: true, text: "%" } } }
      }
    });
  });
})();
