/**
 * Inline SVG drawn on the server: a job's progress bar by task state, and a
 * stacked chart of how many tasks were in each state over time, computed
 * from task history rows. Pure functions; fills come from the stylesheet
 * (classes s-<STATE>), so the page needs no inline style.
 */
import { html, raw, type SafeHtml, when } from './html.js';
import { JOB_COUNTER_OF, TASK_STATES, type JobCounters, type TaskHistoryEntry, type TaskStatus } from '../domain/tasks.js';


const pct = (n: number) => `${Math.round(n * 10000) / 100}%`;

/** One horizontal bar, a segment per task state in the order tasks move through them. */
export function progressBar(counters: JobCounters, total: number): SafeHtml {
  const sum = TASK_STATES.reduce((s, st) => s + counters[JOB_COUNTER_OF[st]], 0);
  const whole = Math.max(total, sum, 1);
  let x = 0;
  const parts: SafeHtml[] = [];
  for (const st of TASK_STATES) {
    const n = counters[JOB_COUNTER_OF[st]];
    if (n <= 0) continue;
    const w = n / whole;
    parts.push(html`<rect class="s-${st}" x="${pct(x)}" y="0" width="${pct(w)}" height="14"><title>${st}: ${n}</title></rect>`);
    x += w;
  }
  const label = TASK_STATES.filter((st) => counters[JOB_COUNTER_OF[st]] > 0)
    .map((st) => `${st} ${counters[JOB_COUNTER_OF[st]]}`)
    .join(', ');
  return html`<svg class="bar" role="img" aria-label="${label || 'no tasks'}" preserveAspectRatio="none"><rect class="s-REST" x="0" y="0" width="100%" height="14"/>${parts}</svg>`;
}

export function legend(states: readonly TaskStatus[] = TASK_STATES): SafeHtml {
  return html`<div class="legend">${states.map(
    (st) => html`<span><svg width="12" height="12"><rect class="s-${st}" width="12" height="12"/></svg> ${st}</span>`,
  )}</div>`;
}

export interface StateSeries {
  /** Sample instants (epoch ms), ascending. */
  times: number[];
  /** Tasks in each state at each instant (tasks not yet created are not counted). */
  counts: Record<TaskStatus, number>[];
}

/** How many of the given tasks were in each state at `samples` evenly spaced instants up to `end`. */
export function stateSeries(histories: readonly (readonly TaskHistoryEntry[])[], end: number, samples = 48): StateSeries {
  const moves = histories
    .map((h) => [...h].sort((a, b) => a.seq - b.seq).map((e) => ({ at: e.at.getTime(), to: e.toStatus })))
    .filter((m) => m.length > 0);
  if (moves.length === 0) return { times: [], counts: [] };
  const start = Math.min(...moves.map((m) => m[0]!.at));
  const last = Math.max(end, start);
  const n = last === start ? 1 : samples;
  const times = Array.from({ length: n }, (_, i) => (n === 1 ? last : start + ((last - start) * (i + 1)) / n));
  const counts = times.map(() => Object.fromEntries(TASK_STATES.map((s) => [s, 0])) as Record<TaskStatus, number>);
  for (const m of moves) {
    let k = 0;
    let state: TaskStatus | undefined;
    for (let i = 0; i < times.length; i++) {
      const t = times[i]!;
      while (k < m.length && m[k]!.at <= t) state = m[k++]!.to;
      if (state) counts[i]![state]++;
    }
  }
  return { times, counts };
}

const W = 720;
const H = 220;
const PAD = { left: 36, right: 8, top: 8, bottom: 28 };

/** Stacked columns, one per sample, with the first and last instant under the axis. */
export function stateChart(series: StateSeries): SafeHtml {
  if (series.times.length === 0) return html`<p class="muted">No task history yet.</p>`;
  const top = Math.max(1, ...series.counts.map((c) => TASK_STATES.reduce((s, st) => s + c[st], 0)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const colW = plotW / series.times.length;
  const cols: string[] = [];
  series.counts.forEach((c, i) => {
    let y = PAD.top + plotH;
    for (const st of TASK_STATES) {
      if (c[st] === 0) continue;
      const h = (c[st] / top) * plotH;
      y -= h;
      const x = PAD.left + i * colW;
      cols.push(
        `<rect class="s-${st}" x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(colW - 1, 1).toFixed(1)}" height="${h.toFixed(1)}"><title>${st}: ${c[st]}</title></rect>`,
      );
    }
  });
  const first = series.times[0]!;
  const lastT = series.times[series.times.length - 1]!;
  return html`<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="task states over time">
<line x1="${PAD.left}" y1="${PAD.top + plotH}" x2="${W - PAD.right}" y2="${PAD.top + plotH}" stroke="#889"/>
<line x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${PAD.top + plotH}" stroke="#889"/>
<text x="${PAD.left - 4}" y="${PAD.top + 10}" text-anchor="end" font-size="11">${top}</text>
<text x="${PAD.left - 4}" y="${PAD.top + plotH}" text-anchor="end" font-size="11">0</text>
${raw(cols.join(''))}
<text x="${PAD.left}" y="${H - 8}" font-size="11">${when(first)}</text>
<text x="${W - PAD.right}" y="${H - 8}" text-anchor="end" font-size="11">${when(lastT)}</text>
</svg>`;
}
