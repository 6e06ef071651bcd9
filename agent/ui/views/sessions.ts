import { type Html, html } from '../html.js';
import type { Session } from '../sessions.js';
import { type Formatting, when } from './format.js';

export function sessionsPage(
  sessions: readonly Session[],
  current: number,
  csrf: string,
  format: Formatting,
): Html {
  return html`<h1>Devices</h1>
<p>Browsers paired with this camera. Remove one you do not recognise, or no longer use; pair again with <code>threshold pair</code> on the camera.</p>
<ul class="sessions">
${sessions.map(
  (session) => html`<li class="card">
  <p><strong>${session.label}</strong>${session.id === current ? html` <span class="badge">this browser</span>` : ''}</p>
  <p class="muted">Paired ${when(session.createdAt, format)}; last used ${when(session.lastSeenAt, format)}</p>
  <form method="post" action="/sessions/${session.id}/revoke" class="inline">
    <input type="hidden" name="csrf" value="${csrf}">
    <button type="submit" class="secondary">${session.id === current ? 'Log out this browser' : 'Remove'}<span class="visually-hidden"> ${session.label} (${session.id})</span></button>
  </form>
</li>`,
)}
</ul>`;
}
