import { describe, expect, it } from 'vitest';
import { parseRequestMessage } from './parse.js';
import {
  isCanonicalBase64,
  parseIsoUtc,
  REJECT_REASONS,
  REQUEST_PAYLOAD_TYPE,
  requestEnvelopeSchema,
  requestPayloadSchema,
} from './protocol.js';

const KEY32 = Buffer.alloc(32, 1).toString('base64');
const valid = {
  v: 1,
  id: Buffer.alloc(16, 2).toString('base64url'),
  agencyId: 'metro-pd',
  investigationCode: 'MPD-2026/0042',
  title: 'Burglary on Elm Street',
  description: 'Line one.\n\tLine two.',
  area: { lat: 52.5, lon: 13.4, radiusM: 500 },
  window: { start: '2026-03-01T10:00:00Z', end: '2026-03-01T11:00:00.500Z' },
  issuedAt: '2026-03-01T12:00:00Z',
  expiresAt: '2026-03-02T12:00:00Z',
  recipient: { boxPublicKey: KEY32 },
  upload: { url: 'https://evidence.example.org/files/' },
  contact: { name: 'Det. Rivera', phone: '+1 (555) 0100', email: 'rivera@example.org' },
};

const accepts = (change: (p: Record<string, any>) => void) => {
  const payload = structuredClone(valid) as Record<string, any>;
  change(payload);
  return requestPayloadSchema.safeParse(payload).success;
};

describe('protocol schemas', () => {
  it('lists the reasons in the design order (the owner switching requests off first)', () => {
    expect(REJECT_REASONS.join(' ')).toBe(
      'requests_off too_large not_json schema unsupported_version wrong_topic expired not_yet_valid ' +
        'duplicate delegation_invalid delegation_expired revoked bad_signature out_of_region ' +
        'out_of_area radius_too_large window_too_long window_beyond_retention agency_blocked ' +
        'rate_limited',
    );
  });

  it('accepts only canonical base64', () => {
    expect(isCanonicalBase64('AA==', 1)).toBe(true);
    expect(isCanonicalBase64('AB==')).toBe(false); // stray bits
    expect(isCanonicalBase64('AA')).toBe(false); // unpadded
    expect(isCanonicalBase64('A-_=')).toBe(false); // base64url alphabet
    expect(isCanonicalBase64(KEY32, 32)).toBe(true);
    expect(isCanonicalBase64(KEY32, 31)).toBe(false);
  });

  it('accepts only ISO-8601 UTC times that name a real instant', () => {
    expect(parseIsoUtc('2026-03-01T12:00:00Z')).toBe(Date.UTC(2026, 2, 1, 12));
    expect(parseIsoUtc('2026-03-01T12:00:00.123Z')).toBe(Date.UTC(2026, 2, 1, 12, 0, 0, 123));
    expect(parseIsoUtc('2026-02-31T00:00:00Z')).toBeUndefined();
    expect(parseIsoUtc('2026-03-01T12:00:00+01:00')).toBeUndefined();
    expect(parseIsoUtc('2026-03-01T12:00:00z')).toBeUndefined();
    expect(parseIsoUtc('2026-03-01 12:00:00Z')).toBeUndefined();
    expect(parseIsoUtc('1772366400000')).toBeUndefined();
  });

  it('parses a valid request, times in ms', () => {
    const parsed = requestPayloadSchema.parse(valid);
    expect(parsed.window).toEqual({
      start: Date.UTC(2026, 2, 1, 10),
      end: Date.UTC(2026, 2, 1, 11, 0, 0, 500),
    });
  });

  const refusals: Record<string, (p: Record<string, any>) => void> = {
    'an unknown key': (p) => {
      p.extra = 1;
    },
    'an unknown contact key': (p) => {
      p.contact.fax = '1';
    },
    'a missing field': (p) => {
      delete p.recipient;
    },
    'v 2': (p) => {
      p.v = 2;
    },
    'an id of 21 characters': (p) => {
      p.id = p.id.slice(1);
    },
    'a non-canonical id': (p) => {
      p.id = `${p.id.slice(0, 21)}B`;
    },
    'an agency id with a space': (p) => {
      p.agencyId = 'metro pd';
    },
    'an investigation code of 65 characters': (p) => {
      p.investigationCode = 'A'.repeat(65);
    },
    'an empty investigation code': (p) => {
      p.investigationCode = '';
    },
    'an investigation code with a colon': (p) => {
      p.investigationCode = 'MPD:1';
    },
    'a title of 121 characters': (p) => {
      p.title = 'T'.repeat(121);
    },
    'a newline in the title': (p) => {
      p.title = 'a\nb';
    },
    'an escape sequence in the description': (p) => {
      p.description = 'red \u001b[31m text';
    },
    'a bidi override in the title': (p) => {
      p.title = 'abc\u202edef';
    },
    'a description of 2001 characters': (p) => {
      p.description = 'd'.repeat(2001);
    },
    'a radius of 0': (p) => {
      p.area.radiusM = 0;
    },
    'a radius beyond 50 km': (p) => {
      p.area.radiusM = 50_001;
    },
    'a latitude of 91': (p) => {
      p.area.lat = 91;
    },
    'a window that ends before it starts': (p) => {
      p.window.end = p.window.start;
    },
    'a local time': (p) => {
      p.issuedAt = '2026-03-01T12:00:00';
    },
    'validity beyond 30 days': (p) => {
      p.expiresAt = '2026-04-01T12:00:00Z';
    },
    'expiry before issue': (p) => {
      p.expiresAt = '2026-03-01T11:59:59Z';
    },
    'a 31-byte recipient key': (p) => {
      p.recipient.boxPublicKey = Buffer.alloc(31).toString('base64');
    },
    'an http upload URL': (p) => {
      p.upload.url = 'http://evidence.example.org/files/';
    },
    'an upload URL with credentials': (p) => {
      p.upload.url = 'https://user:secret@evidence.example.org/files/';
    },
    'a phone number with letters': (p) => {
      p.contact.phone = 'call me';
    },
  };
  for (const [name, change] of Object.entries(refusals)) {
    it(`refuses ${name}`, () => {
      expect(accepts(() => undefined)).toBe(true);
      expect(accepts(change)).toBe(false);
    });
  }

  it('bounds the envelope: 1 to 4 signatures of 64 bytes, lower-case hex key ids', () => {
    const envelope = {
      payloadType: REQUEST_PAYLOAD_TYPE,
      payload: Buffer.from(JSON.stringify(valid)).toString('base64'),
      signatures: [{ keyid: 'ab'.repeat(32), sig: Buffer.alloc(64).toString('base64') }],
      delegation: {
        payloadType: 'x',
        payload: 'AA==',
        signatures: [{ keyid: '', sig: Buffer.alloc(64).toString('base64') }],
      },
    };
    const ok = (change: (e: any) => void) => {
      const copy = structuredClone(envelope);
      change(copy);
      return requestEnvelopeSchema.safeParse(copy).success;
    };
    expect(ok(() => undefined)).toBe(true);
    expect(ok((e) => (e.signatures = []))).toBe(false);
    expect(ok((e) => (e.signatures = Array(5).fill(e.signatures[0])))).toBe(false);
    expect(ok((e) => (e.signatures[0].sig = Buffer.alloc(63).toString('base64')))).toBe(false);
    expect(ok((e) => (e.signatures[0].keyid = 'AB'))).toBe(false);
    expect(ok((e) => delete e.delegation)).toBe(false);
    expect(ok((e) => (e.payload = 'not base64!'))).toBe(false);
  });

  it('tells schema from unsupported_version', () => {
    const message = (payloadType: string, payload: unknown) =>
      Buffer.from(
        JSON.stringify({
          payloadType,
          payload: Buffer.from(
            typeof payload === 'string' ? payload : JSON.stringify(payload),
          ).toString('base64'),
          signatures: [{ keyid: '', sig: Buffer.alloc(64).toString('base64') }],
          delegation: {
            payloadType: 'x',
            payload: 'AA==',
            signatures: [{ keyid: '', sig: Buffer.alloc(64).toString('base64') }],
          },
        }),
      );
    const reason = (bytes: Buffer) => {
      const result = parseRequestMessage(bytes);
      return result.kind === 'rejected' ? result.reason : 'ok';
    };
    expect(reason(message(REQUEST_PAYLOAD_TYPE, valid))).toBe('ok');
    expect(reason(message(REQUEST_PAYLOAD_TYPE.replace('=1', '=2'), valid))).toBe(
      'unsupported_version',
    );
    expect(reason(message(REQUEST_PAYLOAD_TYPE, { ...valid, v: 2, newField: 1 }))).toBe(
      'unsupported_version',
    );
    expect(reason(message('text/plain', valid))).toBe('schema');
    expect(reason(message(REQUEST_PAYLOAD_TYPE, 'not json'))).toBe('schema');
    expect(reason(message(REQUEST_PAYLOAD_TYPE, { ...valid, title: 5 }))).toBe('schema');
    expect(reason(Buffer.from([0xff, 0xfe, 0x7b]))).toBe('not_json');
  });
});
