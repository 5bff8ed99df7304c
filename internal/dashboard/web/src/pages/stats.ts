// CPU and memory of a running sandbox over time, and its disk and network
// totals as text. The runtime reports cumulative CPU time and current memory (GET /v1/sandboxes/{id}/metrics,
// the native API's reading); the server keeps no history, so the
// charts show what this page read every two seconds while it was open.

import { describe, getJSON } from "../api";
import { h, replace } from "../dom";
import { bytes } from "../format";
import type { Sandbox, Stats } from "../types";
import type { Panel } from "./sandbox";

const EVERY = 2000;
const KEEP = 150; // five minutes of readings

interface Sample { t: number; cpu: number | null; mem: number; limit: number }

export function statsPanel(id: string): Panel {
  const now = h("p", { class: "stats-now", id: "stats-now" });
  const cpuChart = h("div", { class: "chart" });
  const memChart = h("div", { class: "chart" });
  const note = h("p", { class: "hint" }, "Read every 2 s while this page is open; the server keeps no history. CPU is the share of one core.");
  const el = h("div", null, h("h2", null, "Resource use"), now,
    h("figure", null, h("figcaption", null, "CPU"), cpuChart),
    h("figure", null, h("figcaption", null, "Memory"), memChart), note);
  const samples: Sample[] = [];
  let last: Stats | null = null;
  let timer = 0;
  let state = "";

  async function read(): Promise<void> {
    if (!el.isConnected || el.closest("[hidden]")) return; // the tab is not shown
    try {
      const s = await getJSON<Stats>(`/v1/sandboxes/${encodeURIComponent(id)}/metrics`);
      const t = Date.parse(s.time);
      const cpu = last ? Math.max(0, (s.cpuSeconds - last.cpuSeconds) / ((t - Date.parse(last.time)) / 1000)) : null;
      last = s;
      samples.push({ t, cpu, mem: s.memoryBytes, limit: s.memoryLimitBytes });
      if (samples.length > KEEP) samples.shift();
      replace(now,
        h("span", null, h("strong", null, cpu === null ? "…" : `${(cpu * 100).toFixed(1)}%`), " CPU"),
        h("span", null, h("strong", null, bytes(s.memoryBytes)), ` of ${s.memoryLimitBytes > 0 ? bytes(s.memoryLimitBytes) : "no limit"}`),
        h("span", null, h("strong", null, String(s.pids)), " processes"),
        s.diskLimitBytes > 0 ? h("span", null, h("strong", null, bytes(s.diskBytes)), ` of ${bytes(s.diskLimitBytes)} disk`) : null,
        h("span", null, h("strong", null, bytes(s.netRxBytes)), " in, ", h("strong", null, bytes(s.netTxBytes)), " out"),
        s.oomKills ? h("span", { class: "reason" }, `${s.oomKills} out-of-memory kills`) : null);
      draw();
    } catch (e) {
      replace(now, h("span", { class: "muted" }, `No reading: ${describe(e)}`));
    }
  }

  // draw scales each chart to what it shows, with headroom, so that a
  // sandbox using 20 MiB of its 1 GiB is not a flat line; the limit is in
  // the text above.
  function draw(): void {
    const cpus = samples.map((s) => s.cpu ?? 0);
    replace(cpuChart, chart(cpus, Math.max(0.1, ...cpus) * 1.25, (v) => `${(v * 100).toFixed(v < 0.1 ? 1 : 0)}%`, "CPU use"));
    const mems = samples.map((s) => s.mem);
    replace(memChart, chart(mems, Math.max(1 << 20, ...mems) * 1.25, bytes, "Memory use"));
  }

  function schedule(sb: Sandbox): void {
    state = sb.state;
    clearInterval(timer);
    if (state === "running" || state === "paused") {
      void read();
      timer = window.setInterval(() => void read(), EVERY);
    } else {
      replace(now, h("span", { class: "muted" }, `No readings: the sandbox is ${state}; only a running or paused sandbox has processes to measure.`));
    }
  }

  return {
    el,
    show: (sb) => schedule(sb),
    update: (sb) => { if (sb.state !== state) schedule(sb); },
    close: () => clearInterval(timer),
  };
}

// chart is a small line chart of values between 0 and max, stretched to
// its box, with the scale as text beside it.
function chart(values: number[], max: number, label: (v: number) => string, name: string): HTMLElement {
  const W = 300, H = 80;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("aria-hidden", "true");
  if (values.length > 1) {
    const step = W / (KEEP - 1);
    const x0 = W - step * (values.length - 1);
    const pts = values.map((v, i) => `${(x0 + i * step).toFixed(1)},${(H - 1 - (Math.min(v, max) / max) * (H - 2)).toFixed(1)}`);
    const area = document.createElementNS(ns, "polygon");
    area.setAttribute("points", `${x0.toFixed(1)},${H} ${pts.join(" ")} ${W},${H}`);
    area.setAttribute("class", "area");
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", pts.join(" "));
    line.setAttribute("class", "line");
    svg.append(area, line);
  }
  const now = values.length ? values[values.length - 1] : 0;
  return h("div", { class: "chart-box", role: "img", "aria-label": `${name}: now ${label(now)}, scale up to ${label(max)}` },
    h("span", { class: "scale" }, label(max)), svg,
    h("span", { class: "span" }, `last ${Math.round((values.length * EVERY) / 1000)} s`));
}
