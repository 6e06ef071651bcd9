import type { LiveStatus } from '../../live/live-view.js';
import { type Html, html } from '../html.js';

/**
 * The live view screen. The picture comes from the page's script (a player over our
 * own stream address); without the script the page says so. Sound is off unless the
 * owner turns it on here.
 */
export function liveViewPage(view: {
  status: LiveStatus;
  audio: boolean;
  csrf: string;
  saved: boolean;
}): Html {
  const { status, audio, csrf } = view;
  if (status.state === 'off') {
    return html`<h1>Live view</h1>
<p class="notice" role="alert">Live view is turned off on this camera (<code>live.enabled</code> in its configuration).</p>`;
  }
  return html`<h1>Live view</h1>
${view.saved ? html`<p class="ok" role="status">Saved. ${audio ? 'Live view now carries sound.' : 'Live view now carries no sound.'}</p>` : ''}
<p>What the camera sees now, on this page only: nothing here is recorded again or sent anywhere. Recording goes on while you watch.</p>
<section class="live" id="live-view" aria-label="Live view" data-stream="/live/stream.flv" data-status="/live/status" data-audio="${audio ? 'on' : 'off'}">
  <video id="live-video" muted playsinline controls aria-label="The camera, live" aria-describedby="live-state"></video>
  <p id="live-state" class="muted" role="status">Live view needs JavaScript in this browser.</p>
  <p id="live-error" class="error" role="alert" hidden></p>
  <p class="actions">
    <button type="button" id="live-start" hidden>Watch live</button>
    <button type="button" id="live-stop" class="secondary" hidden>Stop</button>
  </p>
</section>
<h2>Sound</h2>
<form method="post" action="/live/audio" class="inline">
  <input type="hidden" name="csrf" value="${csrf}">
  <input type="hidden" name="audio" value="${audio ? 'off' : 'on'}">
  <p>${audio ? 'Live view carries the camera’s sound.' : 'Live view carries the picture only, no sound.'}
  <button type="submit" class="secondary">${audio ? 'Turn sound off' : 'Turn sound on'}</button></p>
</form>`;
}
