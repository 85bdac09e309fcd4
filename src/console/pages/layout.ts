/** The frame of every console page: navigation, who is signed in, sign-out. */
import { type Caller, roleAllows } from '../../domain/roles.js';
import type { ConsoleProblem } from '../errors.js';
import { html, type SafeHtml } from '../html.js';

/** The signed-in user as a page needs it: who, and the token its forms carry. */
export interface Viewer {
  caller: Caller;
  csrf: string;
}

export function page(title: string, viewer: Viewer | undefined, body: SafeHtml): string {
  const nav = viewer
    ? html`<a href="/console/devices">Devices</a><a href="/console/jobs">Jobs</a>${
        roleAllows(viewer.caller.role, 'webhooks') ? html`<a href="/console/webhooks">Webhooks</a>` : ''
      }${viewer.caller.role === 'admin' ? html`<a href="/admin/queues/">Queues</a>` : ''
      }<span class="who">${viewer.caller.username} (${viewer.caller.role})</span>
<form method="post" action="/console/logout"><input type="hidden" name="csrf" value="${viewer.csrf}"><button type="submit">Sign out</button></form>`
    : '';
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · DM WSI console</title><link rel="stylesheet" href="/console/assets/console.css"></head>
<body><header><a class="brand" href="/console">DM WSI console</a>${nav}</header>
<main>${body}</main><script src="/console/assets/console.js"></script></body></html>`.text;
}

/** A refusal or failure as a page: its title and one plain sentence. */
export function problemPage(p: ConsoleProblem, viewer: Viewer | undefined): string {
  const back = viewer ? html`<p><a href="/console/devices">Find a device</a> · <a href="/console/jobs">Jobs</a></p>` : html`<p><a href="/console/login">Sign in</a></p>`;
  return page(
    p.title,
    viewer,
    html`<h1>${p.title}</h1><p class="message error" id="problem" data-code="${p.code}">${p.message}</p>${back}`,
  );
}

/** A hidden CSRF field for a form that changes something. */
export function csrfField(viewer: Viewer): SafeHtml {
  return html`<input type="hidden" name="csrf" value="${viewer.csrf}">`;
}
