// The owner's page: live updates, local times, and the preview's time for narrowing a clip.
// Progressive: every screen works without this script (forms post, links navigate).

const LOCAL = new Intl.DateTimeFormat(undefined, {
  weekday: 'short',
  day: 'numeric',
  month: 'short',
  year: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  timeZoneName: 'short',
});

/** Times in the browser's own zone, with the zone named. */
function localTimes(root) {
  for (const el of root.querySelectorAll('time[data-local]')) {
    const ms = Date.parse(el.getAttribute('datetime'));
    if (!Number.isNaN(ms)) el.textContent = LOCAL.format(ms);
  }
}

function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

function deadlines() {
  const now = Date.now();
  for (const el of document.querySelectorAll('[data-deadline]')) {
    const left = Number(el.getAttribute('data-deadline')) - now;
    el.textContent = left > 0 ? `${duration(left)} left` : 'expired';
  }
}

function say(text) {
  const status = document.getElementById('live-status');
  if (status) status.textContent = text;
}

function setPendingCount(count) {
  const badge = document.getElementById('pending-count');
  if (!badge || Number.isNaN(count)) return;
  badge.hidden = count === 0;
  const number = badge.lastChild;
  if (number) number.textContent = String(count);
  badge.setAttribute('data-count', String(count));
}

/** Fetches a live region's fragment again and swaps it in. */
async function refresh(region) {
  const response = await fetch(region.getAttribute('data-live'), {
    credentials: 'same-origin',
    headers: { Accept: 'text/html' },
  });
  if (response.status === 401) {
    window.location.assign('/login');
    return;
  }
  if (!response.ok) return;
  const count = response.headers.get('X-Pending-Count');
  const before = region.querySelectorAll('[data-request]').length;
  region.innerHTML = await response.text();
  localTimes(region);
  if (count !== null) {
    setPendingCount(Number(count));
    const after = region.querySelectorAll('[data-request]').length;
    if (after > before) say(`${after - before} new request${after - before === 1 ? '' : 's'}.`);
  }
}

let timer;
function refreshSoon() {
  // A burst of events (many requests at once) makes one fetch.
  clearTimeout(timer);
  timer = setTimeout(() => {
    for (const region of document.querySelectorAll('[data-live]')) {
      refresh(region).catch(() => undefined);
    }
    if (!document.querySelector('[data-live="/fragments/pending"]')) {
      fetch('/fragments/pending', { credentials: 'same-origin' })
        .then((response) => setPendingCount(Number(response.headers.get('X-Pending-Count'))))
        .catch(() => undefined);
    }
  }, 250);
}

function onJob(event) {
  const job = JSON.parse(event.data);
  const bar = document.querySelector(`[data-job-progress="${job.id}"]`);
  if (!bar) {
    if (document.getElementById('history')) refreshSoon();
    return;
  }
  const pct =
    job.state === 'uploaded'
      ? 100
      : job.bytesTotal
        ? Math.min(99, Math.floor((job.bytesSent / job.bytesTotal) * 100))
        : 0;
  bar.value = pct;
  bar.textContent = `${pct} %`;
  const percent = document.querySelector(`[data-job-percent="${job.id}"]`);
  if (percent) percent.textContent = `${pct} %`;
  const words = document.querySelector(`[data-job-words="${job.id}"]`);
  if (words) {
    words.textContent = job.words;
    words.setAttribute('data-job-state', job.state);
    words.className = job.state === 'failed' ? 'error' : 'muted';
  }
}

function live() {
  if (!document.getElementById('pending-count')) return; // not logged in
  const source = new EventSource('/events');
  source.addEventListener('requests', refreshSoon);
  source.addEventListener('job', onJob);
  source.addEventListener('error', () => {
    if (source.readyState === EventSource.CLOSED) {
      // The stream was refused: the session may have ended.
      fetch('/fragments/pending', { credentials: 'same-origin' })
        .then((response) => {
          if (response.status === 401) window.location.assign('/login');
        })
        .catch(() => undefined);
    }
  });
}

/** "Start/End at the preview's time" buttons fill the clip's From/To fields. */
function marks() {
  for (const button of document.querySelectorAll('button[data-mark]')) {
    const clip = button.getAttribute('data-clip');
    const end = button.getAttribute('data-mark');
    const video = document.getElementById(`preview-${clip}`);
    const field = document.getElementById(`${end}-${clip}`);
    if (!video || !field) continue;
    button.hidden = false;
    button.addEventListener('click', () => {
      field.value = (Math.round(video.currentTime * 10) / 10).toFixed(1);
      const box = document.getElementById(`clip-${clip}`);
      if (box) box.checked = true;
      field.focus();
    });
  }
}

/**
 * Live view: mpegts.js (served by the camera) plays our own stream address through
 * Media Source Extensions. A stream that drops after playing (the camera's live service
 * restarted) is opened again by itself a few times; anything else is said in plain
 * words, with a button to try again.
 */
function liveView() {
  const root = document.getElementById('live-view');
  const video = document.getElementById('live-video');
  const state = document.getElementById('live-state');
  const error = document.getElementById('live-error');
  const start = document.getElementById('live-start');
  const stop = document.getElementById('live-stop');
  if (!root || !video || !state || !error || !start || !stop) return;
  const mpegts = window.mpegts;
  if (!mpegts?.getFeatureList().mseLivePlayback) {
    state.textContent = 'This browser cannot play live video.';
    return;
  }
  let player;
  let played = false;
  let reconnects = 0;
  let timer;

  function show(words, failed) {
    state.textContent = failed ? '' : words;
    error.textContent = failed ? words : '';
    error.hidden = !failed;
    start.textContent = failed ? 'Retry' : 'Watch live';
  }

  function close() {
    clearTimeout(timer);
    if (!player) return;
    const old = player;
    player = undefined;
    try {
      old.pause();
      old.unload();
      old.detachMediaElement();
      old.destroy();
    } catch {
      // Already torn down by its own error.
    }
  }

  function open() {
    close();
    played = false;
    show('Starting live view…', false);
    start.hidden = true;
    stop.hidden = false;
    player = mpegts.createPlayer(
      {
        type: 'flv',
        isLive: true,
        hasAudio: root.getAttribute('data-audio') === 'on',
        hasVideo: true,
        url: root.getAttribute('data-stream'),
      },
      {
        enableWorker: false,
        enableStashBuffer: false,
        liveBufferLatencyChasing: true,
        autoCleanupSourceBuffer: true,
      },
    );
    player.attachMediaElement(video);
    player.on(mpegts.Events.ERROR, ended);
    player.on(mpegts.Events.LOADING_COMPLETE, ended);
    player.load();
    const playing = player.play();
    if (playing && typeof playing.catch === 'function') playing.catch(() => undefined);
  }

  async function ended() {
    const wasPlaying = played;
    close();
    if (wasPlaying && reconnects < 3) {
      reconnects++;
      show('Live view dropped; reconnecting…', false);
      timer = setTimeout(open, 1000 * reconnects);
      return;
    }
    let words = 'Live view could not start.';
    try {
      const response = await fetch(root.getAttribute('data-status'), {
        credentials: 'same-origin',
      });
      if (response.status === 401) {
        window.location.assign('/login');
        return;
      }
      const status = await response.json();
      if (status.problem) words = status.problem.message;
    } catch {
      words = 'The camera does not answer.';
    }
    show(words, true);
    start.hidden = false;
    stop.hidden = true;
  }

  video.addEventListener('playing', () => {
    played = true;
    reconnects = 0;
    show('Live.', false);
  });
  start.addEventListener('click', () => {
    reconnects = 0;
    open();
  });
  stop.addEventListener('click', () => {
    close();
    show('Stopped. The camera stops its live stream shortly.', false);
    start.hidden = false;
    stop.hidden = true;
  });
  // Leaving the page ends the stream: the camera stops it shortly after the last viewer.
  window.addEventListener('pagehide', close);
  open();
}

document.addEventListener('DOMContentLoaded', () => {
  localTimes(document);
  deadlines();
  setInterval(deadlines, 30_000);
  marks();
  live();
  liveView();
});
