import type { Command } from 'commander';
import { generateKeyDir } from './keys.js';
import type { AgencyContext } from './main.js';

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

export function registerKeygen(program: Command, ctx: AgencyContext): void {
  program
    .command('keygen')
    .description('make an Ed25519 signing pair and an X25519 box pair in a new key directory')
    .requiredOption(
      '--out <dir>',
      'the key directory (files signing.key, signing.pub, box.key, box.pub)',
    )
    .action(async (options: { out: string }) => {
      const keys = await generateKeyDir(options.out);
      ctx.out(`signing public key: ${b64(keys.signingPublicKey)}`);
      ctx.out(`box public key:     ${b64(keys.boxPublicKey)}`);
    });
}
