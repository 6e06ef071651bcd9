import nacl from 'tweetnacl';
import type { Logger } from '../log.js';
import { BOX_OFFSET, type BulkSecretbox, MESSAGE_OFFSET } from './bulk-secretbox.js';
import { asSodiumBinding, requireSodium, sodiumSecretbox } from './sodium-secretbox.js';
import { tweetnaclSecretbox } from './tweetnacl-secretbox.js';

/**
 * Which bulk secretbox seals and opens chunks: libsodium when its addon loads and agrees
 * with tweetnacl on a known box, tweetnacl otherwise.
 *
 * Falling back rather than failing is deliberate. Both give the same TSEAL1 bytes, and
 * tweetnacl is the audited implementation the format was first built on, so the fallback
 * costs only speed (several times slower on a large clip), never safety or compatibility.
 * Failing instead would leave an owner's approved footage unshared over a packaging fault
 * (a platform without a prebuilt addon, a C library too old for it). The fallback is not
 * silent: every seal and open that uses it logs a warning with the reason (`secretboxFor`).
 */
export interface SecretboxChoice {
  readonly secretbox: BulkSecretbox;
  /** Why libsodium is not used; absent when it is. */
  readonly fallbackReason?: string;
}

export function chooseSecretbox(load: () => unknown = requireSodium): SecretboxChoice {
  let sodium: BulkSecretbox;
  try {
    sodium = sodiumSecretbox(asSodiumBinding(load()));
    if (!agrees(sodium, tweetnaclSecretbox)) {
      return fallback('its secretbox disagrees with tweetnacl on a known box');
    }
  } catch (err) {
    return fallback(err instanceof Error ? err.message : String(err));
  }
  return { secretbox: sodium };
}

function fallback(reason: string): SecretboxChoice {
  // Module-loading errors list every path tried, one a line; the first line says why.
  const firstLine = reason.split('\n', 1)[0] ?? reason;
  return { secretbox: tweetnaclSecretbox, fallbackReason: firstLine.slice(0, 300) };
}

/** Seals and opens one small box with both; true when the bytes are the same and it opens. */
function agrees(candidate: BulkSecretbox, reference: BulkSecretbox): boolean {
  const key = new Uint8Array(32).fill(7);
  const nonce = new Uint8Array(24).fill(9);
  const length = 100;
  const make = (box: BulkSecretbox) => {
    const buffer = new Uint8Array(MESSAGE_OFFSET + length);
    for (let i = 0; i < length; i++) buffer[MESSAGE_OFFSET + i] = i;
    box.seal(buffer, length, nonce, key);
    return buffer.slice(BOX_OFFSET);
  };
  const sealed = make(candidate);
  if (!nacl.verify(sealed, make(reference))) return false;
  const buffer = new Uint8Array(MESSAGE_OFFSET + length);
  buffer.set(sealed, BOX_OFFSET);
  return candidate.open(buffer, length, nonce, key) && buffer[MESSAGE_OFFSET + 99] === 99;
}

let chosen: SecretboxChoice | undefined;

/** This process's choice, made once on first use. */
export function chosenSecretbox(): SecretboxChoice {
  chosen ??= chooseSecretbox();
  return chosen;
}

/**
 * The secretbox for one seal or open (`choice` when given, else this process's), logging a
 * warning when it is the fallback.
 */
export function secretboxFor(
  choice: SecretboxChoice | undefined,
  logger: Logger | undefined,
  doing: 'sealing' | 'opening',
): BulkSecretbox {
  const { secretbox, fallbackReason } = choice ?? chosenSecretbox();
  if (fallbackReason !== undefined) {
    logger?.warn(
      { component: 'seal', secretbox: secretbox.name, reason: fallbackReason },
      `libsodium is not available; ${doing} with tweetnacl (same format, slower)`,
    );
  }
  return secretbox;
}
