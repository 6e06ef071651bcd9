import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { parseConfig } from '../../config/load.js';
import { errorMessage } from '../../errors.js';
import type { CliContext } from '../context.js';
import { DemoAgency } from '../demo-agency.js';
import { parseFlags, secondsFlag, textFlag } from '../flags.js';
import { runAgent } from './run.js';

const LOCATION = { lat: 52.3702, lon: 4.8952 };

const demoFlags = z.object({
  dataDir: textFlag,
  duration: secondsFlag.optional(),
  requestAfter: secondsFlag,
});

/** The demo's config: an emulated 1080p camera with scripted motion, everything local. */
export function demoConfig(dataDir: string, rootPublicKey: string, uploadCa: string) {
  return {
    dataDir,
    device: { location: LOCATION },
    camera: { source: 'emulated', width: 1920, height: 1080, fps: 25, motion: '10-15,40-45' },
    retention: { bufferMinutes: 30, maxBytes: 2_000_000_000 },
    mqtt: { url: 'embedded' },
    trust: { roots: [{ name: 'Demo trust root', publicKey: rootPublicKey }], threshold: 1 },
    upload: { ca: uploadCa },
    // A free port: the demo prints where its page is (a fixed one may be taken).
    ui: { listen: '127.0.0.1:0' },
  };
}

export function registerDemo(program: Command, ctx: CliContext): void {
  program
    .command('demo')
    .description(
      'run the agent on embedded defaults: an emulated camera, an in-process MQTT broker, and a demo agency that asks for footage and receives what you share',
    )
    .option(
      '--data-dir <dir>',
      'where the demo keeps its footage, database and keys',
      '.threshold-demo',
    )
    .option('--duration <seconds>', 'stop by itself after this many seconds')
    .option('--request-after <seconds>', 'when the demo agency asks for footage', '30')
    .action(async (flags: unknown) => {
      const options = parseFlags(demoFlags, flags);
      const dataDir = resolve(options.dataDir);
      await mkdir(dataDir, { recursive: true, mode: 0o700 });
      const agency = await DemoAgency.prepare(dataDir);
      const raw = demoConfig(dataDir, await agency.rootPublicKey(), agency.caFile);
      const configPath = join(dataDir, 'config.json');
      await writeFile(configPath, `${JSON.stringify(raw, null, 2)}\n`, { mode: 0o600 });
      const config = parseConfig(JSON.stringify(raw), dataDir);
      const log = ctx.logger(config.log.level);
      const cli = 'npx threshold';
      const withConfig = `--config ${configPath}`;
      const uploadUrl = await agency.startReceiver((event) => {
        if (event.event === 'clip') {
          ctx.out(
            `\nThe demo agency received clip ${String(event.clipIndex)} of ${String(event.requestId)}, opened it and verified its custody record:\n  ${String(event.path)}\n  ${String(event.custodyPath)}`,
          );
        } else if (event.event === 'quarantined') {
          ctx.out(`\nThe demo agency refused an upload: ${String(event.message)}`);
        }
      });
      const afterMs = options.requestAfter * 1000;
      ctx.out(
        [
          `Threshold demo: an emulated 1080p camera recorded into ${dataDir}`,
          `  ${cli} status   ${withConfig}`,
          `  ${cli} requests ${withConfig}   (a demo agency asks for footage after ${options.requestAfter} s)`,
          `  ${cli} audit    ${withConfig}`,
          'Press Ctrl-C to stop.',
        ].join('\n'),
      );
      try {
        process.exitCode = await runAgent(config, log, options.duration, {
          embeddedBrokerPort: 0,
          onStarted: (agent, signal) => {
            const page = agent.page.url;
            if (page) {
              ctx.out(
                `The owner's page (requests, sharing, live view): ${page}\n  pair a browser with it:  ${cli} pair ${withConfig}`,
              );
            }
            const timer = setTimeout(() => {
              const url = agent.requests.embeddedUrl;
              if (!url) return;
              const end = Date.now();
              agency
                .publishRequest(url, LOCATION, { start: end - afterMs, end }, uploadUrl)
                .then((id) =>
                  ctx.out(
                    [
                      `\nThe demo agency sent a signed request (${id}).`,
                      `See the clips it would get (nothing is sent):  ${cli} clips ${withConfig} ${id}`,
                      `Share them, sealed to the agency:               ${cli} share ${withConfig} ${id} --wait`,
                      `Or decline (nothing is sent):                   ${cli} decline ${withConfig} ${id}`,
                    ].join('\n'),
                  ),
                )
                .catch((err) =>
                  log.error({ err: errorMessage(err) }, 'the demo agency could not publish'),
                );
            }, afterMs);
            signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
          },
        });
      } finally {
        agency.stopReceiver();
      }
    });
}
