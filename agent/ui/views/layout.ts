import { type Html, html } from '../html.js';

export type Section = 'requests' | 'live' | 'history' | 'audit' | 'policy' | 'sessions' | 'login';

export interface Chrome {
  title: string;
  section: Section;
  /** Present once logged in: the CSRF token for the log-out form and the pending count. */
  session?: { csrf: string; pending: number };
  /** Our own further scripts this screen needs, run before the page's script. */
  scripts?: readonly string[];
}

const NAV: [Section, string, string][] = [
  ['requests', '/', 'Requests'],
  ['live', '/live', 'Live'],
  ['history', '/history', 'History'],
  ['audit', '/audit', 'Audit log'],
  ['policy', '/policy', 'Policy'],
  ['sessions', '/sessions', 'Devices'],
];

/** The page around every screen: one stylesheet, one script, no inline code (CSP). */
export function layout(chrome: Chrome, main: Html): Html {
  const { session } = chrome;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${chrome.title} · Threshold</title>
<link rel="stylesheet" href="/static/app.css">
${(chrome.scripts ?? []).map(
  (src) => html`<script src="${src}" defer></script>
`,
)}<script src="/static/app.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <p class="brand">Threshold</p>
  ${
    session
      ? html`<nav aria-label="Sections"><ul>${NAV.map(
          ([section, href, label]) =>
            html`<li><a href="${href}"${section === chrome.section ? html` aria-current="page"` : ''}>${label}${
              section === 'requests'
                ? html` <span class="badge" id="pending-count" data-count="${session.pending}"${session.pending === 0 ? html` hidden` : ''}><span class="visually-hidden">, pending: </span>${session.pending}</span>`
                : ''
            }</a></li>`,
        )}</ul></nav>
  <form method="post" action="/logout" class="logout"><input type="hidden" name="csrf" value="${session.csrf}"><button type="submit" class="link">Log out</button></form>`
      : ''
  }
</header>
<main id="main" tabindex="-1">
<p id="live-status" role="status" class="visually-hidden"></p>
${main}
</main>
</body>
</html>
`;
}

/** A refusal or an error, in plain words, with a way back. */
export function messagePage(
  chrome: Chrome,
  heading: string,
  message: string,
  back?: { href: string; label: string },
): Html {
  return layout(
    chrome,
    html`<h1>${heading}</h1><p class="notice" role="alert">${message}</p>${
      back ? html`<p><a href="${back.href}">${back.label}</a></p>` : ''
    }`,
  );
}
