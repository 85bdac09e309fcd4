/** The sign-in page; shown again with the one refusal message after a wrong sign-in. */
import { html } from '../html.js';
import { page } from './layout.js';

export function signInPage(o: { token: string; next: string; username?: string; refusal?: string }): string {
  return page(
    'Sign in',
    undefined,
    html`<h1>Sign in</h1>
${o.refusal ? html`<p class="message error" id="problem" data-code="AuthenticationFailed">${o.refusal}</p>` : ''}
<section class="card"><form method="post" action="/console/login">
<input type="hidden" name="csrf" value="${o.token}"><input type="hidden" name="next" value="${o.next}">
<label for="username">User name</label><input id="username" name="username" autocomplete="username" required value="${o.username ?? ''}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<p><button type="submit" id="sign-in">Sign in</button></p>
</form><p class="muted">The same users and roles as the SOAP API.</p></section>`,
  );
}
