import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { type SealResult, sealFile } from '../seal/seal-file.js';

/** Shared set-up for the seal tests: a temp dir, a recipient, and sealed fixtures. */
export interface SealKit {
  readonly dir: string;
  readonly recipient: nacl.BoxKeyPair;
  /** Writes `size` random bytes to `name` and seals them to `name.tseal`. */
  sealRandom(name: string, size: number): Promise<SealedFixture>;
  /** Files in the temp dir, for checking nothing was left behind. */
  files(): Promise<string[]>;
  cleanup(): Promise<void>;
}

export interface SealedFixture {
  readonly plainPath: string;
  readonly sealedPath: string;
  readonly plaintext: Buffer;
  readonly result: SealResult;
}

export async function sealKit(): Promise<SealKit> {
  const dir = await mkdtemp(join(tmpdir(), 'threshold-seal-'));
  const recipient = nacl.box.keyPair();
  return {
    dir,
    recipient,
    async sealRandom(name, size) {
      const plaintext = randomBytes(size);
      const plainPath = join(dir, name);
      const sealedPath = join(dir, `${name}.tseal`);
      await writeFile(plainPath, plaintext);
      const result = await sealFile({
        input: plainPath,
        output: sealedPath,
        recipient: recipient.publicKey,
        context: { requestId: 'AAAAAAAAAAAAAAAAAAAAAA', clipIndex: 0 },
      });
      return { plainPath, sealedPath, plaintext, result };
    },
    files: async () => (await readdir(dir)).sort(),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
