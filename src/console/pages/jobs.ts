/** The jobs list (progress bar per job, pause/restart/cancel) and a job page (state chart, history, tasks). */
import { JOB_STATES, type Job, type JobHistoryEntry, type Task } from '../../domain/tasks.js';
import { legend, progressBar, type StateSeries, stateChart } from '../charts.js';
import { html, type SafeHtml, when } from '../html.js';
import { statusBadge, tasksTable } from './devices.js';
import { csrfField, page, type Viewer } from './layout.js';

const ENDED = new Set(['CANCELLED', 'COMPLETED', 'COMPLETED_WITH_ERRORS']);

function done(j: Job): number {
  return j.completed + j.failed + j.missed + j.cancelled + j.expired;
}

/** The buttons a job's state allows, for a user who may control jobs; `back` is where to return. */
function jobButtons(viewer: Viewer, j: Job, back: string): SafeHtml {
  if (ENDED.has(j.status)) return html``;
  const button = (action: string, label: string, cls = 'secondary') =>
    html`<form class="inline" method="post" action="/console/jobs/${encodeURIComponent(j.jobId)}/${action}">${csrfField(viewer)}<input type="hidden" name="back" value="${back}"><button class="${cls}" type="submit" data-action="${action}">${label}</button></form> `;
  return html`${j.status === 'PAUSED' ? button('restart', 'Restart') : button('pause', 'Pause')}${button('cancel', 'Cancel', 'danger')}`;
}

export function jobsPage(viewer: Viewer, jobs: Job[], status: string | undefined, mayControl: boolean): string {
  const back = status ? `/console/jobs?status=${status}` : '/console/jobs';
  const open = jobs.some((j) => !ENDED.has(j.status));
  return page(
    'Jobs',
    viewer,
    html`<h1>Jobs</h1>
<form method="get" action="/console/jobs" class="row"><div><label for="status">State</label><select id="status" name="status"><option value="">any</option>${JOB_STATES.map(
      (s) => html`<option value="${s}"${s === status ? html` selected` : ''}>${s}</option>`,
    )}</select></div><div><button class="secondary" type="submit">Show</button></div></form>
<div id="live"${open ? html` data-refresh-ms="2000"` : ''}>
${
  jobs.length === 0
    ? html`<p class="muted">No jobs.</p>`
    : html`<table id="jobs"><thead><tr><th>Job</th><th>Operation</th><th>State</th><th>Progress</th><th>Created</th>${mayControl ? html`<th></th>` : ''}</tr></thead><tbody>${jobs.map(
        (j) => html`<tr data-job="${j.jobId}"><td><a href="/console/jobs/${encodeURIComponent(j.jobId)}">${j.jobId.slice(0, 8)}</a></td><td>${j.operationName}</td><td>${statusBadge(j.status)}</td>
<td>${progressBar(j, j.total)}<span class="muted">${done(j)} of ${j.total} ended</span></td><td>${when(j.createdAt)}<br><span class="muted">by ${j.createdBy}</span></td>${
          mayControl ? html`<td>${jobButtons(viewer, j, back)}</td>` : ''
        }</tr>`,
      )}</tbody></table>${legend()}`
}
</div>`,
  );
}

export interface JobPageData {
  job: Job;
  history: JobHistoryEntry[];
  series: StateSeries;
  /** How many of the job's tasks the chart was drawn from (the first, by place in the job). */
  sampled: number;
  tasks: Task[];
  mayControl: boolean;
}

export function jobPage(viewer: Viewer, d: JobPageData): string {
  const j = d.job;
  const path = `/console/jobs/${encodeURIComponent(j.jobId)}`;
  return page(
    `Job ${j.jobId.slice(0, 8)}`,
    viewer,
    html`<h1>Job ${j.jobId}</h1>
<div id="live" data-status="${j.status}"${ENDED.has(j.status) && done(j) === j.total ? '' : html` data-refresh-ms="2000"`}>
<section class="card"><dl class="facts"><dt>State</dt><dd id="job-status">${statusBadge(j.status)}</dd><dt>Operation</dt><dd>${j.operationName}</dd>
<dt>Created</dt><dd>${when(j.createdAt)} by ${j.createdBy}</dd><dt>Started</dt><dd>${when(j.startedAt)}</dd>
<dt>Tasks</dt><dd>${done(j)} of ${j.total} ended: ${j.completed} completed, ${j.failed} failed, ${j.cancelled} cancelled, ${j.expired} expired, ${j.missed} missed</dd></dl>
${progressBar(j, j.total)}${legend()}
${d.mayControl ? html`<p>${jobButtons(viewer, j, path)}</p>` : ''}</section>
<h2>Task states over time</h2><section class="card">${stateChart(d.series)}${
      d.sampled < j.total ? html`<p class="muted">Drawn from the first ${d.sampled} of ${j.total} tasks.</p>` : ''
    }</section>
<h2>Job history</h2>${
      d.history.length
        ? html`<table id="job-history"><thead><tr><th>#</th><th>When</th><th>Event</th><th>State</th><th>By</th><th>Detail</th></tr></thead><tbody>${d.history.map(
            (h) => html`<tr><td>${h.seq}</td><td>${when(h.at)}</td><td>${h.event}</td><td>${h.fromStatus ? html`${h.fromStatus} → ` : ''}${statusBadge(h.toStatus)}</td><td>${h.by ?? ''}</td><td>${h.detail ?? ''}</td></tr>`,
          )}</tbody></table>`
        : html`<p class="muted">No history.</p>`
    }
<h2>Tasks</h2>${tasksTable(d.tasks, true)}${d.tasks.length < j.total ? html`<p class="muted">The first ${d.tasks.length} of ${j.total}.</p>` : ''}
</div>`,
  );
}
