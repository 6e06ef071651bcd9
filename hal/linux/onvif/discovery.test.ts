import { describe, expect, it } from 'vitest';
import { probeMatches } from '../../../scripts/camera/onvif/discovery-responder.js';
import { parseProbeMatches } from './discovery.js';

const device = {
  endpoint: 'urn:uuid:1b4e28ba-2fa1-41d2-883f-0016d3cca427',
  xaddr: 'http://192.0.2.20/onvif/device_service http://[2001:db8::20]:8080/onvif/device_service',
  name: 'Front door',
  hardware: 'DB-1',
};

describe('parseProbeMatches', () => {
  it('reads a ProbeMatch for our Probe: the XAddr on the sender address, name and hardware', async () => {
    const xml = probeMatches(device, 'urn:uuid:ours');
    expect(await parseProbeMatches(xml, 'urn:uuid:ours', '192.0.2.20')).toEqual([
      {
        address: '192.0.2.20',
        port: 80,
        xaddr: 'http://192.0.2.20/onvif/device_service',
        name: 'Front door',
        hardware: 'DB-1',
        endpoint: device.endpoint,
      },
    ]);
    const v6 = await parseProbeMatches(xml, 'urn:uuid:ours', '2001:db8::99');
    expect(v6[0]).toMatchObject({ address: '192.0.2.20' });
  });

  it('ignores answers to other probes and anything that is not a ProbeMatches', async () => {
    expect(
      await parseProbeMatches(
        probeMatches(device, 'urn:uuid:theirs'),
        'urn:uuid:ours',
        '192.0.2.20',
      ),
    ).toEqual([]);
    expect(await parseProbeMatches('<not-soap/>', 'urn:uuid:ours', '192.0.2.20')).toEqual([]);
    expect(await parseProbeMatches('\u0000garbage', 'urn:uuid:ours', '192.0.2.20')).toEqual([]);
    const noAddress = probeMatches({ ...device, xaddr: 'ftp://192.0.2.20/x' }, 'urn:uuid:ours');
    expect(await parseProbeMatches(noAddress, 'urn:uuid:ours', '192.0.2.20')).toEqual([]);
  });
});
