/** The webhooks page (admin): registered webhooks with delivery counts by state, and recent deliveries, filterable and paged. */
import { DELIVERY_STATES, type DeliveryState, type Webhook, type WebhookDelivery } from '../../domain/webhooks.js';
import { html, type SafeHtml, when } from '../html.js';
import { statusBadge } from './devices.js';
import { csrfField, page, type Viewer } from './layout.js';

export interface WebhooksFilter {
  state?: DeliveryState;
  webhookId?: string;
  offset: number;
}

export interface WebhooksPageData {
  webhooks: Webhook[];
  /** Deliveries per webhook id and state. */
  counts: Map<string, Partial<Record<DeliveryState, number>>>;
  deliveries: WebhookDelivery[];
  filter: WebhooksFilter;
  pageSize: number;
  /** Whether deliveries beyond this page match the filter. */
  more: boolean;
}

/** The page's own address with a filter (and offset), for links that keep the filter. */
export function webhooksHref(f: WebhooksFilter): string {
  const q = new URLSearchParams();
  if (f.state) q.set('state', f.state);
  if (f.webhookId) q.set('webhook', f.webhookId);
  if (f.offset > 0) q.set('offset', String(f.offset));
  const s = q.toString();
  return s ? `/console/webhooks?${s}` : '/console/webhooks';
}

function webhooksTable(viewer: Viewer, d: WebhooksPageData): SafeHtml {
  if (d.webhooks.length === 0) return html`<p class="muted">No webhooks are registered (createWebhook, SOAP).</p>`;
  return html`<table id="webhooks"><thead><tr><th>Webhook</th><th>URL</th><th>Events</th><th>Created</th>${DELIVERY_STATES.map(
    (s) => html`<th>${s}</th>`,
  )}<th></th></tr></thead><tbody>${d.webhooks.map((w) => {
    const counts = d.counts.get(w.webhookId) ?? {};
    return html`<tr data-webhook="${w.webhookId}"><td><a href="${webhooksHref({ webhookId: w.webhookId, offset: 0 })}">${w.webhookId.slice(0, 8)}</a></td><td class="url">${w.url}</td><td>${w.events.join(', ')}</td>
<td>${when(w.createdAt)}<br><span class="muted">by ${w.createdBy}</span></td>${DELIVERY_STATES.map(
      (s) => html`<td data-state="${s}"><a href="${webhooksHref({ webhookId: w.webhookId, state: s, offset: 0 })}">${counts[s] ?? 0}</a></td>`,
    )}<td><form class="inline" method="post" action="/console/webhooks/${encodeURIComponent(w.webhookId)}/delete">${csrfField(viewer)}<button class="danger" type="submit" data-action="delete">Delete</button></form></td></tr>`;
  })}</tbody></table>`;
}

function deliveriesTable(d: WebhooksPageData): SafeHtml {
  if (d.deliveries.length === 0) return html`<p class="muted">No deliveries${d.filter.state || d.filter.webhookId ? ' match' : ''}.</p>`;
  return html`<table id="deliveries"><thead><tr><th>Event</th><th>Type</th><th>Webhook</th><th>State</th><th>Attempts</th><th>Last status</th><th>Last error</th><th>Created</th><th>Updated</th><th>Delivered</th></tr></thead><tbody>${d.deliveries.map(
    (x) => html`<tr data-event="${x.eventId}"><td>${x.eventId}</td><td>${x.type}</td><td>${x.webhookId.slice(0, 8)}</td><td>${statusBadge(x.state)}</td><td>${x.attempts}</td><td>${x.lastStatus ?? ''}</td><td>${x.lastError ?? ''}</td>
<td>${when(x.createdAt)}</td><td>${when(x.updatedAt)}</td><td>${x.deliveredAt ? when(x.deliveredAt) : ''}</td></tr>`,
  )}</tbody></table>`;
}

function pager(d: WebhooksPageData): SafeHtml {
  const f = d.filter;
  const newer = f.offset > 0 ? html`<a id="newer" href="${webhooksHref({ ...f, offset: Math.max(0, f.offset - d.pageSize) })}">Newer</a>` : '';
  const older = d.more ? html`<a id="older" href="${webhooksHref({ ...f, offset: f.offset + d.pageSize })}">Older</a>` : '';
  const shown = d.deliveries.length ? html`<span class="muted">${f.offset + 1}–${f.offset + d.deliveries.length}</span>` : '';
  return html`<p class="pager">${newer} ${shown} ${older}</p>`;
}

export function webhooksPage(viewer: Viewer, d: WebhooksPageData): string {
  const f = d.filter;
  return page(
    'Webhooks',
    viewer,
    html`<h1>Webhooks</h1>
${webhooksTable(viewer, d)}
<h2>Deliveries</h2>
<form method="get" action="/console/webhooks" class="row"><div><label for="state">State</label><select id="state" name="state"><option value="">any</option>${DELIVERY_STATES.map(
      (s) => html`<option value="${s}"${s === f.state ? html` selected` : ''}>${s}</option>`,
    )}</select></div><div><label for="webhook">Webhook</label><select id="webhook" name="webhook"><option value="">any</option>${d.webhooks.map(
      (w) => html`<option value="${w.webhookId}"${w.webhookId === f.webhookId ? html` selected` : ''}>${w.webhookId.slice(0, 8)} ${w.url.slice(0, 60)}</option>`,
    )}</select></div><div><button class="secondary" type="submit">Show</button></div></form>
${deliveriesTable(d)}${pager(d)}`,
  );
}
