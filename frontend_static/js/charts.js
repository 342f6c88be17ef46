// Charts with Chart.js (vendor/chart.umd.min.js, pinned in package.json; no CDN). Each chart
// has a text equivalent: the canvas is labelled and the same figures are in a table beside it.

import { h } from "./dom.js";

const COLORS = { ok: "#1e7a46", bad: "#b42323", line: "#2455c3", grid: "#dde3ea", muted: "#5f6b7a" };

function chartLib() {
  return window.Chart || null;
}

/** A horizontal bar per label (percentages), red under `threshold`, with the threshold drawn. */
export function percentBars(labels, values, { threshold, label }) {
  const canvas = h("canvas", { role: "img", "aria-label": label });
  const wrap = h("div", { class: "chart", style: null }, canvas);
  wrap.style.height = `${Math.max(160, labels.length * 28 + 60)}px`;
  const Chart = chartLib();
  if (!Chart) return h("p", { class: "muted" }, "The chart could not be drawn; the table below has the same figures.");
  requestAnimationFrame(() => {
    // eslint-disable-next-line no-new
    new Chart(canvas, {
      type: "bar",
      data: {
        labels,
        datasets: [
          {
            label: "Attendance %",
            data: values,
            backgroundColor: values.map((v) => (v !== null && v < threshold ? COLORS.bad : COLORS.ok)),
          },
        ],
      },
      options: {
        indexAxis: "y",
        animation: false,
        maintainAspectRatio: false,
        scales: { x: { min: 0, max: 100, ticks: { callback: (v) => `${v}%` } } },
        plugins: { legend: { display: false } },
      },
      plugins: [thresholdLine(threshold, "x")],
    });
  });
  return wrap;
}

/** A line over the sessions of a term (percent attending each day). */
export function sessionLine(labels, values, { threshold, label }) {
  const canvas = h("canvas", { role: "img", "aria-label": label });
  const wrap = h("div", { class: "chart" }, canvas);
  wrap.style.height = "240px";
  const Chart = chartLib();
  if (!Chart) return h("p", { class: "muted" }, "The chart could not be drawn; the table below has the same figures.");
  requestAnimationFrame(() => {
    // eslint-disable-next-line no-new
    new Chart(canvas, {
      type: "line",
      data: { labels, datasets: [{ label: "Attending %", data: values, borderColor: COLORS.line, backgroundColor: COLORS.line, tension: 0.2 }] },
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: { y: { min: 0, max: 100, ticks: { callback: (v) => `${v}%` } } },
        plugins: { legend: { display: false } },
      },
      plugins: [thresholdLine(threshold, "y")],
    });
  });
  return wrap;
}

function thresholdLine(value, axis) {
  return {
    id: "threshold",
    afterDatasetsDraw(chart) {
      const scale = chart.scales[axis];
      const { ctx, chartArea } = chart;
      const at = scale.getPixelForValue(value);
      ctx.save();
      ctx.strokeStyle = COLORS.bad;
      ctx.setLineDash([6, 4]);
      ctx.beginPath();
      if (axis === "x") {
        ctx.moveTo(at, chartArea.top);
        ctx.lineTo(at, chartArea.bottom);
      } else {
        ctx.moveTo(chartArea.left, at);
        ctx.lineTo(chartArea.right, at);
      }
      ctx.stroke();
      ctx.restore();
    },
  };
}
