import type { StoredRequest } from '../../requests/store.js';
import type { ClipOffer } from '../../share/types.js';
import { type Html, html } from '../html.js';
import { distance, duration, type Formatting, timeLeft, when } from './format.js';

/** A pending request as the page shows it, with what the server worked out. */
export interface RequestView {
  request: StoredRequest;
  /** Metres from this camera to the centre of the request's area. */
  distanceM: number;
  now: number;
  blocked: boolean;
}

function facts(view: RequestView, format: Formatting): Html {
  const { request } = view;
  const { contact } = request;
  return html`<dl class="facts">
  <dt>Agency</dt><dd>${request.agencyName} <span class="muted">(${request.agencyId})</span></dd>
  <dt>Vouched for by</dt><dd>${request.rootNames.join(', ')}</dd>
  <dt>Investigation</dt><dd><code>${request.investigationCode}</code></dd>
  <dt>Area</dt><dd>centre ${distance(view.distanceM)} from this camera, radius ${distance(request.area.radiusM)}</dd>
  <dt>Footage wanted</dt><dd>${when(request.window.start, format)} to ${when(request.window.end, format)} (${duration(request.window.end - request.window.start)})</dd>
  <dt>Time to answer</dt><dd>${timeLeft(request.expiresAt, view.now)} (until ${when(request.expiresAt, format)})</dd>
  ${
    contact && (contact.name || contact.phone || contact.email)
      ? html`<dt>Contact</dt><dd>${[contact.name, contact.phone, contact.email].filter(Boolean).join(' · ')}</dd>`
      : ''
  }
</dl>`;
}

function blockForm(view: RequestView, csrf: string): Html {
  if (view.blocked) {
    return html`<p class="muted">You have blocked this agency: it cannot send you new requests.</p>`;
  }
  return html`<form method="post" action="/policy/block" class="inline">
  <input type="hidden" name="csrf" value="${csrf}">
  <input type="hidden" name="agencyId" value="${view.request.agencyId}">
  <input type="hidden" name="back" value="${view.request.id}">
  <button type="submit" class="secondary">Block ${view.request.agencyName}</button>
</form>`;
}

/** A card in the list of pending requests. */
export function requestCard(view: RequestView, format: Formatting, csrf: string): Html {
  const { request } = view;
  const titleId = `r-${request.id}`;
  return html`<article class="card" aria-labelledby="${titleId}" data-request="${request.id}">
  <h2 id="${titleId}"><a href="/requests/${request.id}">${request.title}</a></h2>
  ${facts(view, format)}
  <p class="description">${request.description}</p>
  <div class="actions">
    <a class="button" href="/requests/${request.id}">Review footage<span class="visually-hidden"> for ${request.title}</span></a>
    <a class="button secondary" href="/requests/${request.id}/decline">Decline<span class="visually-hidden"> ${request.title}</span></a>
    ${blockForm(view, csrf)}
  </div>
</article>`;
}

/** The list of pending requests (also sent alone when the page refreshes it live). */
export function pendingList(views: readonly RequestView[], format: Formatting, csrf: string): Html {
  if (views.length === 0) {
    return html`<p class="empty">No requests are waiting for you.</p>`;
  }
  return html`<p class="muted">${views.length} waiting, newest first. Nothing is sent unless you share.</p>
${views.map((view) => requestCard(view, format, csrf))}`;
}

export function requestsPage(
  views: readonly RequestView[],
  format: Formatting,
  csrf: string,
): Html {
  return html`<h1>Requests</h1>
<div id="pending" data-live="/fragments/pending">
${pendingList(views, format, csrf)}
</div>`;
}

function clipLabel(clip: ClipOffer, format: Formatting): Html {
  return html`Clip ${clip.index + 1}: ${when(clip.start, format)} to ${when(clip.end, format)} (${duration(clip.end - clip.start)}${clip.motion ? ', motion' : ''})`;
}

function clipBlock(requestId: string, clip: ClipOffer, format: Formatting): Html {
  const i = clip.index;
  const seconds = Math.floor((clip.end - clip.start) / 100) / 10;
  const base = `/requests/${requestId}/clips/${i}`;
  return html`<li class="clip">
  <div class="pick">
    <input type="checkbox" name="clip" value="${i}" id="clip-${i}">
    <label for="clip-${i}">${clipLabel(clip, format)}</label>
  </div>
  <video controls preload="none" playsinline muted poster="${base}/thumbnail.jpg" src="${base}/preview.mp4" id="preview-${i}" aria-label="Preview of clip ${i + 1} (no sound)"></video>
  <fieldset class="narrow">
    <legend>Send only part of clip ${i + 1} (seconds from its start)</legend>
    <label for="from-${i}">From</label>
    <input type="number" inputmode="decimal" id="from-${i}" name="from_${i}" min="0" max="${seconds}" step="0.1" value="0">
    <button type="button" class="secondary" data-mark="from" data-clip="${i}" hidden>Start at the preview's time</button>
    <label for="to-${i}">To</label>
    <input type="number" inputmode="decimal" id="to-${i}" name="to_${i}" min="0" max="${seconds}" step="0.1" value="${seconds}">
    <button type="button" class="secondary" data-mark="to" data-clip="${i}" hidden>End at the preview's time</button>
  </fieldset>
</li>`;
}

export function requestPage(
  view: RequestView,
  clips: readonly ClipOffer[],
  options: { audioAvailable: boolean; csrf: string },
  format: Formatting,
): Html {
  const { request } = view;
  if (request.state !== 'pending') {
    return html`<h1>${request.title}</h1>
${facts(view, format)}
<p class="notice">This request is ${request.state.replace('_', ' ')}: there is nothing to decide.</p>
<p><a href="/history">See the history</a></p>`;
  }
  return html`<h1>${request.title}</h1>
${facts(view, format)}
<p class="description">${request.description}</p>
<form method="post" action="/requests/${request.id}/review" class="share">
  <input type="hidden" name="csrf" value="${options.csrf}">
  <fieldset>
    <legend>Footage to send</legend>
    ${
      clips.length === 0
        ? html`<p>No footage of the window is left on this camera.</p>`
        : html`<p class="muted">Tick the clips to send. Previews stay on this camera.</p><ul class="clips">${clips.map((clip) => clipBlock(request.id, clip, format))}</ul>`
    }
  </fieldset>
  <fieldset>
    <legend>Sound</legend>
    ${
      options.audioAvailable
        ? html`<input type="checkbox" name="audio" value="on" id="audio"> <label for="audio">Include sound (off unless you tick it)</label>`
        : html`<p class="muted">This camera records no sound: none is sent.</p>`
    }
  </fieldset>
  <fieldset>
    <legend>Cut</legend>
    <input type="radio" name="mode" value="fast" id="mode-fast" checked> <label for="mode-fast">Fast: whole frames around the edges, a second at most</label><br>
    <input type="radio" name="mode" value="exact" id="mode-exact"> <label for="mode-exact">Exact: not one frame outside the times (slower)</label>
  </fieldset>
  <div class="actions">
    <button type="submit">Share…</button>
    <a class="button secondary" href="/requests/${request.id}/decline">Decline…</a>
  </div>
</form>
${blockForm(view, options.csrf)}`;
}

export function declinePage(view: RequestView, csrf: string, format: Formatting): Html {
  const { request } = view;
  return html`<h1>Decline this request?</h1>
${facts(view, format)}
<p class="notice"><strong>Nothing is sent.</strong> ${request.agencyName} is not told that you declined, nor that this camera exists. The footage held for this request goes back to the normal recording buffer.</p>
<form method="post" action="/requests/${request.id}/decline" class="actions">
  <input type="hidden" name="csrf" value="${csrf}">
  <button type="submit">Decline</button>
  <a class="button secondary" href="/requests/${request.id}">Back</a>
</form>`;
}
