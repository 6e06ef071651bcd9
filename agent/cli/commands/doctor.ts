import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { discoverOnvif, OnvifSession, withCredentials } from '../../../hal/linux/onvif/client.js';
import { parseConfig } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import { formatReport, runChecks } from '../../doctor/check.js';
import { readClockSync } from '../../doctor/checks/clock.js';
import { doctorChecks } from '../../doctor/doctor.js';
import { readTimeFloor } from '../../doctor/time-floor.js';
import { ConfigError } from '../../errors.js';
import { checkBrokerConnection } from '../../mqtt/connection-check.js';
import { probeStream } from '../../provision/stream-probe.js';
import { agentAccount } from '../../provision/system-user.js';
import { type CliContext, parseSecondsFlag, withConfigOption } from '../context.js';

export function registerDoctor(program: Command, ctx: CliContext): void {
  withConfigOption(
    program
      .command('doctor')
      .description('check this device and say how to fix each problem (exit 1 if any check fails)')
      .option('--json', 'print JSON')
      .option(
        '--user <name>',
        'the account the agent runs as (default: threshold when run as root)',
      )
      .option('--probe-seconds <s>', 'how much of the camera’s stream to read', '10')
      .option(
        '--timeout-seconds <s>',
        'how long the camera and the broker may take to answer',
        '10',
      ),
  ).action(
    async (options: {
      config: string;
      json?: boolean;
      user?: string;
      probeSeconds: string;
      timeoutSeconds: string;
    }) => {
      const config = await readConfig(options.config);
      const account = await agentAccount(options.user);
      const timeoutMs = parseSecondsFlag('--timeout-seconds', options.timeoutSeconds) * 1000;
      const probeSeconds = parseSecondsFlag('--probe-seconds', options.probeSeconds);
      const checks = doctorChecks(
        { config, configPath: resolve(options.config), account },
        {
          onvif: {
            discover: (o) => discoverOnvif(o),
            connect: (o) => OnvifSession.connect(o),
            withCredentials,
          },
          probe: (url, o) => probeStream(url, { ...o, ffprobePath: config.ffmpeg.ffprobePath }),
          probeSeconds,
          connectTimeoutMs: timeoutMs,
          checkBroker: checkBrokerConnection,
          readSync: (signal) => readClockSync(signal),
          readFloor: () => readTimeFloor(config),
        },
      );
      // Each check gets its own deadline: the stream probe reads for probeSeconds.
      const report = await runChecks(checks, { timeoutMs: probeSeconds * 1000 + 3 * timeoutMs });
      ctx.out(options.json ? JSON.stringify(report, null, 2) : formatReport(report));
      if (!report.ok) process.exitCode = 1;
    },
  );
}

/**
 * The config, parsed but without creating `dataDir` as `loadConfig` does: whether it
 * exists, and whose it is, is for the checks to say.
 */
async function readConfig(path: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new ConfigError([`(file): cannot read ${path}`]);
  }
  return parseConfig(text, dirname(resolve(path)));
}
