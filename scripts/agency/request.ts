import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { DsseEnvelope } from '../../agent/crypto/dsse.js';
import { UserError } from '../../agent/errors.js';
import { buildRequest, requestTopics } from '../../agent/requests/build.js';
import {
  DELEGATION_PAYLOAD_TYPE,
  delegationPayloadSchema,
  INVESTIGATION_CODE,
  MAX_AREA_RADIUS_M,
  MAX_ENVELOPE_BYTES,
  parseJsonBytes,
  signedStatementSchema,
} from '../../agent/requests/protocol.js';
import { systemErrorText } from '../../agent/system-error.js';
import {
  durationFlag,
  httpsUrlFlag,
  isoFlag,
  mqttUrlFlag,
  numberFlag,
  patternFlag,
  textFlag,
} from './flags.js';
import { readBoxPublicKey, readSigningKey } from './keys.js';
import type { AgencyContext } from './main.js';
import { publishAll } from './publish.js';
import { recordSignedRequest } from './request-ledger.js';

interface RequestOptions {
  agency: string;
  delegation: string;
  lat: string;
  lon: string;
  radiusM: string;
  from: string;
  to: string;
  code: string;
  title: string;
  description: string;
  uploadUrl: string;
  expiresIn: string;
  contactName?: string;
  contactPhone?: string;
  contactEmail?: string;
  publish?: string;
  out?: string;
  ca?: string;
  json?: boolean;
}

export function registerRequest(program: Command, ctx: AgencyContext): void {
  program
    .command('request')
    .description('sign a community request and publish it (or write it to a file)')
    .requiredOption(
      '--agency <keydir>',
      "the agency's key directory (signs; its box.pub receives footage)",
    )
    .requiredOption('--delegation <file>', "the agency's delegation, from `delegate`")
    .requiredOption('--lat <deg>', 'latitude of the area centre')
    .requiredOption('--lon <deg>', 'longitude of the area centre')
    .requiredOption('--radius-m <n>', 'radius of the area, metres')
    .requiredOption('--from <iso>', 'start of the footage window, ISO-8601 UTC')
    .requiredOption('--to <iso>', 'end of the footage window, ISO-8601 UTC')
    .requiredOption('--code <code>', 'investigation code, 1-64 of [A-Za-z0-9._/-]')
    .requiredOption('--title <text>', 'title shown to owners (at most 120 characters)')
    .requiredOption('--description <text>', 'description shown to owners (at most 2000 characters)')
    .requiredOption('--upload-url <url>', 'the agency tus upload endpoint (https)')
    .option('--expires-in <duration>', 'how long the request stays open, e.g. 72h', '72h')
    .option('--contact-name <name>', 'a contact name shown to owners')
    .option('--contact-phone <phone>', 'a contact phone number shown to owners')
    .option('--contact-email <email>', 'a contact e-mail address shown to owners')
    .option('--publish <mqtt-url>', 'publish to this broker (QoS 1, not retained)')
    .option('--out <file>', 'write the signed message here instead of publishing')
    .option('--ca <file>', 'PEM CA file for an mqtts:// broker')
    .option('--json', 'print {"id", "topics"} as JSON')
    .action(async (options: RequestOptions) => {
      if (Boolean(options.publish) === Boolean(options.out)) {
        throw new UserError('bad_flag', '--publish/--out: give exactly one of them');
      }
      const area = {
        lat: numberFlag('--lat', options.lat, { min: -90, max: 90 }),
        lon: numberFlag('--lon', options.lon, { min: -180, max: 180 }),
        radiusM: numberFlag('--radius-m', options.radiusM, {
          positive: true,
          max: MAX_AREA_RADIUS_M,
        }),
      };
      const window = { start: isoFlag('--from', options.from), end: isoFlag('--to', options.to) };
      if (window.end <= window.start) throw new UserError('bad_flag', '--to: must be after --from');
      const issuedAt = ctx.now();
      const expiresAt = issuedAt + durationFlag('--expires-in', options.expiresIn);
      const contact = {
        ...(options.contactName
          ? { name: textFlag('--contact-name', options.contactName, 120) }
          : {}),
        ...(options.contactPhone
          ? {
              phone: patternFlag(
                '--contact-phone',
                options.contactPhone,
                /^[0-9+() .-]{3,40}$/,
                'a phone number',
              ),
            }
          : {}),
        ...(options.contactEmail
          ? {
              email: patternFlag(
                '--contact-email',
                options.contactEmail,
                /^[^\s@]+@[^\s@]+$/,
                'an e-mail address',
              ),
            }
          : {}),
      };
      const publishUrl = options.publish ? mqttUrlFlag('--publish', options.publish) : undefined;
      const built = buildRequest({
        agencySecretKey: await readSigningKey(options.agency, '--agency'),
        delegation: await readDelegation(options.delegation),
        agencyId: await delegatedAgencyId(options.delegation),
        investigationCode: patternFlag(
          '--code',
          options.code,
          INVESTIGATION_CODE,
          '1-64 of [A-Za-z0-9._/-]',
        ),
        title: textFlag('--title', options.title, 120),
        description: textFlag('--description', options.description, 2000),
        area,
        window,
        issuedAt,
        expiresAt,
        recipientBoxPublicKey: await readBoxPublicKey(options.agency, '--agency'),
        uploadUrl: httpsUrlFlag('--upload-url', options.uploadUrl),
        ...(Object.keys(contact).length > 0 ? { contact } : {}),
      });
      if (built.bytes.length > MAX_ENVELOPE_BYTES) {
        throw new UserError(
          'bad_flag',
          `--description: the signed request is ${built.bytes.length} bytes, over the ${MAX_ENVELOPE_BYTES}-byte limit`,
        );
      }
      const topics = requestTopics(area);
      // In the ledger before anyone can see it: the receiver takes uploads for these ids only.
      await recordSignedRequest(options.agency, {
        id: built.id,
        payload: Buffer.from(built.envelope.payload, 'base64'),
        signedAt: issuedAt,
      });
      if (publishUrl) {
        await publishAll(
          { url: publishUrl, ...(options.ca ? { caFile: options.ca } : {}) },
          topics.map((topic) => ({ topic, payload: built.bytes, retain: false })),
        );
      } else if (options.out) {
        await writeFile(options.out, built.bytes);
      }
      if (options.json) {
        ctx.out(JSON.stringify({ id: built.id, topics }));
        return;
      }
      ctx.out(`request id: ${built.id}`);
      for (const topic of topics) ctx.out(`${publishUrl ? 'published to' : 'for topic'}: ${topic}`);
      if (options.out) ctx.out(`written to: ${options.out}`);
    });
}

/** Reads a delegation file: a DSSE envelope of the delegation type. */
export async function readDelegation(path: string): Promise<DsseEnvelope> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UserError('bad_flag', `--delegation: cannot read ${path} (${systemErrorText(err)})`);
  }
  const parsed = signedStatementSchema.safeParse(parseJsonBytes(Buffer.from(text, 'utf8')));
  if (!parsed.success || parsed.data.payloadType !== DELEGATION_PAYLOAD_TYPE) {
    throw new UserError('bad_flag', `--delegation: ${path} is not a delegation envelope`);
  }
  return parsed.data;
}

/** The agency id inside a delegation file (the request must carry the same one). */
async function delegatedAgencyId(path: string): Promise<string> {
  const envelope = await readDelegation(path);
  const payload = delegationPayloadSchema.safeParse(
    parseJsonBytes(Buffer.from(envelope.payload, 'base64')),
  );
  if (!payload.success) {
    throw new UserError('bad_flag', `--delegation: ${path} does not hold a valid delegation`);
  }
  return payload.data.agencyId;
}
