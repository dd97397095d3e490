// Draws the dashboard's charts from the JSON the page embeds (id "analytics-charts").
(function () {
  "use strict";

  function draw(id, config) {
    const canvas = document.getElementById(id);
    if (!canvas) return;
    config.options = Object.assign({ responsive: true, maintainAspectRatio: true, animation: false }, config.options || {});
    canvas.chart = new window.Chart(canvas, config);
    canvas.dataset.drawn = "true";
  }

  function seconds(value) {
    if (value >= 86400) return (value / 86400).toFixed(1) + " d";
    if (value >= 3600) return (value / 3600).toFixed(1) + " h";
    if (value >= 60) return (value / 60).toFixed(0) + " min";
    return value.toFixed(0) + " s";
  }

  document.addEventListener("DOMContentLoaded", function () {
    const source = document.getElementById("analytics-charts");
    if (!source || !window.Chart) return;
    const charts = JSON.parse(source.textContent);

    if (charts.funnel) {
      draw("chart-funnel", {
        type: "bar",
        data: {
          labels: charts.funnel.map((s) => s.step_key),
          datasets: [
            { label: "reached", data: charts.funnel.map((s) => s.reached), backgroundColor: "#417690" },
            { label: "completed", data: charts.funnel.map((s) => s.completed), backgroundColor: "#70bf2b" },
            { label: "waiting", data: charts.funnel.map((s) => s.waiting), backgroundColor: "#f5dd5d" },
            { label: "dropped", data: charts.funnel.map((s) => s.dropped), backgroundColor: "#ba2121" },
          ],
        },
        options: { indexAxis: "y" },
      });
    }
    if (charts.trend) {
      draw("chart-trend", {
        type: "line",
        data: {
          labels: charts.trend.map((d) => d.day),
          datasets: [
            { label: "started", data: charts.trend.map((d) => d.started), borderColor: "#417690" },
            { label: "completed", data: charts.trend.map((d) => d.completed), borderColor: "#70bf2b" },
          ],
        },
        options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
      });
    }
    if (charts.durations) {
      draw("chart-durations", {
        type: "bar",
        data: {
          labels: charts.durations.map((b) => seconds(b.from_seconds) + "–" + seconds(b.to_seconds)),
          datasets: [{ label: "completed runs", data: charts.durations.map((b) => b.count), backgroundColor: "#79aec8" }],
        },
      });
    }
    if (charts.ab && charts.ab.length) {
      draw("chart-ab", {
        type: "bar",
        data: {
          labels: charts.ab.map((v) => v.variant),
          datasets: [{ label: "conversion rate", data: charts.ab.map((v) => v.rate), backgroundColor: "#417690" }],
        },
        options: { scales: { y: { min: 0, max: 1 } } },
      });
    }
    if (charts.stages) {
      const order = ["sandbox", "pilot", "production", "rollback", "completed", "cancelled"];
      draw("chart-stages", {
        type: "bar",
        data: {
          labels: order,
          datasets: [{ label: "staged journeys", data: order.map((s) => charts.stages[s] || 0), backgroundColor: "#417690" }],
        },
      });
    }
  });
})();
