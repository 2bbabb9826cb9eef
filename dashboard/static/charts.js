// Charts of the dashboard, drawn with the vendored uPlot from JSON the server renders into
// <script type="application/json"> (no inline script: the CSP allows none).
// - #speedup-chart / #speedup-data: a run's best per round (dashboard/live.py); redrawn after htmx
//   swaps the live block.
// - #compare-chart / #compare-data: best so far per round of several runs (dashboard/compare.py).
// - #evolution-chart / #evolution-data: an evolve run's best per task per generation (dashboard/evolution.py).
// Honest axes: the value axis always starts at 0; a speedup chart draws the 1.0x line (eager
// PyTorch) and each round's 95% interval as a whisker; the unit is in the axis label; the legend
// names the series (no empty "Value: --" readout).
(function () {
  const COLORS = ["#1f6feb", "#cf222e", "#1a7f37", "#9a6700", "#8250df", "#0a7ea4", "#bc4c00", "#57606a"];

  function upper(values) {
    let top = 0;
    values.forEach(function (series) {
      series.forEach(function (v) { if (v !== null && isFinite(v) && v > top) top = v; });
    });
    return top;
  }

  // The 1.0x line: eager PyTorch, the baseline every speedup is measured against.
  function eagerLine(u) {
    const ctx = u.ctx;
    const y = u.valToPos(1, "y", true);
    ctx.save();
    ctx.strokeStyle = "#6e7781";
    ctx.lineWidth = 1.5 * devicePixelRatio;
    ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
    ctx.beginPath();
    ctx.moveTo(u.bbox.left, y);
    ctx.lineTo(u.bbox.left + u.bbox.width, y);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = "#6e7781";
    ctx.font = 11 * devicePixelRatio + "px sans-serif";
    ctx.textAlign = "left";
    ctx.textBaseline = "bottom";
    ctx.fillText("1.0× eager", u.bbox.left + 4 * devicePixelRatio, y - 4 * devicePixelRatio);
    ctx.restore();
  }

  // Each round's 95% interval (low..high) as a vertical whisker with caps.
  function whiskers(rounds, low, high) {
    return function (u) {
      const ctx = u.ctx;
      const cap = 4 * devicePixelRatio;
      ctx.save();
      ctx.strokeStyle = "rgba(31,111,235,0.7)";
      ctx.lineWidth = 1.5 * devicePixelRatio;
      rounds.forEach(function (r, i) {
        if (low[i] === null || high[i] === null) return;
        const x = u.valToPos(r, "x", true);
        const y0 = u.valToPos(low[i], "y", true);
        const y1 = u.valToPos(high[i], "y", true);
        ctx.beginPath();
        ctx.moveTo(x, y0); ctx.lineTo(x, y1);
        ctx.moveTo(x - cap, y0); ctx.lineTo(x + cap, y0);
        ctx.moveTo(x - cap, y1); ctx.lineTo(x + cap, y1);
        ctx.stroke();
      });
      ctx.restore();
    };
  }

  function chart(target, data, series, values, hooks) {
    target.textContent = "";
    if (!data.rounds.length) { target.textContent = "No rounds yet."; return; }
    const top = Math.max(upper(values), data.kind === "speedup" ? 1 : 0) || 1;
    const first = data.rounds[0];
    const last = data.rounds[data.rounds.length - 1];
    const opts = {
      width: Math.max(280, Math.min(target.clientWidth || 720, 900)),
      height: 260,
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: false, range: function () { return [first - 0.5, last + 0.5]; } },
        y: { range: function () { return [0, top * 1.12]; } },
      },
      axes: [
        { label: data.x || "round", values: function (u, ticks) { return ticks.map(function (t) { return Number.isInteger(t) ? t : ""; }); } },
        { label: data.axis, size: 56 },
      ],
      series: [{ label: "round" }].concat(series),
      hooks: { draw: hooks },
    };
    new uPlot(opts, [data.rounds].concat(values), target);
  }

  function drawRun() {
    const target = document.getElementById("speedup-chart");
    const source = document.getElementById("speedup-data");
    if (!target || !source || typeof uPlot === "undefined") return;
    const data = JSON.parse(source.textContent);
    const series = [
      { label: "best so far", stroke: COLORS[0], width: 2, points: { show: true } },
      { label: "best this round", stroke: "#57606a", dash: [4, 4], points: { show: true, size: 7 } },
    ];
    const values = [data.best_so_far, data.best];
    const hooks = [];
    if (data.kind === "speedup") {
      values.push(data.high.map(function (v) { return v === null ? null : v; }));  // the range covers the whiskers
      series.push({ label: "95% interval", stroke: "rgba(31,111,235,0.7)", width: 0, points: { show: false } });
      hooks.push(eagerLine, whiskers(data.rounds, data.low, data.high));
    }
    chart(target, data, series, values, hooks);
  }

  // One line per series (compare: per run; evolution: per task); a speedup chart gets the 1.0x
  // line, a time or count chart (CPU: cells filled) none.
  function drawSeries(name) {
    const target = document.getElementById(name + "-chart");
    const source = document.getElementById(name + "-data");
    if (!target || !source || typeof uPlot === "undefined") return;
    const data = JSON.parse(source.textContent);
    const series = data.series.map(function (s, i) {
      return { label: s.label, stroke: COLORS[i % COLORS.length], width: 2, points: { show: true } };
    });
    const values = data.series.map(function (s) { return s.values; });
    chart(target, data, series, values, data.kind === "speedup" ? [eagerLine] : []);
  }

  function drawAll() { drawRun(); drawSeries("compare"); drawSeries("evolution"); }
  drawAll();
  // After htmx swapped in a new live block its chart is an empty box: draw it again.
  document.addEventListener("htmx:afterSettle", function () {
    const target = document.getElementById("speedup-chart");
    if (target && !target.querySelector("canvas")) drawRun();
  });
})();
