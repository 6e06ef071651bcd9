import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import nacl from 'tweetnacl';
import { UserError } from '../../agent/errors.js';
import { buildDelegation } from '../../agent/requests/build.js';
import {
  AGENCY_ID,
  GEOHASH_PREFIX,
  MAX_AREA_RADIUS_M,
  MAX_DELEGATION_MS,
} from '../../agent/requests/protocol.js';
import { collect, isoFlag, listFlag, numberFlag, patternFlag, textFlag } from './flags.js';
import { readSigningKey, readSigningPublicKey } from './keys.js';
import type { AgencyContext } from './main.js';

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

interface DelegateOptions {
  root: string[];
  agency: string;
  agencyId: string;
  name: string;
  regions: string[];
  maxRadiusM: string;
  maxWindowS: string;
  days: string;
  notBefore?: string;
  out: string;
}

export function registerDelegate(program: Command, ctx: AgencyContext): void {
  program
    .command('delegate')
    .description('as trust roots, sign a delegation that lets an agency make requests')
    .requiredOption('--root <keydir>', 'a trust root key directory (repeat for each root)', collect)
    .requiredOption(
      '--agency <keydir>',
      "the agency's key directory (its signing.pub is delegated)",
    )
    .requiredOption('--agency-id <id>', 'the agency id, 1-64 of [A-Za-z0-9._-]')
    .requiredOption('--name <name>', 'the agency name shown to owners')
    .requiredOption(
      '--regions <geohash,...>',
      'geohash prefixes the agency may request in',
      collect,
    )
    .requiredOption('--max-radius-m <n>', 'the largest request radius, metres')
    .requiredOption('--max-window-s <n>', 'the longest request window, seconds')
    .requiredOption('--days <n>', 'days the delegation is valid (at most 30)')
    .option('--not-before <iso>', 'start of validity (default: now)')
    .requiredOption('--out <file>', 'where to write the delegation (JSON)')
    .action(async (options: DelegateOptions) => {
      const agencyId = patternFlag(
        '--agency-id',
        options.agencyId,
        AGENCY_ID,
        '1-64 of [A-Za-z0-9._-]',
      );
      const name = textFlag('--name', options.name, 120);
      const regions = listFlag(options.regions);
      if (regions.length === 0 || regions.length > 64) {
        throw new UserError('bad_flag', '--regions: give 1 to 64 geohash prefixes');
      }
      for (const region of regions) {
        patternFlag('--regions', region, GEOHASH_PREFIX, 'geohash prefixes of 1-8 characters');
      }
      const maxRadiusM = numberFlag('--max-radius-m', options.maxRadiusM, {
        positive: true,
        max: MAX_AREA_RADIUS_M,
      });
      const maxWindowS = numberFlag('--max-window-s', options.maxWindowS, {
        integer: true,
        positive: true,
        max: 30 * 24 * 3600,
      });
      const days = numberFlag('--days', options.days, {
        positive: true,
        max: MAX_DELEGATION_MS / 86_400_000,
      });
      const notBefore = options.notBefore ? isoFlag('--not-before', options.notBefore) : ctx.now();
      const rootSecretKeys: Uint8Array[] = [];
      for (const dir of options.root) rootSecretKeys.push(await readSigningKey(dir, '--root'));
      const distinct = new Set(rootSecretKeys.map((key) => b64(key.subarray(32))));
      if (distinct.size !== rootSecretKeys.length) {
        throw new UserError('bad_flag', '--root: the same root is given twice');
      }
      const signingKey = await readSigningPublicKey(options.agency, '--agency');
      const envelope = buildDelegation({
        rootSecretKeys,
        agencyId,
        name,
        signingKey,
        regions,
        maxRadiusM,
        maxWindowS,
        notBefore,
        notAfter: notBefore + Math.round(days * 86_400_000),
      });
      await writeFile(options.out, `${JSON.stringify(envelope, null, 2)}\n`);
      ctx.out(
        `delegation for ${agencyId} signed by ${rootSecretKeys.length} root(s), valid until ${new Date(notBefore + Math.round(days * 86_400_000)).toISOString()}: ${options.out}`,
      );
      // The roots' public keys, for the device's trust.roots config.
      for (const key of rootSecretKeys)
        ctx.out(`root public key: ${b64(nacl.sign.keyPair.fromSecretKey(key).publicKey)}`);
    });
}
