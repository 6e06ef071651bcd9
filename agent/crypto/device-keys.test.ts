import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeviceKeys, deviceSecretPath, loadDeviceSecret } from './device-keys.js';

let dataDir: string;
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'threshold-device-keys-'));
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('device secret', () => {
  it('is made on first use with mode 0600 in a 0700 directory, then read back', async () => {
    const first = await loadDeviceSecret(dataDir);
    expect(first).toHaveLength(32);
    expect((await stat(deviceSecretPath(dataDir))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dataDir, 'keys'))).mode & 0o777).toBe(0o700);
    const again = await loadDeviceSecret(dataDir);
    expect(hex(again)).toBe(hex(first));
    const text = await readFile(deviceSecretPath(dataDir), 'utf8');
    expect(Buffer.from(text.trim(), 'base64').toString('hex')).toBe(hex(first));
  });

  it('is the same for loads that race on first use', async () => {
    const secrets = await Promise.all(Array.from({ length: 8 }, () => loadDeviceSecret(dataDir)));
    expect(new Set(secrets.map(hex)).size).toBe(1);
  });

  it('is refused when others may read it', async () => {
    await loadDeviceSecret(dataDir);
    await writeFile(deviceSecretPath(dataDir), `${Buffer.alloc(32, 1).toString('base64')}\n`, {
      mode: 0o644,
    });
    await chmod(deviceSecretPath(dataDir), 0o644);
    await expect(loadDeviceSecret(dataDir)).rejects.toMatchObject({ code: 'key_permissions' });
  });

  it('is not made by loadExisting', async () => {
    await expect(DeviceKeys.loadExisting(dataDir)).rejects.toMatchObject({ code: 'key_missing' });
  });
});

describe('derived keys', () => {
  it('gives each request its own custody key, the same every time', async () => {
    const keys = await DeviceKeys.load(dataDir);
    const a = keys.custodyKeyPair('AAAAAAAAAAAAAAAAAAAAAA');
    const b = keys.custodyKeyPair('BBBBBBBBBBBBBBBBBBBBBB');
    expect(hex(a.publicKey)).not.toBe(hex(b.publicKey));
    const reloaded = await DeviceKeys.loadExisting(dataDir);
    expect(hex(reloaded.custodyKeyPair('AAAAAAAAAAAAAAAAAAAAAA').publicKey)).toBe(hex(a.publicKey));
    expect(hex(keys.proofKeyPair().publicKey)).not.toBe(hex(a.publicKey));
  });

  it('differs between devices for the same request', async () => {
    const one = new DeviceKeys(new Uint8Array(32).fill(1));
    const two = new DeviceKeys(new Uint8Array(32).fill(2));
    expect(hex(one.custodyKeyPair('r').publicKey)).not.toBe(hex(two.custodyKeyPair('r').publicKey));
    expect(hex(one.proofKeyPair().publicKey)).not.toBe(hex(two.proofKeyPair().publicKey));
  });

  it('follows the documented derivation (HMAC-SHA-256 seed, Ed25519)', async () => {
    const { createHmac } = await import('node:crypto');
    const nacl = (await import('tweetnacl')).default;
    const secret = new Uint8Array(32).fill(7);
    const seed = createHmac('sha256', secret).update('threshold/custody/v1\u0000req').digest();
    const expected = nacl.sign.keyPair.fromSeed(seed).publicKey;
    expect(hex(new DeviceKeys(secret).custodyKeyPair('req').publicKey)).toBe(hex(expected));
  });
});
