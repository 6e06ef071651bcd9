import { type Html, html } from '../html.js';

export function loginPage(csrf: string, problem?: string): Html {
  return html`<h1>Pair this browser</h1>
<p>On the camera, run <code>threshold pair --config FILE</code>. It prints a one-time code, valid for 10 minutes.</p>
${problem ? html`<p class="error" role="alert" id="login-problem">${problem}</p>` : ''}
<form method="post" action="/login" class="login">
  <input type="hidden" name="csrf" value="${csrf}">
  <label for="code">Pairing code</label>
  <input id="code" name="code" required autocomplete="one-time-code" autocapitalize="characters" spellcheck="false" maxlength="64"${problem ? html` aria-describedby="login-problem"` : ''}>
  <button type="submit">Pair</button>
</form>`;
}
