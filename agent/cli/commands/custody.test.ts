import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/load.js';
import { DeviceKeys } from '../../crypto/device-keys.js';
import { createLogger } from '../../log.js';
import { verifyCustodyProof } from '../../seal/custody-proof.js';
import type { CliContext } from '../context.js';
import { registerCustody } from './custody.js';

const REQUEST = 'AAAAAAAAAAAAAAAAAAAAAA';
let dir: string;
let configPath: string;
let printed: string[];
let ctx: CliContext;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'threshold-custody-cli-'));
  configPath = join(dir, 'config.json');
  await writeFile(
    configPath,
    JSON.stringify({
      dataDir: join(dir, 'data'),
      device: { location: { lat: 52.37, lon: 4.9 } },
      camera: { source: 'emulated' },
    }),
  );
  printed = [];
  ctx = {
    config: loadConfig,
    logger: () => createLogger({ level: 'silent' }),
    out: (text) => printed.push(text),
  };
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The command on a bare program (the full CLI pulls in every other command). */
function run(...args: string[]) {
  const program = new Command('threshold').exitOverride();
  registerCustody(program, ctx);
  return program.parseAsync(args, { from: 'user' });
}

describe('threshold custody prove', () => {
  it('prints a proof that verifies against the request custody key', async () => {
    const keys = await DeviceKeys.load(join(dir, 'data'));
    await run(
      'custody',
      'prove',
      '--config',
      configPath,
      '--request-id',
      REQUEST,
      '--challenge',
      'c1',
      '--json',
    );
    const output = JSON.parse(printed.join('\n'));
    const custodyKey = Buffer.from(keys.custodyKeyPair(REQUEST).publicKey).toString('base64');
    expect(output).toMatchObject({ requestId: REQUEST, custodyKey, challenge: 'c1' });
    const statement = verifyCustodyProof(output, {
      custodyKey,
      requestId: REQUEST,
      challenge: 'c1',
    });
    expect(statement.deviceKey).toBe(Buffer.from(keys.proofKeyPair().publicKey).toString('base64'));
  });

  it('prints a readable summary whose proof line verifies', async () => {
    const keys = await DeviceKeys.load(join(dir, 'data'));
    await run('custody', 'prove', '--config', configPath, '--request-id', REQUEST);
    const text = printed.join('\n');
    expect(text).toContain(`request id:   ${REQUEST}`);
    const proofLine = text.split('\n').find((line) => line.startsWith('proof:'));
    const envelope = JSON.parse(proofLine?.slice('proof:'.length) ?? 'null');
    const custodyKey = Buffer.from(keys.custodyKeyPair(REQUEST).publicKey).toString('base64');
    expect(verifyCustodyProof(envelope, { custodyKey, requestId: REQUEST }).requestId).toBe(
      REQUEST,
    );
  });

  it('refuses without a device secret, and does not make one', async () => {
    await expect(
      run('custody', 'prove', '--config', configPath, '--request-id', REQUEST),
    ).rejects.toMatchObject({ code: 'no_device_secret' });
    await expect(DeviceKeys.loadExisting(join(dir, 'data'))).rejects.toMatchObject({
      code: 'key_missing',
    });
  });

  it('refuses a malformed request id naming the flag', async () => {
    await DeviceKeys.load(join(dir, 'data'));
    await expect(
      run('custody', 'prove', '--config', configPath, '--request-id', 'short'),
    ).rejects.toThrow(/^--request-id: /);
    expect(printed).toEqual([]);
  });
});
