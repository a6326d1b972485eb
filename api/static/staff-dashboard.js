// Draws the dashboard charts from the JSON the server embedded in the page (Chart.js, vendored).
(function () {
  "use strict";
  function draw() {
    var source = document.getElementById("chart-data");
    if (!source || typeof window.Chart === "undefined") return;
    var data = JSON.parse(source.textContent);
    var animation = { duration: 0 };
    new window.Chart(document.getElementById("chart-daily"), {
      type: "bar",
      data: {
        labels: data.days,
        datasets: [
          { label: "Trò chuyện trên cổng", data: data.web, backgroundColor: "#b71c1c" },
          { label: "Cuộc gọi", data: data.phone, backgroundColor: "#f9a825" }
        ]
      },
      options: { animation: animation, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } }
    });
    new window.Chart(document.getElementById("chart-outcomes"), {
      type: "doughnut",
      data: {
        labels: ["Trả lời được", "Từ chối", "Hỏi lại, khác"],
        datasets: [{ data: data.outcomes, backgroundColor: ["#1b7f3a", "#b71c1c", "#9aa5b1"] }]
      },
      options: { animation: animation }
    });
    new window.Chart(document.getElementById("chart-ratings"), {
      type: "bar",
      data: {
        labels: ["1 ★", "2 ★", "3 ★", "4 ★", "5 ★"],
        datasets: [{ label: "Số lượt đánh giá", data: data.ratings, backgroundColor: "#1565c0" }]
      },
      options: { animation: animation, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
    document.body.setAttribute("data-charts", "ready");
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
