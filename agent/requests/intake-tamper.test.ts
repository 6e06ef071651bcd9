import nacl from 'tweetnacl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyIdOf } from '../crypto/dsse.js';
import { createWorld, DEVICE_TOPIC, START, type World } from '../test-support/intake-world.js';
import { REQUEST_PAYLOAD_TYPE } from './protocol.js';

/**
 * Tampering with anything signed — any request field, any delegation field, a signature,
 * the key id — is refused. Every tampered message is built from one valid message that
 * is accepted at the end, so each refusal is due to the tampering alone.
 */

type Json = Record<string, unknown>;
const HOUR = 3600_000;

const decode = (b64: unknown): Json =>
  JSON.parse(Buffer.from(String(b64), 'base64').toString('utf8'));
const encode = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64');

function edit(path: string, value: unknown) {
  return (target: Json) => {
    const keys = path.split('.');
    let node = target;
    for (const key of keys.slice(0, -1)) node = node[key] as Json;
    node[keys.at(-1) ?? ''] = value;
  };
}

describe('tampering', () => {
  let world: World;
  let valid: Buffer;
  let envelope: Json;
  beforeAll(async () => {
    world = await createWorld();
    await world.record(START - 2 * HOUR, START);
    valid = world.request().bytes;
    envelope = JSON.parse(valid.toString('utf8'));
  });
  afterAll(async () => {
    // The untouched message is acceptable: the refusals below come from the tampering.
    expect((await world.intake.handleRequest(DEVICE_TOPIC, valid)).kind).toBe('pending');
    await world.close();
  });

  const send = async (changed: Json) =>
    world.intake.handleRequest(DEVICE_TOPIC, Buffer.from(JSON.stringify(changed)));
  const copy = (): Json => structuredClone(envelope);

  const requestEdits: Record<string, (p: Json) => void> = {
    id: edit('id', Buffer.alloc(16, 7).toString('base64url')),
    investigationCode: edit('investigationCode', 'MPD-2026/0043'),
    title: edit('title', 'Burglary on Oak Street'),
    description: edit('description', 'Anything.'),
    'area.lat': edit('area.lat', 52.5561),
    'area.lon': edit('area.lon', 13.3631),
    'area.radiusM': edit('area.radiusM', 150),
    'window.start': edit('window.start', new Date(START - 2 * HOUR).toISOString()),
    'window.end': edit('window.end', new Date(START - 10 * 60_000).toISOString()),
    issuedAt: edit('issuedAt', new Date(START - 1000).toISOString()),
    expiresAt: edit('expiresAt', new Date(START + 48 * HOUR).toISOString()),
    'recipient.boxPublicKey': edit(
      'recipient.boxPublicKey',
      Buffer.alloc(32, 9).toString('base64'),
    ),
    'upload.url': edit('upload.url', 'https://attacker.example/files/'),
    'contact.phone': edit('contact.phone', '+1 555 0199'),
    'contact removed': (p) => {
      delete p.contact;
    },
    're-serialised with whitespace': () => undefined,
  };
  for (const [name, change] of Object.entries(requestEdits)) {
    it(`request ${name}: bad_signature`, async () => {
      const changed = copy();
      const payload = decode(changed.payload);
      change(payload);
      changed.payload =
        name === 're-serialised with whitespace'
          ? Buffer.from(JSON.stringify(payload, null, 1)).toString('base64')
          : encode(payload);
      expect(await send(changed)).toMatchObject({ kind: 'rejected', reason: 'bad_signature' });
    });
  }

  it('request agencyId: refused (it no longer matches the delegation)', async () => {
    const changed = copy();
    const payload = decode(changed.payload);
    payload.agencyId = 'other-pd';
    changed.payload = encode(payload);
    expect(await send(changed)).toMatchObject({ reason: 'delegation_invalid' });
  });

  const delegationEdits: Record<string, unknown> = {
    agencyId: 'other-pd',
    name: 'Another Department',
    signingKey: Buffer.from(nacl.sign.keyPair().publicKey).toString('base64'),
    regions: ['u3', 'u2'],
    maxRadiusM: 50_000,
    maxWindowS: 2_592_000,
    notBefore: new Date(START - 2 * 24 * HOUR).toISOString(),
    notAfter: new Date(START + 29 * 24 * HOUR).toISOString(),
  };
  for (const [field, value] of Object.entries(delegationEdits)) {
    it(`delegation ${field}: delegation_invalid`, async () => {
      const changed = copy();
      const delegation = changed.delegation as Json;
      const payload = decode(delegation.payload);
      payload[field] = value;
      delegation.payload = encode(payload);
      expect(await send(changed)).toMatchObject({ reason: 'delegation_invalid' });
    });
  }

  it('a bit of the request signature: bad_signature', async () => {
    const changed = copy();
    const [signature] = changed.signatures as Json[];
    const sig = Buffer.from(String(signature?.sig), 'base64');
    sig[10] = (sig[10] ?? 0) ^ 0x20;
    (signature as Json).sig = sig.toString('base64');
    expect(await send(changed)).toMatchObject({ reason: 'bad_signature' });
  });

  it('the request key id: bad_signature (only the delegated key is tried)', async () => {
    const changed = copy();
    const [signature] = changed.signatures as Json[];
    (signature as Json).keyid = keyIdOf(nacl.sign.keyPair().publicKey);
    expect(await send(changed)).toMatchObject({ reason: 'bad_signature' });
  });

  it('the payload type: unsupported_version', async () => {
    const changed = copy();
    changed.payloadType = REQUEST_PAYLOAD_TYPE.replace('version=1', 'version=2');
    expect(await send(changed)).toMatchObject({ reason: 'unsupported_version' });
  });

  it('root key ids swapped between the two root signatures: delegation_invalid', async () => {
    const changed = copy();
    const signatures = (changed.delegation as Json).signatures as Json[];
    const [a, b] = signatures;
    if (!a || !b) throw new Error('two root signatures expected');
    [a.keyid, b.keyid] = [b.keyid, a.keyid];
    expect(await send(changed)).toMatchObject({ reason: 'delegation_invalid' });
  });

  it('one root signature twice instead of two roots: delegation_invalid', async () => {
    const changed = copy();
    const delegation = changed.delegation as Json;
    const [first] = delegation.signatures as Json[];
    delegation.signatures = [first, { ...first }];
    expect(await send(changed)).toMatchObject({ reason: 'delegation_invalid' });
  });

  it('a bit of a root signature: delegation_invalid', async () => {
    const changed = copy();
    const [, second] = (changed.delegation as Json).signatures as Json[];
    const sig = Buffer.from(String(second?.sig), 'base64');
    sig[0] = (sig[0] ?? 0) ^ 1;
    (second as Json).sig = sig.toString('base64');
    expect(await send(changed)).toMatchObject({ reason: 'delegation_invalid' });
  });

  it("another agency's delegation with this request: refused", async () => {
    const changed = copy();
    const other = await createWorld();
    try {
      changed.delegation = other.delegation;
      // Signed by roots this device does not trust.
      expect(await send(changed)).toMatchObject({ reason: 'delegation_invalid' });
    } finally {
      await other.close();
    }
  });
});
