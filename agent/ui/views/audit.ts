import type { AuditEntry, AuditVerdict } from '../../audit/audit-log.js';
import { type Html, html } from '../html.js';
import { type Formatting, when } from './format.js';

export function auditPage(
  entries: readonly AuditEntry[],
  verdict: AuditVerdict,
  older: number | undefined,
  format: Formatting,
): Html {
  return html`<h1>Audit log</h1>
${
  verdict.ok
    ? html`<p class="ok" role="status">Verified: the chain of ${verdict.count} entries is intact (each entry holds the hash of the one before).</p>`
    : html`<p class="error" role="alert">The chain is broken at entry ${verdict.seq}: ${verdict.problem}. Entries may have been changed or removed.</p>`
}
<div class="scroll" tabindex="0" role="region" aria-label="Audit entries">
<table>
<caption class="visually-hidden">Audit entries, newest first</caption>
<thead><tr><th scope="col">#</th><th scope="col">Time</th><th scope="col">What</th><th scope="col">Request</th><th scope="col">Reason</th><th scope="col">Detail</th></tr></thead>
<tbody>
${entries.map(
  (entry) => html`<tr>
<td>${entry.seq}</td>
<td>${when(entry.time, format)}</td>
<td>${entry.kind.replaceAll('_', ' ')}</td>
<td>${entry.requestId ? html`<code>${entry.requestId}</code>` : ''}</td>
<td>${entry.reason?.replaceAll('_', ' ') ?? ''}</td>
<td>${entry.detail ? html`<code class="detail">${JSON.stringify(entry.detail).slice(0, 300)}</code>` : ''}</td>
</tr>`,
)}
</tbody>
</table>
</div>
${older !== undefined ? html`<p><a href="/audit?before=${older}">Older entries</a></p>` : ''}`;
}
