// A class's analytics page: the attendance rate of each started session, oldest first
// (data in the canvas's data-chart: {"labels": [...], "rates": [...]}).
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var canvas = document.getElementById("class-rate-chart");
    if (!canvas || typeof Chart === "undefined") { return; }
    var data = JSON.parse(canvas.dataset.chart);
    new Chart(canvas, {
      type: "line",
      data: {
        labels: data.labels,
        datasets: [{
          label: "Attendance rate (%)", data: data.rates, borderColor: "#2563eb",
          backgroundColor: "#2563eb", cubicInterpolationMode: "monotone", clip: 6
        }]
      },
      options: {
        animation: false,
        aspectRatio: canvas.parentNode.clientWidth < 600 ? 1.3 : 2.5,
        scales: { y: { min: 0, max: 100, title: { display: true, text: "%" } } }
      }
    });
  });
})();
