// Draws a run's best speedup (or, in interpreter mode, best time) per round with the vendored uPlot; data comes from
// <script type="application/json" id="speedup-data"> rendered by the server.
(function () {
  const target = document.getElementById("speedup-chart");
  const source = document.getElementById("speedup-data");
  if (!target || !source || typeof uPlot === "undefined") return;
  const data = JSON.parse(source.textContent);
  if (!data.rounds.length) { target.textContent = "No rounds yet."; return; }
  const width = Math.min(target.clientWidth || 720, 900);
  const opts = {
    width: width,
    height: 240,
    scales: { x: { time: false } },
    axes: [
      { label: "round", values: (u, ticks) => ticks.map((t) => (Number.isInteger(t) ? t : "")) },
      { label: data.label, size: 70 },
    ],
    series: [
      {},
      { label: "best so far", stroke: "#1f6feb", width: 2, points: { show: true } },
      { label: "best this round", stroke: "#8b949e", dash: [4, 4], points: { show: true } },
    ],
  };
  new uPlot(opts, [data.rounds, data.best_so_far, data.best], target);
})();
