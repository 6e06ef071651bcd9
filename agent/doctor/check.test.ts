import { describe, expect, it } from 'vitest';
import { type Check, formatReport, runChecks } from './check.js';
import { judgeClock } from './checks/clock.js';
import { judge, parseToolVersion } from './checks/media-tools.js';
import { uiCheck } from './checks/ui.js';

describe('runChecks', () => {
  it('reports a check that throws as failed, masks credentials, and runs the rest', async () => {
    const checks: Check[] = [
      {
        id: 'camera',
        title: 'camera',
        run: async () => {
          throw new Error('cannot open rtsp://admin:hunter2@10.0.0.2/stream');
        },
      },
      { id: 'ui', title: 'owner page', run: async () => ({ status: 'ok', detail: 'fine' }) },
    ];
    const report = await runChecks(checks, { timeoutMs: 5000 });
    expect(report.ok).toBe(false);
    expect(report.checks[0]).toMatchObject({
      status: 'fail',
      detail: 'cannot open rtsp://***@10.0.0.2/stream',
    });
    expect(report.checks[1]?.status).toBe('ok');
    expect(formatReport(report)).toMatch(/^FAIL {2}camera {6}cannot open/);
  });

  it('passes with warnings and says how many', async () => {
    const report = await runChecks(
      [
        {
          id: 'clock',
          title: 'clock',
          run: async () => ({ status: 'warn', detail: 'unknown', fix: 'look' }),
        },
      ],
      { timeoutMs: 5000 },
    );
    expect(report.ok).toBe(true);
    expect(formatReport(report)).toBe(
      'warn  clock  unknown\n             fix: look\nall checks passed (1 warning)',
    );
  });

  it('names a check that outlives its deadline', async () => {
    const report = await runChecks(
      [
        {
          id: 'broker',
          title: 'broker',
          run: (signal) =>
            new Promise((_, reject) =>
              signal.addEventListener('abort', () => reject(signal.reason)),
            ),
        },
      ],
      { timeoutMs: 50 },
    );
    expect(report.checks[0]).toMatchObject({
      status: 'fail',
      detail: 'did not finish within 0.05 s',
    });
  });
});

describe('media tool versions', () => {
  it('reads Debian, release and git version lines', () => {
    expect(parseToolVersion('ffmpeg version 5.1.9-0+deb12u1 Copyright (c) 2000-2026')).toEqual([
      5, 1,
    ]);
    expect(parseToolVersion('ffprobe version n6.1.1 Copyright')).toEqual([6, 1]);
    expect(parseToolVersion('ffmpeg version N-112233-gdeadbeef Copyright')).toBeNull();
    expect(judge('ffmpeg', 'ffmpeg version N-1-gabc').status).toBe('warn');
    expect(judge('ffmpeg', 'ffmpeg version 4.4.2-0ubuntu0.22.04.1').status).toBe('ok');
    expect(judge('ffmpeg', 'ffmpeg version 4.3.6').status).toBe('fail');
  });
});

describe('judgeClock', () => {
  const now = Date.parse('2026-03-01T12:00:00Z');
  it('fails a clock behind the saved floor before anything else', () => {
    const finding = judgeClock(
      { synchronized: true, via: 'timedatectl' },
      { floor: now + 3600_000, behind: true },
      now,
    );
    expect(finding.status).toBe('fail');
    expect(finding.detail).toContain('before 2026-03-01T13:00:00Z');
  });
  it('shows the floor beside a synchronised clock', () => {
    expect(
      judgeClock(
        { synchronized: true, via: 'adjtimex' },
        { floor: now - 1000, behind: false },
        now,
      ),
    ).toEqual({
      status: 'ok',
      detail: 'synchronised (adjtimex); saved time floor 2026-03-01T11:59:59Z',
    });
  });
});

describe('uiCheck', () => {
  it('accepts loopback in its forms, and TLS anywhere', async () => {
    const signal = AbortSignal.timeout(1000);
    for (const listen of ['127.0.0.1:8470', 'localhost:8470', '[::1]:8470']) {
      expect((await uiCheck(listen, false).run(signal)).status).toBe('ok');
    }
    expect((await uiCheck('192.168.1.5:8470', true).run(signal)).status).toBe('ok');
    expect((await uiCheck('192.168.1.5:8470', false).run(signal)).status).toBe('fail');
  });
});
