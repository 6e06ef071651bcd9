import { randomInt } from 'node:crypto';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';

/**
 * What the MQTT client keeps between runs, in `dataDir/mqtt/client.json`.
 *
 * The client id. A persistent session (clean start off, so requests published while the
 * device is offline are queued by the broker) is keyed by the client id, so the id must
 * be stable. The trade-off: the broker can tell that successive connections come from
 * the same subscriber. We limit what it learns beyond that: the id is random, generated
 * once on this device, derived from nothing (not the device secret, not a serial, not
 * the owner), and never used anywhere else — it appears in no upload, seal or custody
 * record. Deleting the file gives the device a new, unlinkable id (and loses the queued
 * session).
 *
 * The topics last subscribed, so that a changed location or radius unsubscribes the
 * cells no longer wanted from the persistent session instead of leaving them there.
 */

const ID_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** MQTT 3.1.1 §3.1.3.1: servers must accept 1–23 characters of [0-9a-zA-Z]. */
const ID_LENGTH = 23;

const stateSchema = z.strictObject({
  clientId: z.string().regex(/^[0-9A-Za-z]{23}$/),
  topics: z.array(z.string().max(256)).max(64),
});

export type ClientState = z.infer<typeof stateSchema>;

export function clientStatePath(dataDir: string): string {
  return join(dataDir, 'mqtt', 'client.json');
}

/** A fresh random client id: 23 characters of [0-9A-Za-z], about 137 bits. */
export function randomClientId(): string {
  let id = '';
  for (let i = 0; i < ID_LENGTH; i++) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  return id;
}

/** Reads the state, creating (and persisting) a new id when the file is missing or bad. */
export async function loadClientState(dataDir: string): Promise<ClientState> {
  const path = clientStatePath(dataDir);
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (text !== undefined) {
    const parsed = stateSchema.safeParse(safeJson(text));
    if (parsed.success) return parsed.data;
  }
  const state: ClientState = { clientId: randomClientId(), topics: [] };
  await saveClientState(dataDir, state);
  return state;
}

/** Writes the state atomically (temp file, fsync, rename), mode 0600. */
export async function saveClientState(dataDir: string, state: ClientState): Promise<void> {
  const path = clientStatePath(dataDir);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.tmp`;
  const handle = await open(temp, 'w', 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(state)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // A torn or hand-edited file: the caller starts a new identity.
    return undefined;
  }
}
