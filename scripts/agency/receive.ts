import type { Command } from 'commander';
import { z } from 'zod';
import { UserError } from '../../agent/errors.js';
import { createLogger } from '../../agent/log.js';
import { numberFlag } from './flags.js';
import type { AgencyContext } from './main.js';
import type { ReceiverEvent } from './receive-events.js';
import { DEFAULT_MAX_BYTES, startReceiver } from './receive-server.js';

/**
 * `threshold-agency receive`: runs the agency's tus receiver until SIGTERM or SIGINT.
 * Each delivered clip prints one line: JSON with `--json`, else a sentence. Logs go to
 * stderr.
 */

const flagsSchema = z.object({
  key: z.string().min(1),
  listen: z.string().regex(/^(\[[0-9a-fA-F:]+\]|[^\s:[\]]+):\d{1,5}$/, {
    message: 'must be HOST:PORT',
  }),
  tlsCert: z.string().min(1),
  tlsKey: z.string().min(1),
  out: z.string().min(1),
  maxBytes: z.string().optional(),
  json: z.boolean().optional(),
});

export function registerReceive(program: Command, ctx: AgencyContext): void {
  program
    .command('receive')
    .description('receive uploads for this agency’s requests, verify them, and write the clips')
    .requiredOption('--key <dir>', 'the agency key directory (box.key, requests.ledger)')
    .requiredOption('--listen <host:port>', 'address to listen on, e.g. 127.0.0.1:8443')
    .requiredOption('--tls-cert <file>', 'PEM certificate (chain) of the server')
    .requiredOption('--tls-key <file>', 'PEM private key of the server')
    .requiredOption('--out <dir>', 'where uploads, clips and the quarantine are kept')
    .option('--max-bytes <n>', `largest upload accepted (default ${DEFAULT_MAX_BYTES})`)
    .option('--json', 'print one JSON line per event')
    .action(async (raw: unknown) => {
      const parsed = flagsSchema.safeParse(raw);
      if (!parsed.success) {
        const flag = parsed.error.issues[0]?.path[0];
        throw new UserError('bad_flag', `--${kebab(String(flag ?? 'listen'))}: invalid value`);
      }
      const flags = parsed.data;
      const separator = flags.listen.lastIndexOf(':');
      const host = flags.listen.slice(0, separator).replace(/^\[(.*)\]$/, '$1');
      const port = numberFlag('--listen', flags.listen.slice(separator + 1), {
        integer: true,
        min: 0,
        max: 65_535,
      });
      const maxBytes = flags.maxBytes
        ? numberFlag('--max-bytes', flags.maxBytes, { integer: true, positive: true })
        : DEFAULT_MAX_BYTES;
      const print = (event: ReceiverEvent | { event: 'listening'; endpoint: string }) =>
        ctx.out(flags.json ? JSON.stringify(event) : describe(event));
      const stopping = new AbortController();
      const onSignal = () => stopping.abort();
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
      try {
        const receiver = await startReceiver({
          keyDir: flags.key,
          outDir: flags.out,
          host,
          port,
          tlsCert: flags.tlsCert,
          tlsKey: flags.tlsKey,
          maxBytes,
          log: createLogger(),
          onEvent: print,
        });
        print({ event: 'listening', endpoint: receiver.endpoint });
        await new Promise<void>((resolve) =>
          stopping.signal.addEventListener('abort', () => resolve(), { once: true }),
        );
        await receiver.stop();
      } finally {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
      }
    });
}

function describe(event: ReceiverEvent | { event: 'listening'; endpoint: string }): string {
  switch (event.event) {
    case 'listening':
      return `receiving at ${event.endpoint}`;
    case 'clip':
      return `clip ${event.clipIndex} of ${event.requestId}: ${event.path} (${event.bytes} bytes, sha256 ${event.sha256}), custody signed by ${event.custody.custodyKey}`;
    case 'quarantined':
      return `clip ${event.clipIndex} of ${event.requestId} quarantined (${event.reason}): ${event.path}`;
    case 'duplicate':
      return `clip ${event.clipIndex} of ${event.requestId}: a duplicate ${event.kind} upload, dropped`;
  }
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
