import nacl from 'tweetnacl';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keyIdOf } from '../crypto/dsse.js';
import { createWorld, START, type World } from '../test-support/intake-world.js';
import { buildDelegation, buildRevocations, signStatement } from './build.js';
import { DELEGATION_PAYLOAD_TYPE, MAX_REVOCATION_BYTES } from './protocol.js';
import { TrustState } from './trust.js';

const DAY = 24 * 3600_000;

describe('TrustState', () => {
  let w: World;
  beforeEach(async () => {
    w = await createWorld({ rootCount: 3, threshold: 2 });
  });
  afterEach(async () => {
    await w.close();
  });

  const delegate = (rootSecretKeys: Uint8Array[], overrides = {}) =>
    buildDelegation({
      rootSecretKeys,
      agencyId: 'county-so',
      name: 'County Sheriff',
      signingKey: nacl.sign.keyPair().publicKey,
      regions: ['u33'],
      maxRadiusM: 1000,
      maxWindowS: 3600,
      notBefore: START,
      notAfter: START + DAY,
      ...overrides,
    });
  const root = (i: number) => w.roots[i]?.secretKey ?? new Uint8Array(64);

  it('accepts a delegation signed by threshold distinct roots and names them', () => {
    const verdict = w.trust.verifyDelegation(delegate([root(1), root(2)]));
    expect(verdict).toMatchObject({ ok: true, rootNames: ['root-2', 'root-3'] });
    expect(verdict.ok && verdict.delegation.agencyId).toBe('county-so');
  });

  it('refuses fewer distinct roots than the threshold', () => {
    expect(w.trust.verifyDelegation(delegate([root(0)]))).toMatchObject({ ok: false });
    expect(w.trust.verifyDelegation(delegate([root(0), root(0)]))).toMatchObject({ ok: false });
    const stranger = nacl.sign.keyPair().secretKey;
    expect(w.trust.verifyDelegation(delegate([root(0), stranger]))).toMatchObject({ ok: false });
  });

  it('checks a signature only against the root its key id names', () => {
    const good = delegate([root(0), root(1)]);
    const misnamed = {
      ...good,
      signatures: good.signatures.map((s, i) =>
        i === 1 ? { ...s, keyid: keyIdOf(w.roots[2]?.publicKey ?? new Uint8Array()) } : s,
      ),
    };
    expect(w.trust.verifyDelegation(misnamed)).toMatchObject({ ok: false });
  });

  it('refuses a delegation longer than 30 days or of another payload type', () => {
    expect(
      w.trust.verifyDelegation(delegate([root(0), root(1)], { notAfter: START + 30 * DAY + 1000 })),
    ).toMatchObject({ ok: false });
    const statement = signStatement('application/other', { v: 1 }, [root(0), root(1)]);
    expect(w.trust.verifyDelegation(statement)).toMatchObject({
      ok: false,
      problem: 'not a delegation',
    });
    const shapeless = signStatement(DELEGATION_PAYLOAD_TYPE, { v: 1 }, [root(0), root(1)]);
    expect(w.trust.verifyDelegation(shapeless)).toMatchObject({ ok: false });
  });

  it('caches verdicts by the envelope hash, within a bound', () => {
    const envelope = delegate([root(0), root(1)]);
    const first = w.trust.verifyDelegation(envelope);
    expect(w.trust.verifyDelegation(JSON.parse(JSON.stringify(envelope)))).toBe(first);
    for (let i = 0; i < 300; i += 1)
      w.trust.verifyDelegation(delegate([root(0)], { name: `n${i}` }));
    expect(w.trust.cachedDelegations).toBe(256);
  });

  it('trusts nothing without configured roots', async () => {
    const bare = new TrustState({ db: w.db, config: {} });
    expect(bare.verifyDelegation(delegate([root(0), root(1), root(2)]))).toMatchObject({
      ok: false,
    });
  });

  describe('revocations', () => {
    const list = (version: number, signers = [root(0), root(1)], agencyIds = ['county-so']) =>
      Buffer.from(
        JSON.stringify(
          buildRevocations({ rootSecretKeys: signers, version, agencyIds, issuedAt: START }),
        ),
      );
    const auditKinds = async () =>
      (await w.audit.entries()).map((e) => `${e.kind}:${e.reason ?? ''}`);

    it('keeps the highest version, persistently; equal or older ones are ignored', async () => {
      expect(await w.trust.acceptRevocations(list(2), w.audit)).toEqual({
        kind: 'accepted',
        version: 2,
      });
      expect(w.trust.isRevoked('county-so', 'x')).toBe(true);
      // The retained message again, at a reconnection: ignored, and no audit noise.
      expect(await w.trust.acceptRevocations(list(2), w.audit)).toEqual({
        kind: 'rejected',
        reason: 'stale',
      });
      expect(await w.trust.acceptRevocations(list(1, undefined, []), w.audit)).toEqual({
        kind: 'rejected',
        reason: 'stale',
      });
      expect(w.trust.isRevoked('county-so', 'x')).toBe(true);
      expect(await auditKinds()).toEqual(['revocations_accepted:', 'revocations_refused:stale']);

      const reloaded = new TrustState({ db: w.db, config: w.config });
      await reloaded.load();
      expect(reloaded.revocationVersion()).toBe(2);
      expect(reloaded.isRevoked('county-so', 'x')).toBe(true);
      expect(reloaded.isRevoked('metro-pd', 'x')).toBe(false);

      expect(await reloaded.acceptRevocations(list(3, undefined, []), w.audit)).toMatchObject({
        kind: 'accepted',
      });
      expect(reloaded.isRevoked('county-so', 'x')).toBe(false);
    });

    it('refuses lists that are not signed by enough roots, malformed or too large', async () => {
      expect(await w.trust.acceptRevocations(list(5, [root(0)]), w.audit)).toEqual({
        kind: 'rejected',
        reason: 'bad_signature',
      });
      expect(await w.trust.acceptRevocations(Buffer.from('nope'), w.audit)).toMatchObject({
        reason: 'not_json',
      });
      expect(await w.trust.acceptRevocations(Buffer.from('{"payload":1}'), w.audit)).toMatchObject({
        reason: 'schema',
      });
      const other = signStatement(DELEGATION_PAYLOAD_TYPE, {}, [root(0), root(1)]);
      expect(
        await w.trust.acceptRevocations(Buffer.from(JSON.stringify(other)), w.audit),
      ).toMatchObject({
        reason: 'unsupported_version',
      });
      expect(
        await w.trust.acceptRevocations(Buffer.alloc(MAX_REVOCATION_BYTES + 1, 0x20), w.audit),
      ).toMatchObject({ reason: 'too_large' });
      expect(w.trust.revocationVersion()).toBe(0);
      expect(await w.db.all('SELECT * FROM trust_revocations')).toEqual([]);
    });
  });
});
