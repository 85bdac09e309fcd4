/** Device lookup and the device page: record, capability, what it reported, tasks and their history. */
import type { DeviceCapability, DeviceInfo } from '../../domain/registry.js';
import type { Task, TaskHistoryEntry } from '../../domain/tasks.js';
import type { PublicDeviceInstance } from '../../services/device-manager.js';
import { html, type SafeHtml, when } from '../html.js';
import { csrfField, page, type Viewer } from './layout.js';
import { SINGLE_OPERATIONS } from '../operation-form.js';

export function lookupPage(viewer: Viewer, query = ''): string {
  return page(
    'Find a device',
    viewer,
    html`<h1>Find a device</h1><section class="card"><form method="get" action="/console/devices" class="row">
<div><label for="q">IMEI, device ID or phone number</label><input id="q" name="q" value="${query}" required maxlength="128" placeholder="350000000000001 or +4915100000001"></div>
<div><button type="submit" id="find">Find</button></div></form></section>`,
  );
}

export const statusBadge = (s: string): SafeHtml => html`<span class="status ${s}">${s}</span>`;

/** A short name for a task: its place in its job, or the start of its id. */
export function taskLabel(t: Task): string {
  return t.jobSeq !== undefined ? `#${t.jobSeq}` : t.taskId.slice(0, 8);
}

export function tasksTable(tasks: readonly Task[], withDevice = false): SafeHtml {
  if (tasks.length === 0) return html`<p class="muted">No tasks.</p>`;
  return html`<table class="tasks"><thead><tr><th>Task</th>${withDevice ? html`<th>Device</th>` : ''}<th>Operation</th><th>Status</th><th>Result</th><th>Created</th><th>Updated</th></tr></thead><tbody>
${tasks.map(
  (t) => html`<tr><td><a href="/console/tasks/${encodeURIComponent(t.taskId)}">${taskLabel(t)}</a></td>${
    withDevice ? html`<td><a href="/console/devices/${encodeURIComponent(t.deviceId)}">${t.deviceId}</a></td>` : ''
  }<td>${t.operation.name}</td><td>${statusBadge(t.status)}</td><td>${t.resultCode ?? ''}</td><td>${when(t.createdAt)}</td><td>${when(t.updatedAt)}</td></tr>`,
)}</tbody></table>`;
}

/** History rows as a timeline, newest first; each row names its task when several tasks are shown. */
export function timeline(rows: readonly (TaskHistoryEntry & { operation?: string })[], linkTasks: boolean): SafeHtml {
  if (rows.length === 0) return html`<p class="muted">No history yet.</p>`;
  const sorted = [...rows].sort((a, b) => b.at.getTime() - a.at.getTime() || b.seq - a.seq);
  return html`<ol class="timeline">${sorted.map(
    (h) => html`<li><span class="muted">${when(h.at)}</span> ${statusBadge(h.toStatus)} <strong>${h.event}</strong>${
      h.code !== undefined ? html` (${h.code})` : ''
    }${linkTasks ? html` · <a href="/console/tasks/${encodeURIComponent(h.taskId)}">${h.operation ?? 'task'} ${h.taskId.slice(0, 8)}</a>` : ''}${
      h.detail ? html`<div class="muted"><pre>${h.detail.slice(0, 400)}</pre></div>` : ''
    }</li>`,
  )}</ol>`;
}

export interface DevicePageData {
  device: PublicDeviceInstance;
  capability: DeviceCapability | undefined;
  info: DeviceInfo;
  tasks: Task[];
  history: (TaskHistoryEntry & { operation?: string })[];
  mayOperate: boolean;
}

function capabilityFacts(c: DeviceCapability | undefined, oid: string): SafeHtml {
  if (!c) return html`<p class="muted">Capability ${oid} is not in the registry.</p>`;
  return html`<dl class="facts"><dt>Make / model</dt><dd>${c.make} ${c.model}</dd><dt>Firmware</dt><dd>${c.firmwareVersion}</dd>
<dt>DM version</dt><dd>${c.dmVersion}</dd><dt>Encoding</dt><dd>${c.wbxml ? 'WBXML' : 'XML'}</dd>
<dt>MO roots</dt><dd>${[c.sseRoot && `SSE ${c.sseRoot}`, c.fumoRoot && `FUMO ${c.fumoRoot}`, c.scomoRoot && `SCOMO ${c.scomoRoot}`].filter(Boolean).join(', ') || '—'}</dd>
<dt>OID</dt><dd>${c.oid}</dd></dl>`;
}

function reportedFacts(info: DeviceInfo): SafeHtml {
  const r = info.reported;
  const components = info.components.length
    ? html`<table><thead><tr><th>Component</th><th>Name</th><th>Version</th><th>State</th></tr></thead><tbody>${info.components.map(
        (c) => html`<tr><td>${c.componentId}</td><td>${c.name}</td><td>${c.version}</td><td>${c.state}</td></tr>`,
      )}</tbody></table>`
    : html`<p class="muted">No software inventory read${info.inventoryAt ? html` (as of ${when(info.inventoryAt)})` : ''}.</p>`;
  if (!r) return html`<p class="muted">The device has reported nothing yet.</p>${components}`;
  return html`<dl class="facts"><dt>Manufacturer</dt><dd>${r.man ?? '—'}</dd><dt>Model</dt><dd>${r.mod ?? '—'}</dd>
<dt>DM version</dt><dd>${r.dmV ?? '—'}</dd><dt>Language</dt><dd>${r.lang ?? '—'}</dd>
<dt>Firmware / software / hardware</dt><dd>${r.detail?.fwV ?? '—'} / ${r.detail?.swV ?? '—'} / ${r.detail?.hwV ?? '—'}</dd>
<dt>Reported</dt><dd>${when(r.reportedAt)}</dd></dl><h3>Software</h3>${components}`;
}

function operationForm(viewer: Viewer, deviceId: string): SafeHtml {
  return html`<section class="card"><h2>Start an operation</h2>
<form method="post" action="/console/devices/${encodeURIComponent(deviceId)}/operations" class="row">${csrfField(viewer)}
<div><label for="op-name">Operation</label><select id="op-name" name="name">${SINGLE_OPERATIONS.map(
    (o) => html`<option value="${o.name}">${o.name} — ${o.hint}</option>`,
  )}</select></div>
<div><label for="op-uri">Node URI</label><input id="op-uri" name="uri" required maxlength="1024" value="./DevInfo/Mod"></div>
<div><label for="op-value">Value (UPDATE)</label><input id="op-value" name="value" maxlength="4096"></div>
<div><button type="submit" id="op-start">Start</button></div></form></section>`;
}

export function devicePage(viewer: Viewer, d: DevicePageData): string {
  const dev = d.device;
  return page(
    dev.deviceId,
    viewer,
    html`<h1>Device ${dev.deviceId}</h1>
<section class="card"><dl class="facts" id="device-facts"><dt>Phone number</dt><dd>${dev.phoneNumber}</dd>
<dt>State</dt><dd>${statusBadge(dev.state)}</dd><dt>Last contact</dt><dd id="last-contact">${when(dev.lastContact)}</dd>
<dt>Authentication</dt><dd>${dev.authType}</dd><dt>Notification</dt><dd>${dev.notificationUrl ?? dev.smsAddress ?? '—'}</dd>
${Object.entries(dev.attributes).map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl></section>
<section class="card"><h2>Capability</h2>${capabilityFacts(d.capability, dev.capabilityOid)}</section>
<section class="card"><h2>Reported by the device</h2>${reportedFacts(d.info)}</section>
${d.mayOperate ? operationForm(viewer, dev.deviceId) : ''}
<h2>Tasks (newest first)</h2>${tasksTable(d.tasks)}
<h2>History</h2>${timeline(d.history, true)}`,
  );
}
