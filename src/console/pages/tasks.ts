/** A task page: what it does, where it is, what came back; refreshed until the task ends. */
import { type Task, TERMINAL_TASK_STATES, type TaskHistoryEntry } from '../../domain/tasks.js';
import { html, when } from '../html.js';
import { statusBadge, timeline } from './devices.js';
import { csrfField, page, type Viewer } from './layout.js';

export function taskPage(viewer: Viewer, t: Task, history: TaskHistoryEntry[], mayCancel: boolean): string {
  const ended = TERMINAL_TASK_STATES.has(t.status);
  const commands = t.operation.commands.map((c) => `${c.verb} ${c.uri}${c.value !== undefined ? ` = ${c.value}` : ''}`).join('; ');
  return page(
    `Task ${t.taskId.slice(0, 8)}`,
    viewer,
    html`<h1>Task ${t.taskId}</h1>
<div id="live" data-status="${t.status}"${ended ? '' : html` data-refresh-ms="1000"`}>
<section class="card"><dl class="facts"><dt>Status</dt><dd id="task-status">${statusBadge(t.status)}${ended ? '' : html` <span class="muted">(refreshing)</span>`}</dd>
<dt>Operation</dt><dd>${t.operation.name}${commands ? html` <span class="muted">${commands}</span>` : ''}</dd>
<dt>Device</dt><dd><a href="/console/devices/${encodeURIComponent(t.deviceId)}">${t.deviceId}</a> ${t.phoneNumber ?? ''}</dd>
${t.jobId ? html`<dt>Job</dt><dd><a href="/console/jobs/${encodeURIComponent(t.jobId)}">${t.jobId}</a></dd>` : ''}
<dt>Result code</dt><dd>${t.resultCode ?? '—'}</dd><dt>DM status</dt><dd>${t.dmStatus ?? '—'}</dd>
<dt>Created</dt><dd>${when(t.createdAt)} by ${t.createdBy}</dd><dt>Updated</dt><dd>${when(t.updatedAt)}</dd></dl>
${mayCancel && !ended ? html`<form method="post" action="/console/tasks/${encodeURIComponent(t.taskId)}/cancel">${csrfField(viewer)}<p><button class="danger" type="submit">Cancel task</button></p></form>` : ''}
</section>
<h2>Results</h2>${
      t.results.length
        ? html`<table id="results"><thead><tr><th>URI</th><th>Value</th><th>Format</th></tr></thead><tbody>${t.results.map(
            (r) => html`<tr><td>${r.uri}</td><td><pre>${r.value}</pre></td><td>${r.format ?? ''}</td></tr>`,
          )}</tbody></table>`
        : html`<p class="muted">No results${ended ? '' : ' yet'}.</p>`
    }
<h2>History</h2>${timeline(history, false)}
</div>`,
  );
}
