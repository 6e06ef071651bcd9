import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A CA made by the test (openssl), and a server certificate it signs for the names the
 * tests use: 127.0.0.1, localhost and `agency.test` (a name only the test's SOCKS proxy
 * can resolve).
 */
export interface TestCa {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** A second CA that signed nothing here: trusting it alone must fail. */
  readonly otherCaFile: string;
}

export const TEST_HOST_NAME = 'agency.test';

export async function makeTestCa(dir: string): Promise<TestCa> {
  const path = (name: string) => join(dir, name);
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const newCa = (name: string) =>
    // biome-ignore format: openssl flags read best in pairs
    run([
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', path(`${name}.key`), '-out', path(`${name}.pem`), '-days', '2',
      '-subj', `/CN=Threshold ${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign',
    ]);
  newCa('test-ca');
  newCa('other-ca');
  // biome-ignore format: openssl flags read best in pairs
  run([
    'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', path('server.key'), '-out', path('server.csr'), '-subj', '/CN=localhost',
  ]);
  await writeFile(
    path('server.ext'),
    `subjectAltName=DNS:localhost,DNS:${TEST_HOST_NAME},IP:127.0.0.1\nextendedKeyUsage=serverAuth\n`,
  );
  // biome-ignore format: openssl flags read best in pairs
  run([
    'x509', '-req', '-in', path('server.csr'), '-CA', path('test-ca.pem'),
    '-CAkey', path('test-ca.key'), '-CAcreateserial', '-out', path('server.pem'),
    '-days', '2', '-extfile', path('server.ext'),
  ]);
  return {
    caFile: path('test-ca.pem'),
    certFile: path('server.pem'),
    keyFile: path('server.key'),
    otherCaFile: path('other-ca.pem'),
  };
}
