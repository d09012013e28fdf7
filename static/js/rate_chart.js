// Every attendance-rate line chart (the dashboard's weekly trend, a class's rate per session, a
// student's rate per subject): each <canvas data-rate-chart data-chart='...'> on the page, one
// look and one set of options. data-chart is either one line, {"labels": [...], "rates": [...]},
// or several, {"series": [{"label": "MATH101", "data": [{"x": "2025-03-03 09:00", "y": 80.0}]}]}.
(function () {
  "use strict";
  var COLORS = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2"];

  function line(label, data, i) {
    var color = COLORS[i % COLORS.length];
    return {
      label: label, data: data, borderColor: color, backgroundColor: color, spanGaps: true,
      // Monotone curves never swing past the points (a rate is never drawn lower or higher
      // than it was); clip 6 keeps a point at 100% whole at the chart's top edge.
      cubicInterpolationMode: "monotone", clip: 6
    };
  }

  function chartData(data) {
    if (!data.series) {
      return { labels: data.labels, datasets: [line("Attendance rate (%)", data.rates, 0)] };
    }
    var labels = [];
    data.series.forEach(function (s) {
      s.data.forEach(function (p) { if (labels.indexOf(p.x) === -1) { labels.push(p.x); } });
    });
    labels.sort();
    return {
      labels: labels,
      datasets: data.series.map(function (s, i) { return line(s.label, s.data, i); })
    };
  }

  function draw(canvas) {
    var data = JSON.parse(canvas.dataset.chart);
    new Chart(canvas, {
      type: "line",
      data: chartData(data),
      options: {
        animation: false,
        // Taller on a phone, so the rotated labels leave room for the lines.
        aspectRatio: canvas.parentNode.clientWidth < 600 ? 1.3 : 2.5,
        parsing: data.series ? { xAxisKey: "x", yAxisKey: "y" } : undefined,
        scales: { y: { min: 0, max: 100, title: { display: true, text: "%" } } },
        plugins: {
          // Rates read as everywhere else: "80.0%", not "80".
          tooltip: {
            callbacks: {
              label: function (ctx) {
                return ctx.dataset.label + ": " + window.attendanceRate(ctx.parsed.y) + "%";
              }
            }
          }
        }
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (typeof Chart === "undefined") { return; }
    document.querySelectorAll("canvas[data-rate-chart]").forEach(draw);
  });
})();
