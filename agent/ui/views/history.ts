import type { StoredRequest } from '../../requests/store.js';
import type { ShareJob } from '../../share/types.js';
import { type Html, html } from '../html.js';
import { bytes, describeJob, duration, type Formatting, percent, when } from './format.js';

const STATE_WORDS: Record<string, string> = {
  shared: 'Shared',
  declined: 'Declined: nothing was sent',
  expired: 'Expired without an answer: nothing was sent',
};

function jobRow(job: ShareJob, format: Formatting): Html {
  const pct = percent(job);
  return html`<li class="job" data-job="${job.id}">
  <p>Clip ${job.clipIndex + 1}: ${when(job.start, format)} to ${when(job.end, format)} (${duration(job.end - job.start)}${job.audio ? ', with sound' : ''})</p>
  <progress max="100" value="${pct}" aria-label="Upload of clip ${job.clipIndex + 1}" data-job-progress="${job.id}">${pct} %</progress>
  <span data-job-percent="${job.id}">${pct} %</span>${job.bytesTotal ? html` <span class="muted">of ${bytes(job.bytesTotal)}</span>` : ''}
  <p class="${job.state === 'failed' ? 'error' : 'muted'}" data-job-words="${job.id}" data-job-state="${job.state}">${describeJob(job)}</p>
</li>`;
}

export function historyList(
  requests: readonly StoredRequest[],
  jobs: ReadonlyMap<string, ShareJob[]>,
  format: Formatting,
): Html {
  if (requests.length === 0) return html`<p class="empty">No decided or expired requests yet.</p>`;
  return html`${requests.map((request) => {
    const clipJobs = jobs.get(request.id) ?? [];
    return html`<article class="card" aria-labelledby="h-${request.id}" data-history="${request.id}" data-state="${request.state}">
  <h2 id="h-${request.id}">${request.title}</h2>
  <p><strong>${STATE_WORDS[request.state] ?? request.state}</strong>${request.decidedAt ? html`, ${when(request.decidedAt, format)}` : ''}</p>
  <p class="muted">${request.agencyName} · <code>${request.investigationCode}</code></p>
  ${clipJobs.length > 0 ? html`<ul class="jobs">${clipJobs.map((job) => jobRow(job, format))}</ul>` : ''}
</article>`;
  })}`;
}

export function historyPage(
  requests: readonly StoredRequest[],
  jobs: ReadonlyMap<string, ShareJob[]>,
  format: Formatting,
): Html {
  return html`<h1>History</h1>
<div id="history" data-live="/fragments/history">
${historyList(requests, jobs, format)}
</div>`;
}
