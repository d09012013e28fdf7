// The attendance-rate line chart of the dashboard's weekly trend and of a class's analytics:
// every <canvas data-rate-chart data-chart='{"labels": [...], "rates": [...]}'> on the page.
(function () {
  "use strict";

  function draw(canvas) {
    var data = JSON.parse(canvas.dataset.chart);
    new Chart(canvas, {
      type: "line",
      data: {
        labels: data.labels,
        datasets: [{
          label: "Attendance rate (%)", data: data.rates, borderColor: "#2563eb",
          // Monotone curves never swing past the points; clip 6 keeps a point at 100% whole.
          backgroundColor: "#2563eb", cubicInterpolationMode: "monotone", clip: 6
        }]
      },
      options: {
        animation: false,
        // Taller on a phone, so the rotated labels leave room for the line.
        aspectRatio: canvas.parentNode.clientWidth < 600 ? 1.3 : 2.5,
        scales: { y: { min: 0, max: 100, title: { display: true, text: "%" } } }
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (typeof Chart === "undefined") { return; }
    document.querySelectorAll("canvas[data-rate-chart]").forEach(draw);
  });
})();
