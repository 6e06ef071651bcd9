import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { access, chmod, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import ngeohash from 'ngeohash';
import { readPublicFile } from '../crypto/key-files.js';
import { ThresholdError } from '../errors.js';

const run = promisify(execFile);

/**
 * The demo's stand-in for a trust root and an agency. It drives the agency's own command
 * line (`threshold-agency`) as a real agency would, so the device never links agency
 * code: keys made once under the demo's data directory, a delegation, a signed request
 * published to the agent's embedded broker, and the agency's receiver over HTTPS with a
 * demo CA (made once with openssl) that the device trusts through `upload.ca`.
 */
export class DemoAgency {
  #receiver: ChildProcess | undefined;

  private constructor(
    readonly dir: string,
    readonly rootDir: string,
    readonly agencyDir: string,
    readonly caDir: string,
  ) {}

  static async prepare(dataDir: string): Promise<DemoAgency> {
    const agency = new DemoAgency(
      dataDir,
      join(dataDir, 'demo-root'),
      join(dataDir, 'demo-agency'),
      join(dataDir, 'demo-ca'),
    );
    for (const dir of [agency.rootDir, agency.agencyDir]) {
      if (!(await exists(join(dir, 'signing.key')))) await agencyTool(['keygen', '--out', dir]);
    }
    if (!(await exists(agency.caFile))) await makeDemoCa(agency.caDir);
    return agency;
  }

  /** The CA certificate the device trusts for uploads to the demo receiver. */
  get caFile(): string {
    return join(this.caDir, 'ca.pem');
  }

  /** Where the demo agency's receiver writes verified clips. */
  get receivedDir(): string {
    return join(this.agencyDir, 'received');
  }

  /** The base64 Ed25519 key the device trusts as its root. */
  async rootPublicKey(): Promise<string> {
    const key = await readPublicFile(join(this.rootDir, 'signing.pub'), 32);
    return Buffer.from(key).toString('base64');
  }

  /**
   * Starts `threshold-agency receive` on loopback; resolves with its upload endpoint.
   * Each verified clip is passed to `onEvent` as the receiver's JSON line.
   */
  async startReceiver(onEvent: (event: Record<string, unknown>) => void): Promise<string> {
    // biome-ignore format: flag pairs read best one per line
    const child = spawn(process.execPath, [
      agencyBin(), 'receive', '--key', this.agencyDir, '--listen', '127.0.0.1:0',
      '--tls-cert', join(this.caDir, 'server.pem'), '--tls-key', join(this.caDir, 'server.key'),
      '--out', this.receivedDir, '--json',
    ], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.#receiver = child;
    return new Promise((resolvePromise, reject) => {
      let pending = '';
      child.once('exit', (code) =>
        reject(new ThresholdError('demo_receiver', `the demo receiver exited (${code})`)),
      );
      child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
        pending += chunk;
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) {
          if (!line.trim()) continue;
          const event = JSON.parse(line) as Record<string, unknown>;
          if (event.event === 'listening') resolvePromise(String(event.endpoint));
          else onEvent(event);
        }
      });
    });
  }

  stopReceiver(): void {
    this.#receiver?.kill('SIGTERM');
  }

  /** Signs a request for footage of `window` near `location` and publishes it. */
  async publishRequest(
    brokerUrl: string,
    location: { lat: number; lon: number },
    window: { start: number; end: number },
    uploadUrl: string,
  ): Promise<string> {
    const delegation = join(this.agencyDir, 'delegation.json');
    // biome-ignore format: flag pairs read best one per line
    await agencyTool([
      'delegate', '--root', this.rootDir, '--agency', this.agencyDir, '--agency-id', 'demo-pd',
      '--name', 'Demo Police Department', '--regions', ngeohash.encode(location.lat, location.lon, 3),
      '--max-radius-m', '800', '--max-window-s', String(12 * 3600), '--days', '7', '--out', delegation,
    ]);
    // biome-ignore format: flag pairs read best one per line
    const { stdout } = await agencyTool([
      'request', '--agency', this.agencyDir, '--delegation', delegation,
      '--lat', String(location.lat + 0.001), '--lon', String(location.lon), '--radius-m', '400',
      '--from', new Date(window.start).toISOString(), '--to', new Date(window.end).toISOString(),
      '--code', 'DEMO-2026-0001', '--title', 'Package theft on this street',
      '--description', 'A parcel was taken from a porch nearby. Footage of the street may help.',
      '--contact-name', 'Desk officer', '--contact-phone', '+1 555 0100',
      '--upload-url', uploadUrl, '--expires-in', '72h', '--publish', brokerUrl, '--json',
    ]);
    return (JSON.parse(stdout) as { id: string }).id;
  }
}

/** The built agency command line, beside this package's `bin/`. */
function agencyBin(): string {
  // From agent/cli (sources) or dist/agent/cli (built): bin/ is two or three levels up.
  const up = import.meta.dirname.includes(join('dist', 'agent')) ? '../../..' : '../..';
  return resolve(import.meta.dirname, up, 'bin/threshold-agency.js');
}

async function agencyTool(args: string[]): Promise<{ stdout: string }> {
  try {
    return await run(process.execPath, [agencyBin(), ...args], { timeout: 60_000 });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new ThresholdError(
      'demo_agency',
      `threshold-agency ${args[0]} failed${stderr ? `: ${stderr}` : ''}`,
    );
  }
}

/** A demo CA and a certificate for 127.0.0.1 and localhost, each valid 30 days. */
async function makeDemoCa(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = (name: string) => join(dir, name);
  const openssl = (args: string[]) => run('openssl', args, { timeout: 30_000 });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  // biome-ignore format: openssl flags read best in pairs
  await openssl([
    'req', '-x509', ...ec, '-keyout', path('ca.key'), '-out', path('ca.pem'), '-days', '30',
    '-subj', '/CN=Threshold demo CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign',
  ]);
  // biome-ignore format: openssl flags read best in pairs
  await openssl([
    'req', ...ec, '-keyout', path('server.key'), '-out', path('server.csr'), '-subj', '/CN=localhost',
  ]);
  await writeFile(
    path('server.ext'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n',
  );
  // biome-ignore format: openssl flags read best in pairs
  await openssl([
    'x509', '-req', '-in', path('server.csr'), '-CA', path('ca.pem'), '-CAkey', path('ca.key'),
    '-CAcreateserial', '-out', path('server.pem'), '-days', '30', '-extfile', path('server.ext'),
  ]);
  await chmod(path('server.key'), 0o600);
  await chmod(path('ca.key'), 0o600);
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
