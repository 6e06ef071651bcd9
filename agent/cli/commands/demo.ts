import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { parseConfig } from '../../config/load.js';
import type { CliContext } from '../context.js';
import { runAgent } from './run.js';

/** The demo's config: an emulated 1080p camera with scripted motion, everything local. */
export function demoConfig(dataDir: string) {
  return {
    dataDir,
    device: { location: { lat: 52.3702, lon: 4.8952 } },
    camera: { source: 'emulated', width: 1920, height: 1080, fps: 25, motion: '15-20,45-50' },
    retention: { bufferMinutes: 30, maxBytes: 2_000_000_000 },
  };
}

export function registerDemo(program: Command, ctx: CliContext): void {
  program
    .command('demo')
    .description('run the agent on embedded defaults: an emulated camera, data in ./.threshold-demo')
    .option('--data-dir <dir>', 'where the demo keeps its footage and database', '.threshold-demo')
    .option('--duration <seconds>', 'stop by itself after this many seconds')
    .action(async (options: { dataDir: string; duration?: string }) => {
      const dataDir = resolve(options.dataDir);
      await mkdir(dataDir, { recursive: true, mode: 0o700 });
      const configPath = join(dataDir, 'config.json');
      await writeFile(configPath, `${JSON.stringify(demoConfig(dataDir), null, 2)}\n`);
      const config = parseConfig(JSON.stringify(demoConfig(dataDir)), dataDir);
      ctx.out(
        [
          `Threshold demo: recording an emulated 1080p camera into ${dataDir}`,
          `  config:   ${configPath}`,
          `  status:   npx threshold status --config ${configPath}`,
          `  footage:  npx threshold segments --config ${configPath} --from <ISO> --to <ISO>`,
          'Press Ctrl-C to stop.',
        ].join('\n'),
      );
      const duration = options.duration === undefined ? undefined : Number(options.duration);
      process.exitCode = await runAgent(config, ctx.logger(config.log.level), duration);
    });
}
