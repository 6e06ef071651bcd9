import type { ShareJob } from '../../share/types.js';
import { type Html, html } from '../html.js';

/**
 * Times, durations and distances as the owner reads them. Times are in the device's zone
 * with the zone named; the page's script rewrites them into the browser's zone (the
 * `datetime` attribute keeps the instant).
 */

export interface Formatting {
  /** IANA zone the server renders times in (the device's). */
  timeZone: string;
}

/** One formatter per zone: making one costs more than rendering a whole request card. */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      weekday: 'short',
      day: 'numeric',
      month: 'short',
      year: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      timeZoneName: 'short',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

export function when(ms: number, format: Formatting): Html {
  const text = formatterFor(format.timeZone).format(ms);
  return html`<time datetime="${new Date(ms).toISOString()}" data-local>${text}</time>`;
}

/** "45 s", "12 min 5 s", "3 h 20 min", "2 d 4 h". */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

export function distance(m: number): string {
  return m < 1000 ? `${Math.round(m)} m` : `${(m / 1000).toFixed(1)} km`;
}

export function bytes(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

/** Time left to answer, ticking in the page (`data-deadline`). */
export function timeLeft(expiresAt: number, now: number): Html {
  const left = expiresAt - now;
  return html`<span data-deadline="${expiresAt}">${left > 0 ? `${duration(left)} left` : 'expired'}</span>`;
}

/** Percent of a job's bytes the agency confirmed (0 until the sizes are known). */
export function percent(job: Pick<ShareJob, 'bytesSent' | 'bytesTotal' | 'state'>): number {
  if (job.state === 'uploaded') return 100;
  if (!job.bytesTotal) return 0;
  // 100 % means delivered: the job is done only once the agency confirmed every upload.
  return Math.min(99, Math.floor((job.bytesSent / job.bytesTotal) * 100));
}

/** A clip job's state in plain words, retries and errors included. */
export function describeJob(job: ShareJob): string {
  const retry =
    job.lastError !== null
      ? ` The last try failed (${job.lastError}); trying again${job.attempts > 1 ? ` (attempt ${job.attempts})` : ''}.`
      : '';
  switch (job.state) {
    case 'approved':
      return `Waiting to be cut from the recording.${retry}`;
    case 'exported':
      return `Cut; being encrypted for the agency.${retry}`;
    case 'sealed':
      return `Encrypted; waiting to upload.${retry}`;
    case 'uploading':
      return `Uploading: ${percent(job)} % received by the agency.${retry}`;
    case 'uploaded':
      return 'Delivered: the agency has received every byte.';
    case 'failed':
      return `Not sent: ${job.failure ?? 'a permanent error'}. Nothing more will be tried.`;
  }
}
