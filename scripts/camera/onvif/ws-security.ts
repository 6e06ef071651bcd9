import { createHash, timingSafeEqual } from 'node:crypto';
import { attr, child, textOf, type XmlElement } from '../../../hal/linux/onvif/soap.js';

/** The account the emulated camera accepts. */
export interface Credentials {
  username: string;
  password: string;
}

/** How far a token's `Created` may be from our clock (replay window). */
const CREATED_WINDOW_MS = 5 * 60_000;
const PASSWORD_DIGEST =
  'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest';

/**
 * Checks a WS-Security UsernameToken with a password digest (OASIS Username Token
 * Profile 1.0 §3.1, as ONVIF Core §5.12.2 requires):
 * `Password = Base64(SHA-1(nonce + created + password))`. A nonce is accepted once within
 * the replay window; plain-text passwords are refused.
 */
export class UsernameTokenChecker {
  readonly #seen = new Map<string, number>();

  constructor(
    private readonly credentials: Credentials,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether the SOAP header carries a valid token for our account. */
  check(header: XmlElement | undefined): boolean {
    const token = child(child(header, 'Security'), 'UsernameToken');
    const username = textOf(token, 'Username');
    const passwordElement = child(token, 'Password');
    const password = textOf(token, 'Password');
    const nonce = textOf(token, 'Nonce');
    const created = textOf(token, 'Created');
    if (!username || !password || !nonce || !created) return false;
    const type = attr(passwordElement, 'Type');
    if (type !== undefined && type !== PASSWORD_DIGEST) return false;
    const createdMs = Date.parse(created);
    const now = this.now();
    if (!Number.isFinite(createdMs) || Math.abs(now - createdMs) > CREATED_WINDOW_MS) return false;
    const expected = passwordDigest(
      Buffer.from(nonce, 'base64'),
      created,
      this.credentials.password,
    );
    const given = Buffer.from(password, 'base64');
    const userOk = safeEqual(Buffer.from(username), Buffer.from(this.credentials.username));
    const digestOk = given.length === expected.length && timingSafeEqual(given, expected);
    if (!userOk || !digestOk) return false;
    this.#forgetOld(now);
    if (this.#seen.has(nonce)) return false;
    this.#seen.set(nonce, now);
    return true;
  }

  #forgetOld(now: number): void {
    for (const [nonce, at] of this.#seen) {
      if (now - at > 2 * CREATED_WINDOW_MS) this.#seen.delete(nonce);
    }
  }
}

/** SHA-1 over nonce bytes, the Created text and the password (UTF-8). */
export function passwordDigest(nonce: Buffer, created: string, password: string): Buffer {
  return createHash('sha1')
    .update(Buffer.concat([nonce, Buffer.from(created, 'utf8'), Buffer.from(password, 'utf8')]))
    .digest();
}

function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
