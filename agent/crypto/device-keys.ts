import { createHmac, randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { ThresholdError } from '../errors.js';
import { KEY_DIR_MODE, readSecretFile, SECRET_FILE_MODE } from './key-files.js';

/**
 * The device secret and the keys derived from it. The secret (32 random bytes) is made on
 * first use in `dataDir/keys/device.secret` (mode 0600, directory 0700) and never leaves
 * the device. Every key is derived with HMAC-SHA-256 keyed by the secret (a PRF), over a
 * label that says what the key is for:
 *
 * - custody key for request `r`: Ed25519 from seed `HMAC(secret, "threshold/custody/v1" ‖ 0x00 ‖ r)`.
 *   It signs that request's custody records. Keys of different requests are unrelated to
 *   anyone without the secret, so records of one device cannot be linked.
 * - device proof key: Ed25519 from seed `HMAC(secret, "threshold/device-proof/v1")`. It is
 *   in no upload and no record; it only co-signs the authorship proofs the owner chooses
 *   to give (see agent/seal/custody-proof.ts), so the proofs an owner gives show one device.
 *
 * Deriving instead of storing keeps one secret to back up and nothing per request to lose.
 */
export class DeviceKeys {
  constructor(private readonly secret: Uint8Array) {
    if (secret.length !== DEVICE_SECRET_BYTES) {
      throw new RangeError(`the device secret has ${DEVICE_SECRET_BYTES} bytes`);
    }
  }

  /** Loads the device secret from `dataDir`, making it on first use. */
  static async load(dataDir: string): Promise<DeviceKeys> {
    return new DeviceKeys(await loadDeviceSecret(dataDir));
  }

  /**
   * Loads an existing device secret only: a proof must come from the secret that signed
   * the records, never from one made on the spot.
   */
  static async loadExisting(dataDir: string): Promise<DeviceKeys> {
    return new DeviceKeys(await readSecretFile(deviceSecretPath(dataDir), DEVICE_SECRET_BYTES));
  }

  /** The pseudonymous key that signs the custody records of request `requestId`. */
  custodyKeyPair(requestId: string): nacl.SignKeyPair {
    if (requestId.length === 0) throw new RangeError('a request id is not empty');
    return this.keyPair(`${CUSTODY_LABEL}\u0000${requestId}`);
  }

  /** The device-level key that co-signs authorship proofs; never in a record or upload. */
  proofKeyPair(): nacl.SignKeyPair {
    return this.keyPair(PROOF_LABEL);
  }

  private keyPair(label: string): nacl.SignKeyPair {
    const seed = createHmac('sha256', this.secret).update(label, 'utf8').digest();
    const pair = nacl.sign.keyPair.fromSeed(seed);
    seed.fill(0);
    return pair;
  }
}

export const DEVICE_SECRET_BYTES = 32;
const CUSTODY_LABEL = 'threshold/custody/v1';
const PROOF_LABEL = 'threshold/device-proof/v1';

export function deviceSecretPath(dataDir: string): string {
  return join(dataDir, 'keys', 'device.secret');
}

/**
 * Reads the device secret, or makes it when there is none. Two processes starting at once
 * must end up with the same secret, so the new file is linked into place (which fails if
 * the name exists) rather than renamed over it; the loser reads the winner's secret.
 */
export async function loadDeviceSecret(dataDir: string): Promise<Uint8Array> {
  const path = deviceSecretPath(dataDir);
  try {
    return await readSecretFile(path, DEVICE_SECRET_BYTES);
  } catch (err) {
    if (!(err instanceof ThresholdError && err.code === 'key_missing')) throw err;
  }
  const dir = join(dataDir, 'keys');
  await mkdir(dir, { recursive: true, mode: KEY_DIR_MODE });
  await chmod(dir, KEY_DIR_MODE);
  const temp = join(dir, `.device.secret.${randomBytes(6).toString('hex')}.tmp`);
  const secret = randomBytes(DEVICE_SECRET_BYTES);
  const handle = await open(temp, 'wx', SECRET_FILE_MODE);
  try {
    await handle.writeFile(`${secret.toString('base64')}\n`);
    await handle.sync();
  } finally {
    secret.fill(0);
    await handle.close();
  }
  try {
    await link(temp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await unlink(temp);
  }
  await syncDirectory(dir);
  // Whoever won the race, the secret is now the one in the file.
  return readSecretFile(path, DEVICE_SECRET_BYTES);
}

async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
