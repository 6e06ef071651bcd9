import type { Command } from 'commander';
import { z } from 'zod';
import { DeviceKeys } from '../../crypto/device-keys.js';
import { ThresholdError, UserError } from '../../errors.js';
import { type CustodyProof, makeCustodyProof } from '../../seal/custody-proof.js';
import { type CliContext, withConfigOption } from '../context.js';

/**
 * `threshold custody prove`: the owner's proof that the custody record of a request came
 * from this device (see agent/seal/custody-proof.ts for what it proves and reveals).
 */
export function registerCustody(program: Command, ctx: CliContext): void {
  const custody = program
    .command('custody')
    .description('chain-of-custody records of the clips you shared');
  withConfigOption(
    custody
      .command('prove')
      .description(
        'print a proof that this device signed the custody records of a request (give it only to whom you choose)',
      ),
  )
    .requiredOption('--request-id <id>', 'the request whose records you want to claim')
    .option(
      '--challenge <text>',
      'a value the verifier asked you to include (makes the proof fresh)',
    )
    .option('--json', 'print the proof as JSON (a file threshold-agency open --proof reads)')
    .action(async (raw: unknown) => {
      const flags = parseFlags(raw);
      const config = await ctx.config(flags.config);
      const keys = await loadKeys(config.dataDir);
      const proof = makeCustodyProof(keys, flags.requestId, flags.challenge);
      ctx.out(flags.json ? JSON.stringify(proof, null, 2) : describeProof(proof));
    });
}

const flagsSchema = z.object({
  config: z.string().min(1),
  requestId: z.string().regex(/^[A-Za-z0-9_-]{22}$/),
  challenge: z.string().min(1).max(256).optional(),
  json: z.boolean().optional(),
});

function parseFlags(raw: unknown): z.infer<typeof flagsSchema> {
  const parsed = flagsSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const key = String(parsed.error.issues[0]?.path[0] ?? '');
  const flag = { requestId: '--request-id', challenge: '--challenge' }[key] ?? `--${key}`;
  const hint = key === 'requestId' ? ' (22 characters of base64url)' : '';
  throw new UserError('bad_flag', `${flag}: not a valid value${hint}`);
}

async function loadKeys(dataDir: string): Promise<DeviceKeys> {
  try {
    return await DeviceKeys.loadExisting(dataDir);
  } catch (err) {
    if (err instanceof ThresholdError && err.code === 'key_missing') {
      throw new UserError('no_device_secret', 'this device has no device secret: it never shared');
    }
    throw err;
  }
}

function describeProof(proof: CustodyProof): string {
  return [
    `request id:   ${proof.requestId}`,
    `custody key:  ${proof.custodyKey}  (the key in that request's custody records)`,
    `device key:   ${proof.deviceKey}  (the same in every proof this device gives)`,
    ...(proof.challenge === undefined ? [] : [`challenge:    ${proof.challenge}`]),
    `proof:        ${JSON.stringify(proof.proof)}`,
  ].join('\n');
}
