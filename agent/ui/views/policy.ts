import type { OwnerPolicy } from '../../requests/policy-source.js';
import { type Html, html } from '../html.js';

export function policyPage(
  policy: OwnerPolicy,
  overridden: readonly string[],
  csrf: string,
  saved: boolean,
): Html {
  const note = (key: string) =>
    overridden.includes(key)
      ? html` <span class="muted">(set here)</span>`
      : html` <span class="muted">(from the configuration file)</span>`;
  return html`<h1>Policy</h1>
${saved ? html`<p class="ok" role="status">Saved. Your policy applies to the next request.</p>` : ''}
<p>Requests outside these limits are refused on this camera without asking you, and the agency is told nothing.</p>
<form method="post" action="/policy" class="policy">
  <input type="hidden" name="csrf" value="${csrf}">
  <p class="switch">
    <input type="checkbox" role="switch" name="requestsOff" value="on" id="requests-off"${policy.requestsOff ? html` checked` : ''}>
    <label for="requests-off">Turn all requests off${note('requestsOff')}</label>
  </p>
  <p class="muted">Off, the camera stops listening for requests altogether.</p>
  <p><label for="max-radius">Largest area, radius in metres${note('maxRadiusM')}</label>
  <input type="number" id="max-radius" name="maxRadiusM" min="1" max="50000" step="1" required value="${policy.maxRadiusM}"></p>
  <p><label for="max-window">Longest window of footage, hours${note('maxWindowHours')}</label>
  <input type="number" id="max-window" name="maxWindowHours" min="0.01" max="336" step="0.01" required value="${policy.maxWindowHours}"></p>
  <p><label for="max-prompts">Requests per agency per week, at most${note('maxPromptsPerAgencyPerWeek')}</label>
  <input type="number" id="max-prompts" name="maxPromptsPerAgencyPerWeek" min="0" max="1000" step="1" required value="${policy.maxPromptsPerAgencyPerWeek}"></p>
  <button type="submit">Save policy</button>
</form>
<h2>Blocked agencies</h2>
${
  policy.blockedAgencies.length === 0
    ? html`<p class="empty">None. Block an agency from one of its requests.</p>`
    : html`<ul class="blocked">${policy.blockedAgencies.map(
        (agency) => html`<li><code>${agency}</code>
<form method="post" action="/policy/unblock" class="inline">
  <input type="hidden" name="csrf" value="${csrf}">
  <input type="hidden" name="agencyId" value="${agency}">
  <button type="submit" class="secondary">Unblock<span class="visually-hidden"> ${agency}</span></button>
</form></li>`,
      )}</ul>`
}`;
}
