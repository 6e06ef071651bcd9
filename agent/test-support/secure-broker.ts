import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Mosquitto } from './mosquitto.js';

/**
 * A Mosquitto broker as a real deployment runs one: TLS with a certificate for 127.0.0.1
 * (self-signed, so it is its own CA file) and a user name and password required.
 */
export interface SecureBroker {
  readonly broker: Mosquitto;
  /** mqtts://127.0.0.1:PORT */
  readonly url: string;
  /** The PEM file a client trusts the broker with. */
  readonly caFile: string;
  readonly username: string;
  readonly password: string;
  stop(): Promise<void>;
}

function run(command: string, args: readonly string[]): void {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr}`);
}

export async function startSecureBroker(
  credentials: { username: string; password: string } = {
    username: 'doorbell',
    password: 'broker-pass-7Qx',
  },
): Promise<SecureBroker> {
  const dir = await mkdtemp(join(tmpdir(), 'threshold-broker-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  // biome-ignore format: openssl flags read best in pairs
  run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1',
  ]);
  const passwords = join(dir, 'passwords');
  run('mosquitto_passwd', ['-b', '-c', passwords, credentials.username, credentials.password]);
  const broker = await Mosquitto.start({
    tls: { certFile: cert, keyFile: key },
    passwordFile: passwords,
  });
  return {
    broker,
    url: broker.url,
    caFile: cert,
    ...credentials,
    stop: async () => {
      await broker.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
