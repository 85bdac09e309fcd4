/** The console's pure parts: HTML escaping, the state series and bars behind its charts, where a form may send the browser. */
import { describe, expect, it } from 'vitest';
import { progressBar, stateChart, stateSeries } from '../../../src/console/charts.js';
import { html, raw } from '../../../src/console/html.js';
import { safeNext } from '../../../src/console/session.js';
import type { JobCounters, TaskHistoryEntry, TaskStatus } from '../../../src/domain/tasks.js';

const row = (taskId: string, seq: number, at: number, toStatus: TaskStatus): TaskHistoryEntry => ({ taskId, seq, at: new Date(at), toStatus, event: 'e' });

describe('html', () => {
  it('escapes every interpolated value, attributes included, but not markup the console built', () => {
    const evil = `"><script>alert('x')</script>&`;
    const out = html`<a title="${evil}">${evil}</a>${html`<b>${evil}</b>`}${raw('<i>ok</i>')}`.text;
    expect(out).not.toContain('<script>');
    expect(out).toContain('&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;');
    expect(out).toContain('<b>&quot;');
    expect(out).toContain('<i>ok</i>');
  });

  it('joins arrays and renders nothing for undefined, null and false', () => {
    expect(html`${[1, html`<br>`, 'a<b']}|${undefined}${null}${false}|${0}`.text).toBe('1<br>a&lt;b||0');
  });
});

describe('stateSeries', () => {
  it('counts each task in the state it was in at each instant, and not before it existed', () => {
    const s = stateSeries(
      [
        [row('a', 1, 0, 'QUEUED'), row('a', 2, 100, 'COMPLETED')],
        [row('b', 2, 300, 'CANCELLED'), row('b', 1, 200, 'QUEUED')],
      ],
      400,
      4,
    );
    expect(s.times).toEqual([100, 200, 300, 400]);
    const pick = (i: number) => Object.fromEntries(Object.entries(s.counts[i] ?? {}).filter(([, n]) => n > 0));
    expect(pick(0)).toEqual({ COMPLETED: 1 });
    expect(pick(1)).toEqual({ COMPLETED: 1, QUEUED: 1 });
    expect(pick(2)).toEqual({ COMPLETED: 1, CANCELLED: 1 });
    expect(pick(3)).toEqual({ COMPLETED: 1, CANCELLED: 1 });
  });

  it('has one sample when everything happened at one instant, and none without history', () => {
    expect(stateSeries([[row('a', 1, 50, 'QUEUED')]], 50).times).toEqual([50]);
    expect(stateSeries([[]], 50)).toEqual({ times: [], counts: [] });
    expect(stateChart({ times: [], counts: [] }).text).toContain('No task history yet');
  });

  it('draws one stacked rectangle per state present at each sample', () => {
    const svg = stateChart(stateSeries([[row('a', 1, 0, 'QUEUED'), row('a', 2, 100, 'FAILED')]], 100, 2)).text;
    expect(svg.match(/class="s-FAILED"/g)?.length).toBe(1);
    expect(svg.match(/class="s-QUEUED"/g)?.length).toBe(1);
  });
});

describe('progressBar', () => {
  it('gives each state a share of the total, in the order tasks move through them', () => {
    const counters: JobCounters = { queued: 1, notifying: 0, inSession: 0, scheduled: 0, inProgress: 0, completed: 2, failed: 1, missed: 0, cancelled: 0, expired: 0 };
    const svg = progressBar(counters, 4).text;
    expect(svg).toContain('aria-label="QUEUED 1, COMPLETED 2, FAILED 1"');
    expect(svg).toMatch(/class="s-QUEUED" x="0%" y="0" width="25%"/);
    expect(svg).toMatch(/class="s-COMPLETED" x="25%" y="0" width="50%"/);
    expect(svg).toMatch(/class="s-FAILED" x="75%" y="0" width="25%"/);
  });
});

describe('safeNext', () => {
  it('sends the browser only to console and dashboard paths of this gateway', () => {
    expect(safeNext('/console/jobs?status=PAUSED')).toBe('/console/jobs?status=PAUSED');
    expect(safeNext('/admin/queues/')).toBe('/admin/queues/');
    for (const bad of ['//evil.example/console', 'https://evil.example/console', '/\\evil.example', '/consoleX', '/metrics', 42]) {
      expect(safeNext(bad)).toBe('/console/devices');
    }
  });
});
