import { hostname } from 'node:os';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeviceKeys } from '../crypto/device-keys.js';
import type { DsseEnvelope } from '../crypto/dsse.js';
import { type SealKit, sealKit } from '../test-support/seal-kit.js';
import {
  buildCustodyRecord,
  type CustodyFacts,
  type CustodyRecord,
  custodyPath,
  openCustody,
  signCustody,
  verifyCustody,
  writeCustody,
} from './custody.js';
import { makeCustodyProof, verifyCustodyProof } from './custody-proof.js';

const REQUEST_A = 'AAAAAAAAAAAAAAAAAAAAAA';
const REQUEST_B = 'BBBBBBBBBBBBBBBBBBBBBB';
const SECRET = new Uint8Array(32).fill(9);

function facts(requestId = REQUEST_A): CustodyFacts {
  return {
    requestId,
    requestPayloadSha256: 'a'.repeat(64),
    clip: { index: 0, start: '2026-03-01T10:00:00.000Z', end: '2026-03-01T10:00:30.000Z' },
    sourceSegments: ['b'.repeat(64), 'c'.repeat(64)],
    plaintext: { sha256: 'd'.repeat(64), bytes: 1000 },
    sealed: { sha256: 'e'.repeat(64), bytes: 1150 },
    cutMode: 'fast',
    audio: false,
    decidedAt: '2026-03-01T11:00:00.000Z',
    clockSync: 'synced',
    agentVersion: '0.1.0',
    ffmpegVersion: '5.1.6',
  };
}

function signed(keys: DeviceKeys, requestId = REQUEST_A): DsseEnvelope {
  const pair = keys.custodyKeyPair(requestId);
  return signCustody(buildCustodyRecord(facts(requestId), pair.publicKey), pair.secretKey);
}

/** The envelope with its payload replaced, signature kept. */
function withRecord(envelope: DsseEnvelope, record: unknown): DsseEnvelope {
  return { ...envelope, payload: Buffer.from(JSON.stringify(record)).toString('base64') };
}

const recordOf = (envelope: DsseEnvelope): CustodyRecord =>
  JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));

describe('custody record', () => {
  const keys = new DeviceKeys(SECRET);

  it('verifies when untouched', () => {
    const record = verifyCustody(signed(keys), { requestId: REQUEST_A });
    expect(record).toEqual({
      v: 1,
      ...facts(),
      custodyKey: Buffer.from(keys.custodyKeyPair(REQUEST_A).publicKey).toString('base64'),
    });
  });

  it('fails verification when any field changes', () => {
    const envelope = signed(keys);
    const record = recordOf(envelope);
    const changes: [string, (r: CustodyRecord) => unknown][] = [
      ['requestId', (r) => ({ ...r, requestId: REQUEST_B })],
      ['requestPayloadSha256', (r) => ({ ...r, requestPayloadSha256: 'f'.repeat(64) })],
      ['clip.index', (r) => ({ ...r, clip: { ...r.clip, index: 1 } })],
      ['clip.start', (r) => ({ ...r, clip: { ...r.clip, start: '2026-03-01T09:59:59.000Z' } })],
      ['clip.end', (r) => ({ ...r, clip: { ...r.clip, end: '2026-03-01T10:00:31.000Z' } })],
      ['sourceSegments', (r) => ({ ...r, sourceSegments: r.sourceSegments.slice(1) })],
      [
        'plaintext.sha256',
        (r) => ({ ...r, plaintext: { ...r.plaintext, sha256: '0'.repeat(64) } }),
      ],
      ['plaintext.bytes', (r) => ({ ...r, plaintext: { ...r.plaintext, bytes: 999 } })],
      ['sealed.sha256', (r) => ({ ...r, sealed: { ...r.sealed, sha256: '0'.repeat(64) } })],
      ['sealed.bytes', (r) => ({ ...r, sealed: { ...r.sealed, bytes: 1151 } })],
      ['cutMode', (r) => ({ ...r, cutMode: 'exact' })],
      ['audio', (r) => ({ ...r, audio: true })],
      ['decidedAt', (r) => ({ ...r, decidedAt: '2026-03-01T11:00:01.000Z' })],
      ['clockSync', (r) => ({ ...r, clockSync: 'unsynced' })],
      ['agentVersion', (r) => ({ ...r, agentVersion: '0.1.1' })],
      ['ffmpegVersion', (r) => ({ ...r, ffmpegVersion: '6.0' })],
      [
        'custodyKey',
        (r) => ({
          ...r,
          custodyKey: Buffer.from(keys.custodyKeyPair(REQUEST_B).publicKey).toString('base64'),
        }),
      ],
    ];
    expect(changes.map(([field]) => field.split('.')[0])).toEqual(
      expect.arrayContaining(Object.keys(record).filter((key) => key !== 'v')),
    );
    for (const [field, change] of changes) {
      const error = (() => {
        try {
          verifyCustody(withRecord(envelope, change(record)));
          return undefined;
        } catch (err) {
          return err;
        }
      })();
      expect([field, (error as { code?: string })?.code]).toEqual([field, 'custody_bad_signature']);
    }
    expect(() => verifyCustody({ ...envelope, payloadType: 'text/plain' })).toThrow(
      expect.objectContaining({ code: 'custody_wrong_type' }),
    );
    expect(() => verifyCustody(withRecord(envelope, { ...record, extra: 1 }))).toThrow(
      expect.objectContaining({ code: 'custody_malformed' }),
    );
    expect(() => verifyCustody(envelope, { requestId: REQUEST_B })).toThrow(
      expect.objectContaining({ code: 'custody_mismatch' }),
    );
  });

  it('carries a different key for each request of one device, and no device key', () => {
    const a = recordOf(signed(keys, REQUEST_A));
    const b = recordOf(signed(keys, REQUEST_B));
    expect(a.custodyKey).not.toBe(b.custodyKey);
    const deviceKey = Buffer.from(keys.proofKeyPair().publicKey).toString('base64');
    for (const envelope of [signed(keys, REQUEST_A), signed(keys, REQUEST_B)]) {
      const text = JSON.stringify(envelope) + Buffer.from(envelope.payload, 'base64').toString();
      expect(text).not.toContain(deviceKey);
      expect(text).not.toContain(Buffer.from(SECRET).toString('base64'));
      expect(text).not.toContain(hostname());
    }
  });

  it('refuses to sign with a key the record does not name', () => {
    const record = buildCustodyRecord(facts(), keys.custodyKeyPair(REQUEST_A).publicKey);
    expect(() => signCustody(record, keys.custodyKeyPair(REQUEST_B).secretKey)).toThrow(
      expect.objectContaining({ code: 'custody_invalid' }),
    );
    expect(() =>
      buildCustodyRecord({ ...facts(), cutMode: 'slow' as 'fast' }, new Uint8Array(32)),
    ).toThrow(expect.objectContaining({ code: 'custody_invalid' }));
  });
});

describe('authorship proof', () => {
  const keys = new DeviceKeys(SECRET);
  const expectFor = (requestId: string) => ({
    custodyKey: recordOf(signed(keys, requestId)).custodyKey,
    requestId,
  });

  it('verifies against the record it claims, with the same device key for every request', () => {
    const a = makeCustodyProof(keys, REQUEST_A, 'nonce-1');
    const b = makeCustodyProof(keys, REQUEST_B);
    const statementA = verifyCustodyProof(a, { ...expectFor(REQUEST_A), challenge: 'nonce-1' });
    const statementB = verifyCustodyProof(b.proof, expectFor(REQUEST_B));
    expect(statementA.deviceKey).toBe(statementB.deviceKey);
    expect(statementA.custodyKey).not.toBe(statementB.custodyKey);
  });

  it('fails for another record, another challenge, another device or an altered statement', () => {
    const proof = makeCustodyProof(keys, REQUEST_A, 'nonce-1');
    const code = (fn: () => unknown) => {
      try {
        fn();
        return 'verified';
      } catch (err) {
        return (err as { code?: string }).code;
      }
    };
    expect(code(() => verifyCustodyProof(proof, expectFor(REQUEST_B)))).toBe('proof_mismatch');
    expect(
      code(() => verifyCustodyProof(proof, { ...expectFor(REQUEST_A), challenge: 'nonce-2' })),
    ).toBe('proof_mismatch');
    const other = makeCustodyProof(new DeviceKeys(new Uint8Array(32).fill(3)), REQUEST_A);
    expect(code(() => verifyCustodyProof(other, expectFor(REQUEST_A)))).toBe('proof_mismatch');
    const statement = JSON.parse(Buffer.from(proof.proof.payload, 'base64').toString());
    const forged = {
      ...proof.proof,
      payload: Buffer.from(JSON.stringify({ ...statement, challenge: 'nonce-2' })).toString(
        'base64',
      ),
    };
    expect(code(() => verifyCustodyProof(forged, expectFor(REQUEST_A)))).toBe(
      'proof_bad_signature',
    );
    const oneSignature = { ...proof.proof, signatures: proof.proof.signatures.slice(0, 1) };
    expect(code(() => verifyCustodyProof(oneSignature, expectFor(REQUEST_A)))).toBe(
      'proof_malformed',
    );
    const stranger = nacl.sign.keyPair();
    const swapped = {
      ...proof.proof,
      signatures: [
        proof.proof.signatures[0],
        {
          keyid: 'x',
          sig: Buffer.from(nacl.sign.detached(new Uint8Array(1), stranger.secretKey)).toString(
            'base64',
          ),
        },
      ],
    };
    expect(code(() => verifyCustodyProof(swapped, expectFor(REQUEST_A)))).toBe(
      'proof_bad_signature',
    );
  });
});

describe('sealed custody file', () => {
  let kit: SealKit;
  beforeEach(async () => {
    kit = await sealKit();
  });
  afterEach(async () => {
    await kit.cleanup();
  });

  it('is written beside the clip, sealed to the recipient, and opens verified', async () => {
    const keys = new DeviceKeys(SECRET);
    const { sealedPath } = await kit.sealRandom('clip', 5000);
    const path = await writeCustody({
      clipPath: sealedPath,
      recipient: kit.recipient.publicKey,
      signer: keys,
      facts: facts(),
    });
    expect(path).toBe(custodyPath(sealedPath));
    expect(path).toBe(join(kit.dir, 'clip.tseal.custody'));
    const opened = await openCustody(path, kit.recipient.secretKey);
    expect(opened.context).toEqual({ requestId: REQUEST_A, clipIndex: 0, kind: 'custody' });
    expect(opened.record.requestPayloadSha256).toBe('a'.repeat(64));
    await expect(openCustody(sealedPath, kit.recipient.secretKey)).rejects.toMatchObject({
      code: 'custody_wrong_type',
    });
    await expect(openCustody(path, nacl.box.keyPair().secretKey)).rejects.toMatchObject({
      code: 'seal_wrong_key',
    });
  });
});
