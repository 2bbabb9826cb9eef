// Charts of the dashboard, drawn with the vendored uPlot from JSON the server renders into
// <script type="application/json"> (no inline script: the CSP allows none).
// - #speedup-chart / #speedup-data: a run's best per round (dashboard/live.py); redrawn after htmx
//   swaps the live block.
// - #compare-chart / #compare-data: best so far per round of several runs (dashboard/compare.py).
// Honest axes: the value axis always starts at 0; a speedup chart draws the 1.0x line (eager
// PyTorch) and the 95% interval of each round's best as a band; the unit is in the axis label;
// the legend names the series (no empty "Value: --" readout).
(function () {
  const COLORS = ["#1f6feb", "#cf222e", "#1a7f37", "#9a6700", "#8250df", "#0a7ea4", "#bc4c00", "#57606a"];

  function upper(values) {
    let top = 0;
    values.forEach(function (series) {
      series.forEach(function (v) { if (v !== null && isFinite(v) && v > top) top = v; });
    });
    return top;
  }

  function yScale(data, all) {
    const top = Math.max(upper(all), data.kind === "speedup" ? 1 : 0) || 1;
    return { range: function () { return [0, top * 1.12]; } };
  }

  function chart(target, data, series, values, bands) {
    target.textContent = "";
    if (!data.rounds.length) { target.textContent = "No rounds yet."; return; }
    const width = Math.max(280, Math.min(target.clientWidth || 720, 900));
    const opts = {
      width: width,
      height: 260,
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: false }, y: yScale(data, values) },
      axes: [
        { label: "round", values: function (u, ticks) { return ticks.map(function (t) { return Number.isInteger(t) ? t : ""; }); } },
        { label: data.label, size: 64 },
      ],
      series: [{ label: "round" }].concat(series),
    };
    if (bands) opts.bands = bands;
    new uPlot(opts, [data.rounds].concat(values), target);
  }

  function eagerLine(data) {
    return data.rounds.map(function () { return 1; });
  }

  function drawRun() {
    const target = document.getElementById("speedup-chart");
    const source = document.getElementById("speedup-data");
    if (!target || !source || typeof uPlot === "undefined") return;
    const data = JSON.parse(source.textContent);
    const series = [
      { label: "best so far", stroke: COLORS[0], width: 2, points: { show: true } },
      { label: "best this round", stroke: "#57606a", dash: [4, 4], points: { show: true } },
    ];
    const values = [data.best_so_far, data.best];
    let bands = null;
    if (data.kind === "speedup") {
      series.push({ label: "1.0× = eager PyTorch", stroke: "#8c959f", width: 1, dash: [2, 6], points: { show: false } });
      values.push(eagerLine(data));
      if (data.high.some(function (v) { return v !== null; })) {
        series.push({ label: "95% interval (high)", stroke: "rgba(31,111,235,0.35)", width: 1, points: { show: false } });
        series.push({ label: "95% interval (low)", stroke: "rgba(31,111,235,0.35)", width: 1, points: { show: false } });
        values.push(data.high, data.low);
        bands = [{ series: [4, 5], fill: "rgba(31,111,235,0.12)" }];
      }
    }
    chart(target, data, series, values, bands);
  }

  function drawCompare() {
    const target = document.getElementById("compare-chart");
    const source = document.getElementById("compare-data");
    if (!target || !source || typeof uPlot === "undefined") return;
    const data = JSON.parse(source.textContent);
    const series = data.series.map(function (s, i) {
      return { label: s.label, stroke: COLORS[i % COLORS.length], width: 2, points: { show: true } };
    });
    const values = data.series.map(function (s) { return s.values; });
    if (data.kind === "speedup") {
      series.push({ label: "1.0× = eager PyTorch", stroke: "#8c959f", width: 1, dash: [2, 6], points: { show: false } });
      values.push(eagerLine(data));
    }
    chart(target, data, series, values, null);
  }

  function drawAll() { drawRun(); drawCompare(); }
  drawAll();
  // After htmx swapped in a new live block its chart is an empty box: draw it again.
  document.addEventListener("htmx:afterSettle", function () {
    const target = document.getElementById("speedup-chart");
    if (target && !target.querySelector("canvas")) drawRun();
  });
})();
