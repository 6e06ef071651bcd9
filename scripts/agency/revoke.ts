import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { UserError } from '../../agent/errors.js';
import { buildRevocations } from '../../agent/requests/build.js';
import {
  AGENCY_ID,
  isCanonicalBase64,
  MAX_ENVELOPE_BYTES,
  REVOCATION_TOPIC,
} from '../../agent/requests/protocol.js';
import { collect, listFlag, mqttUrlFlag, numberFlag, patternFlag } from './flags.js';
import { readSigningKey } from './keys.js';
import type { AgencyContext } from './main.js';
import { publishAll } from './publish.js';

interface RevokeOptions {
  root: string[];
  agencyId: string[];
  signingKey: string[];
  version: string;
  publish?: string;
  out?: string;
  ca?: string;
}

export function registerRevoke(program: Command, ctx: AgencyContext): void {
  program
    .command('revoke')
    .description(
      'as trust roots, sign a revocation list and publish it, retained, on the trust topic',
    )
    .requiredOption('--root <keydir>', 'a trust root key directory (repeat for each root)', collect)
    .option(
      '--agency-id <id>',
      'an agency to revoke (repeat, or separate with commas)',
      collect,
      [],
    )
    .option('--signing-key <base64>', 'an agency signing key to revoke (repeat)', collect, [])
    .requiredOption('--version <n>', 'the list version; devices keep the highest they have seen')
    .option('--publish <mqtt-url>', 'publish to this broker (QoS 1, retained)')
    .option('--out <file>', 'write the signed list here instead of publishing')
    .option('--ca <file>', 'PEM CA file for an mqtts:// broker')
    .action(async (options: RevokeOptions) => {
      if (Boolean(options.publish) === Boolean(options.out)) {
        throw new UserError('bad_flag', '--publish/--out: give exactly one of them');
      }
      // The list replaces the previous one, so naming nobody un-revokes everyone.
      const agencyIds = listFlag(options.agencyId).map((id) =>
        patternFlag('--agency-id', id, AGENCY_ID, '1-64 of [A-Za-z0-9._-]'),
      );
      const signingKeys = listFlag(options.signingKey).map((key) => {
        if (!isCanonicalBase64(key, 32)) {
          throw new UserError('bad_flag', '--signing-key: must be base64 of a 32-byte key');
        }
        return key;
      });
      const version = numberFlag('--version', options.version, {
        integer: true,
        min: 1,
        max: Number.MAX_SAFE_INTEGER,
      });
      const publishUrl = options.publish ? mqttUrlFlag('--publish', options.publish) : undefined;
      const rootSecretKeys: Uint8Array[] = [];
      for (const dir of options.root) rootSecretKeys.push(await readSigningKey(dir, '--root'));
      const envelope = buildRevocations({
        rootSecretKeys,
        version,
        agencyIds,
        signingKeys,
        issuedAt: ctx.now(),
      });
      const payload = Buffer.from(JSON.stringify(envelope), 'utf8');
      // Devices take MQTT packets of about 16 KiB (they advertise that maximum), so a
      // broker drops a larger list without a word: refuse it here instead.
      if (payload.length > MAX_ENVELOPE_BYTES) {
        throw new UserError(
          'bad_flag',
          `--agency-id/--signing-key: the signed list is ${payload.length} bytes, over the ${MAX_ENVELOPE_BYTES}-byte limit devices accept`,
        );
      }
      if (publishUrl) {
        await publishAll({ url: publishUrl, ...(options.ca ? { caFile: options.ca } : {}) }, [
          { topic: REVOCATION_TOPIC, payload, retain: true },
        ]);
        ctx.out(`revocation list version ${version} published (retained) to ${REVOCATION_TOPIC}`);
      } else if (options.out) {
        await writeFile(options.out, payload);
        ctx.out(`revocation list version ${version} written to ${options.out}`);
      }
    });
}
