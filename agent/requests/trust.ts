import { createHash, type KeyObject } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.js';
import { AUDIT_KINDS } from '../audit/audit-log.js';
import type { Config } from '../config/schema.js';
import { keyIdOf, pae } from '../crypto/dsse.js';
import { ed25519PublicKey, ed25519Verify } from '../crypto/ed25519.js';
import type { Database } from '../db/database.js';
import {
  DELEGATION_PAYLOAD_TYPE,
  type Delegation,
  delegationPayloadSchema,
  describeIssue,
  MAX_REVOCATION_BYTES,
  parseJsonBytes,
  REVOCATION_PAYLOAD_TYPE,
  type RevocationList,
  revocationPayloadSchema,
  signedStatementSchema,
  versionHeaderSchema,
} from './protocol.js';

/**
 * What the device trusts: the root keys from the config (`trust.roots`, at least
 * `trust.threshold` of them must sign a delegation or a revocation list), the
 * delegations it has checked (cached by the envelope's hash, so a flood reusing one
 * delegation costs one check), and the highest revocation list seen (persisted).
 *
 * Verification work is bounded per statement: a signature is checked only against the
 * root its `keyid` names (DSSE: the keyid is an unauthenticated hint for choosing the
 * key; a wrong hint can only make a signature not count, never make a bad one count),
 * so a statement costs at most one Ed25519 check per root.
 */

export interface TrustRoot {
  readonly name: string;
  readonly keyId: string;
  readonly key: KeyObject;
}

/** A statement as it arrives (the shape `signedStatementSchema` checked). */
export interface SignedStatement {
  readonly payloadType: string;
  readonly payload: string;
  readonly signatures: readonly { readonly keyid: string; readonly sig: string }[];
}

export type DelegationVerdict =
  | {
      ok: true;
      delegation: Delegation;
      /** Names of the roots whose signatures verified. */
      rootNames: string[];
      signingKey: KeyObject;
      signingKeyId: string;
    }
  | { ok: false; problem: string };

export type RevocationOutcome =
  | { kind: 'accepted'; version: number }
  | { kind: 'rejected'; reason: string };

const CACHE_SIZE = 256;

export class TrustState {
  readonly roots: readonly TrustRoot[];
  readonly threshold: number;
  #cache = new Map<string, DelegationVerdict>();
  #revocations: RevocationList | undefined;
  #revokedAgencies = new Set<string>();
  #revokedKeys = new Set<string>();

  constructor(private readonly deps: { db: Database; config: Pick<Config, 'trust'> }) {
    const roots = new Map<string, TrustRoot>();
    for (const root of deps.config.trust?.roots ?? []) {
      const raw = Buffer.from(root.publicKey, 'base64');
      const keyId = keyIdOf(raw);
      // The same key listed twice is one root: the threshold counts distinct keys.
      if (!roots.has(keyId))
        roots.set(keyId, { name: root.name, keyId, key: ed25519PublicKey(raw) });
    }
    this.roots = [...roots.values()];
    this.threshold = deps.config.trust?.threshold ?? Number.POSITIVE_INFINITY;
  }

  /**
   * Loads the revocation list in force. Its signatures were checked when it arrived; it
   * is not checked again, so a later change of roots does not drop revocations.
   */
  async load(): Promise<void> {
    const row = await this.deps.db.get<{
      version: number;
      issued_at: number;
      agency_ids: string;
      signing_keys: string;
    }>('SELECT version, issued_at, agency_ids, signing_keys FROM trust_revocations WHERE id = 1');
    if (!row) return;
    this.#setRevocations({
      v: 1,
      version: row.version,
      issuedAt: row.issued_at,
      agencyIds: JSON.parse(row.agency_ids) as string[],
      signingKeys: JSON.parse(row.signing_keys) as string[],
    });
  }

  /** Checks a delegation's signatures and shape; cached by the envelope's hash. */
  verifyDelegation(envelope: SignedStatement): DelegationVerdict {
    const hash = statementHash(envelope);
    const cached = this.#cache.get(hash);
    if (cached) {
      // Refresh its place: the cache evicts the least recently used.
      this.#cache.delete(hash);
      this.#cache.set(hash, cached);
      return cached;
    }
    const verdict = this.#checkDelegation(envelope);
    this.#cache.set(hash, verdict);
    if (this.#cache.size > CACHE_SIZE) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    return verdict;
  }

  #checkDelegation(envelope: SignedStatement): DelegationVerdict {
    if (envelope.payloadType !== DELEGATION_PAYLOAD_TYPE) {
      return { ok: false, problem: 'not a delegation' };
    }
    const payload = Buffer.from(envelope.payload, 'base64');
    const parsed = delegationPayloadSchema.safeParse(parseJsonBytes(payload));
    if (!parsed.success) return { ok: false, problem: describeIssue(parsed.error) };
    const rootNames = this.verifiedRoots(envelope, payload);
    if (rootNames.length < this.threshold) {
      return { ok: false, problem: `signed by ${rootNames.length} trusted roots` };
    }
    const raw = Buffer.from(parsed.data.signingKey, 'base64');
    return {
      ok: true,
      delegation: parsed.data,
      rootNames,
      signingKey: ed25519PublicKey(raw),
      signingKeyId: keyIdOf(raw),
    };
  }

  /** Names of the distinct roots with a valid signature on the statement. */
  verifiedRoots(envelope: SignedStatement, payload: Uint8Array): string[] {
    const message = pae(envelope.payloadType, payload);
    const found: string[] = [];
    const tried = new Set<string>();
    for (const signature of envelope.signatures) {
      if (found.length >= this.threshold) break;
      const root = this.roots.find((r) => r.keyId === signature.keyid);
      if (!root || tried.has(root.keyId)) continue;
      tried.add(root.keyId);
      if (ed25519Verify(message, Buffer.from(signature.sig, 'base64'), root.key)) {
        found.push(root.name);
      }
    }
    return found;
  }

  /** How many delegation verdicts are cached (bounded). */
  get cachedDelegations(): number {
    return this.#cache.size;
  }

  /** Whether the agency, or the key it signs with (base64), is revoked. */
  isRevoked(agencyId: string, signingKey: string): boolean {
    return this.#revokedAgencies.has(agencyId) || this.#revokedKeys.has(signingKey);
  }

  /** The version of the revocation list in force; 0 when none was seen. */
  revocationVersion(): number {
    return this.#revocations?.version ?? 0;
  }

  /**
   * Judges a revocation list from the retained topic and keeps it when it is signed by
   * enough roots and newer than the one in force. An equal or older version is ignored
   * (a retained message is delivered again at every connection): 'stale' is audited
   * only when it differs from what is in force, so reconnections leave no trail.
   */
  async acceptRevocations(bytes: Buffer, audit: AuditLog): Promise<RevocationOutcome> {
    const parsed = this.#parseRevocations(bytes);
    if (parsed.kind !== 'ok') {
      await audit.append({ kind: AUDIT_KINDS.revocationsRefused, reason: parsed.reason });
      return { kind: 'rejected', reason: parsed.reason };
    }
    const { list } = parsed;
    const current = this.revocationVersion();
    if (list.version <= current) {
      if (list.version < current) {
        await audit.append({
          kind: AUDIT_KINDS.revocationsRefused,
          reason: 'stale',
          detail: { version: list.version, current },
        });
      }
      return { kind: 'rejected', reason: 'stale' };
    }
    await this.deps.db.transaction(async (tx) => {
      await tx.run(
        `INSERT INTO trust_revocations (id, version, issued_at, agency_ids, signing_keys, envelope)
         VALUES (1, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET version = excluded.version, issued_at = excluded.issued_at,
           agency_ids = excluded.agency_ids, signing_keys = excluded.signing_keys,
           envelope = excluded.envelope`,
        [
          list.version,
          list.issuedAt,
          JSON.stringify(list.agencyIds),
          JSON.stringify(list.signingKeys),
          bytes.toString('utf8'),
        ],
      );
      await audit.appendIn(tx, {
        kind: AUDIT_KINDS.revocationsAccepted,
        detail: {
          version: list.version,
          agencies: list.agencyIds.length,
          keys: list.signingKeys.length,
        },
      });
    });
    this.#setRevocations(list);
    return { kind: 'accepted', version: list.version };
  }

  #parseRevocations(
    bytes: Buffer,
  ): { kind: 'ok'; list: RevocationList } | { kind: 'bad'; reason: string } {
    if (bytes.length > MAX_REVOCATION_BYTES) return { kind: 'bad', reason: 'too_large' };
    const json = parseJsonBytes(bytes);
    if (json === undefined) return { kind: 'bad', reason: 'not_json' };
    const envelope = signedStatementSchema.safeParse(json);
    if (!envelope.success) return { kind: 'bad', reason: 'schema' };
    if (envelope.data.payloadType !== REVOCATION_PAYLOAD_TYPE) {
      return { kind: 'bad', reason: 'unsupported_version' };
    }
    const payload = Buffer.from(envelope.data.payload, 'base64');
    const json2 = parseJsonBytes(payload);
    const header = versionHeaderSchema.safeParse(json2);
    if (!header.success) return { kind: 'bad', reason: 'schema' };
    if (header.data.v !== 1) return { kind: 'bad', reason: 'unsupported_version' };
    const list = revocationPayloadSchema.safeParse(json2);
    if (!list.success) return { kind: 'bad', reason: 'schema' };
    if (this.verifiedRoots(envelope.data, payload).length < this.threshold) {
      return { kind: 'bad', reason: 'bad_signature' };
    }
    return { kind: 'ok', list: list.data };
  }

  #setRevocations(list: RevocationList): void {
    this.#revocations = list;
    this.#revokedAgencies = new Set(list.agencyIds);
    this.#revokedKeys = new Set(list.signingKeys);
  }
}

/** SHA-256 over the fields a statement's meaning and signatures depend on. */
export function statementHash(envelope: SignedStatement): string {
  const canonical = JSON.stringify([
    envelope.payloadType,
    envelope.payload,
    envelope.signatures.map((s) => [s.keyid, s.sig]),
  ]);
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}
