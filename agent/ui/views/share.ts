import type { SharePlan } from '../../share/types.js';
import { type Html, html } from '../html.js';
import type { ShareForm } from '../schemas.js';
import { duration, type Formatting, when } from './format.js';

/** The form's choice again, as hidden fields, so "Share now" posts exactly what was shown. */
function hiddenChoice(form: ShareForm, csrf: string): Html {
  return html`<input type="hidden" name="csrf" value="${csrf}">
${form.clips.map(
  (clip) =>
    html`<input type="hidden" name="clip" value="${clip.index}">${
      clip.from !== undefined
        ? html`<input type="hidden" name="from_${clip.index}" value="${clip.from}">`
        : ''
    }${clip.to !== undefined ? html`<input type="hidden" name="to_${clip.index}" value="${clip.to}">` : ''}`,
)}
<input type="hidden" name="mode" value="${form.mode}">
${form.audio ? html`<input type="hidden" name="audio" value="on">` : ''}`;
}

/** Says exactly what will be sent to whom, before anything is. */
export function confirmPage(
  plan: SharePlan,
  form: ShareForm,
  csrf: string,
  format: Formatting,
): Html {
  const host = new URL(plan.uploadUrl).host;
  return html`<h1>Share with ${plan.agencyName}?</h1>
<p>You are about to send <strong>${plan.clips.length} ${plan.clips.length === 1 ? 'clip' : 'clips'}, ${duration(plan.totalMs)} of video ${plan.audio ? 'with sound' : 'without sound'}</strong> to <strong>${plan.agencyName}</strong> for investigation <code>${plan.investigationCode}</code>.</p>
<ul class="plan">
${plan.clips.map(
  (clip) =>
    html`<li>${when(clip.start, format)} to ${when(clip.end, format)} (${duration(clip.end - clip.start)})</li>`,
)}
</ul>
<p>Each clip is encrypted on this camera so that only ${plan.agencyName} can open it, and uploaded to <code>${host}</code> with a signed record of where it came from. Nothing else is sent: no other footage, ${plan.audio ? '' : 'no sound, '}no name, no address. ${plan.mode === 'exact' ? 'The cut is exact: not one frame outside these times.' : 'The cut is fast: it may start up to a second early, at a whole frame.'}</p>
<p class="notice">Once the agency has it, it cannot be taken back.</p>
<form method="post" action="/requests/${plan.requestId}/share" class="actions">
  ${hiddenChoice(form, csrf)}
  <button type="submit">Share now</button>
  <a class="button secondary" href="/requests/${plan.requestId}">Back, change</a>
</form>`;
}
