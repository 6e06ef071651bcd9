import { access } from 'node:fs/promises';
import { join } from 'node:path';
import ngeohash from 'ngeohash';
import {
  generateKeyDir,
  readBoxPublicKey,
  readSigningKey,
  readSigningPublicKey,
} from '../../scripts/agency/keys.js';
import { publishAll } from '../../scripts/agency/publish.js';
import { buildDelegation, buildRequest, requestTopics } from '../requests/build.js';

/**
 * The demo's stand-in for a trust root and an agency: key directories under the demo's
 * data directory (made once), and a signed request for the last minute of footage,
 * published to the agent's embedded broker as a real agency's tools would.
 */
export class DemoAgency {
  private constructor(
    readonly rootDir: string,
    readonly agencyDir: string,
  ) {}

  static async prepare(dataDir: string): Promise<DemoAgency> {
    const agency = new DemoAgency(join(dataDir, 'demo-root'), join(dataDir, 'demo-agency'));
    for (const dir of [agency.rootDir, agency.agencyDir]) {
      const made = await access(join(dir, 'signing.key')).then(
        () => true,
        () => false,
      );
      if (!made) await generateKeyDir(dir);
    }
    return agency;
  }

  /** The base64 Ed25519 key the device trusts as its root. */
  async rootPublicKey(): Promise<string> {
    return Buffer.from(await readSigningPublicKey(this.rootDir, 'demo root')).toString('base64');
  }

  /** Signs and publishes a request for footage of [`fromMs`, `toMs`] around `location`. */
  async publishRequest(
    brokerUrl: string,
    location: { lat: number; lon: number },
    window: { start: number; end: number },
  ): Promise<string> {
    const now = Date.now();
    const agencySecret = await readSigningKey(this.agencyDir, 'demo agency');
    const delegation = buildDelegation({
      rootSecretKeys: [await readSigningKey(this.rootDir, 'demo root')],
      agencyId: 'demo-pd',
      name: 'Demo Police Department',
      signingKey: agencySecret.subarray(32),
      regions: [ngeohash.encode(location.lat, location.lon, 3)],
      maxRadiusM: 800,
      maxWindowS: 12 * 3600,
      notBefore: now - 60_000,
      notAfter: now + 7 * 86_400_000,
    });
    const area = { lat: location.lat + 0.001, lon: location.lon, radiusM: 400 };
    const request = buildRequest({
      agencySecretKey: agencySecret,
      delegation,
      agencyId: 'demo-pd',
      investigationCode: 'DEMO-2026-0001',
      title: 'Package theft on this street',
      description: 'A parcel was taken from a porch nearby. Footage of the street may help.',
      area,
      window,
      issuedAt: now,
      expiresAt: now + 72 * 3600_000,
      recipientBoxPublicKey: await readBoxPublicKey(this.agencyDir, 'demo agency'),
      uploadUrl: 'https://evidence.example/uploads',
      contact: { name: 'Desk officer', phone: '+1 555 0100' },
    });
    await publishAll(
      { url: brokerUrl },
      requestTopics(area).map((topic) => ({ topic, payload: request.bytes, retain: false })),
    );
    return request.id;
  }
}
