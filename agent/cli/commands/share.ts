import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { z } from 'zod';
import { type DeviceParts, withDeviceParts } from '../../compose.js';
import { UserError } from '../../errors.js';
import { delay } from '../../lifecycle.js';
import type { ShareChoice, ShareJob, SharePlan } from '../../share/types.js';
import { type CliContext, parseIsoFlag, parseRequestId, withConfigOption } from '../context.js';
import { iso } from '../format.js';
import { listUpload, progressText } from './uploads.js';

interface ShareFlags {
  config: string;
  clip: string[];
  range: string[];
  exact?: boolean;
  audio?: boolean;
  yes?: boolean;
  wait?: boolean;
  json?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];
const clipIndex = z.coerce.number().int().min(0).max(10_000);

export function registerShare(program: Command, ctx: CliContext): void {
  withConfigOption(
    program
      .command('share')
      .description(
        "approve a pending request: its clips are cut, sealed to the agency's key and uploaded by the running agent",
      )
      .argument('<id>', 'the request id, as `threshold requests` lists it')
      .option(
        '--clip <n>',
        'share this offered clip (repeatable; see `threshold clips`)',
        collect,
        [],
      )
      .option(
        '--range <from/to>',
        'share this range inside the window, ISO-8601 UTC FROM/TO (repeatable)',
        collect,
        [],
      )
      .option('--exact', 'no frame outside the range (re-encodes the edges; slower)')
      .option('--audio', 'include the audio (left out unless you say so)')
      .option('--yes', 'do not ask for confirmation')
      .option('--wait', 'show progress until the agency has every clip')
      .option('--json', 'print the plan and then the jobs as JSON'),
  ).action(async (id: string, flags: ShareFlags) => {
    const requestId = parseRequestId(id);
    const choice = parseChoice(flags);
    const config = await ctx.config(flags.config);
    const log = ctx.logger(config.log.level);
    await withDeviceParts(config, { log }, async (parts) => {
      const plan = await parts.consent.plan(requestId, choice);
      if (!flags.yes) await confirm(plan);
      const shared = await parts.consent.share(requestId, choice);
      if (flags.json) ctx.out(JSON.stringify(planJson(shared)));
      else {
        ctx.out(
          `shared ${describe(shared)}; the running agent cuts, seals and uploads ${shared.clips.length === 1 ? 'it' : 'them'} (\`threshold uploads\` shows progress)`,
        );
      }
      if (flags.wait) await waitForUploads(parts, requestId, ctx, Boolean(flags.json));
    });
  });
}

function parseChoice(flags: ShareFlags): ShareChoice {
  const clips = flags.clip.map((value) => {
    const parsed = clipIndex.safeParse(value);
    if (!parsed.success) throw new UserError('bad_flag', `--clip: ${value} is not a clip number`);
    return { index: parsed.data };
  });
  const ranges = flags.range.map((value) => {
    const [from, to, extra] = value.split('/');
    if (from === undefined || to === undefined || extra !== undefined) {
      throw new UserError('bad_flag', '--range: give FROM/TO, two ISO-8601 times with a zone');
    }
    const start = parseIsoFlag('--range', from);
    const end = parseIsoFlag('--range', to);
    if (end <= start) throw new UserError('bad_flag', '--range: TO must be after FROM');
    return { start, end };
  });
  return { clips, ranges, mode: flags.exact ? 'exact' : 'fast', audio: Boolean(flags.audio) };
}

/** Asks on the terminal; without one, sharing needs `--yes`. */
async function confirm(plan: SharePlan): Promise<void> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw new UserError('confirmation_needed', 'no terminal to confirm on: add --yes to share');
  }
  const lines = [
    `To:        ${plan.agencyName} (investigation ${plan.investigationCode})`,
    `Upload to: ${new URL(plan.uploadUrl).host}, sealed so only the agency can open it`,
    ...plan.clips.map(
      (clip) =>
        `Clip ${clip.clipIndex}:    ${iso(clip.start)} – ${iso(clip.end)} (${seconds(clip.end - clip.start)})`,
    ),
    `In all:    ${plan.clips.length} clip${plan.clips.length === 1 ? '' : 's'}, ${seconds(plan.totalMs)}, audio ${plan.audio ? 'ON' : 'off'}, ${plan.mode === 'exact' ? 'exact cut' : 'fast cut'}`,
  ];
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await rl.question(`${lines.join('\n')}\nSend this footage? [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) {
      throw new UserError('not_confirmed', 'nothing shared (not confirmed)');
    }
  } finally {
    rl.close();
  }
}

/** Polls the jobs until each is uploaded or failed; progress on stderr. */
async function waitForUploads(
  parts: DeviceParts,
  requestId: string,
  ctx: CliContext,
  json: boolean,
): Promise<void> {
  let last = '';
  let lastChange = Date.now();
  let warned = false;
  for (;;) {
    const jobs = await parts.consent.jobs({ requestId });
    const line = jobs.map((job) => `clip ${job.clipIndex}: ${stateText(job)}`).join(', ');
    if (line !== last) {
      process.stderr.write(process.stderr.isTTY ? `\r\x1b[K${line}` : `${line}\n`);
      last = line;
      lastChange = Date.now();
    } else if (!warned && Date.now() - lastChange > 30_000) {
      process.stderr.write(
        '\nnothing has moved for 30 s: is the agent running (`threshold status`)?\n',
      );
      warned = true;
    }
    if (jobs.every((job) => job.state === 'uploaded' || job.state === 'failed')) {
      if (process.stderr.isTTY) process.stderr.write('\n');
      if (json) ctx.out(JSON.stringify(jobs.map(listUpload)));
      const failed = jobs.filter((job) => job.state === 'failed');
      if (failed.length > 0) {
        throw new UserError(
          'upload_failed',
          `${failed.length} clip${failed.length === 1 ? '' : 's'} failed: ${failed[0]?.failure ?? ''}`,
        );
      }
      if (!json) ctx.out(`the agency has every clip (${jobs.length})`);
      return;
    }
    await delay(500);
  }
}

function stateText(job: ShareJob): string {
  if (job.state === 'uploading' || job.state === 'sealed') {
    return `${progressText(job)}${job.attempts > 0 ? `, ${job.attempts} retries (${job.lastError ?? ''})` : ''}`;
  }
  return job.state === 'failed' ? `failed: ${job.failure ?? ''}` : job.state;
}

function describe(plan: SharePlan): string {
  return `${plan.clips.length} clip${plan.clips.length === 1 ? '' : 's'} (${seconds(plan.totalMs)}, audio ${plan.audio ? 'on' : 'off'}) with ${plan.agencyName}`;
}

function planJson(plan: SharePlan) {
  return {
    ...plan,
    clips: plan.clips.map((clip) => ({ ...clip, start: iso(clip.start), end: iso(clip.end) })),
  };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
