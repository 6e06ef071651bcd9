import nacl from 'tweetnacl';

/**
 * TSEAL1 written a second time, straight from DESIGN.md ("Seal"), with tweetnacl's
 * high-level calls on whole buffers in memory: the way the agent sealed before libsodium
 * took over its chunks, kept as an independent reference for interop tests. It shares no
 * code with agent/seal/, so a fault there cannot hide here. Not streaming, not fast, and
 * it names a failure only as "not intact".
 */
const CHUNK = 65_536;
const TAG = nacl.secretbox.overheadLength;
const MAGIC = 'TSEAL1\n';
const encoder = new TextEncoder();

export interface ReferenceOpened {
  readonly context: unknown;
  readonly plaintext: Uint8Array;
}

export function referenceSeal(
  plaintext: Uint8Array,
  recipient: Uint8Array,
  context: object,
): Uint8Array {
  const fileKey = nacl.randomBytes(32);
  const prefix = nacl.randomBytes(16);
  const ephemeral = nacl.box.keyPair();
  const s = nacl.scalarMult(ephemeral.secretKey, recipient);
  if (s.every((byte) => byte === 0)) throw new Error('low-order recipient key');
  const wrapKey = h('threshold/seal/v1/wrap', s, ephemeral.publicKey, recipient);
  const wrapped = nacl.secretbox(fileKey, new Uint8Array(24), wrapKey);
  const contextBytes = encoder.encode(JSON.stringify(context));
  const header = concat(
    encoder.encode(MAGIC),
    u32be(CHUNK),
    ephemeral.publicKey,
    wrapped,
    prefix,
    Uint8Array.of(contextBytes.length >>> 8, contextBytes.length & 0xff),
    contextBytes,
  );
  const payloadKey = h('threshold/seal/v1/payload', fileKey, nacl.hash(header));
  const count = Math.max(1, Math.ceil(plaintext.length / CHUNK));
  const boxes: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const chunk = plaintext.subarray(i * CHUNK, (i + 1) * CHUNK);
    boxes.push(nacl.secretbox(chunk, nonce(prefix, i, i === count - 1), payloadKey));
  }
  return concat(header, ...boxes);
}

/** Opens `sealed` or throws; releases nothing unless every chunk authenticated. */
export function referenceOpen(sealed: Uint8Array, boxSecretKey: Uint8Array): ReferenceOpened {
  const fail = (why: string): never => {
    throw new Error(`not intact: ${why}`);
  };
  if (sealed.length < 109) fail('short header');
  if (new TextDecoder().decode(sealed.subarray(0, 7)) !== MAGIC) fail('magic');
  const view = new DataView(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  if (view.getUint32(7) !== CHUNK) fail('chunk size');
  const n = view.getUint16(107);
  if (n > 1024 || sealed.length < 109 + n) fail('context');
  const header = sealed.subarray(0, 109 + n);
  const ephemeral = sealed.subarray(11, 43);
  const recipient = nacl.scalarMult.base(boxSecretKey);
  const s = nacl.scalarMult(boxSecretKey, ephemeral);
  if (s.every((byte) => byte === 0)) fail('low-order ephemeral key');
  const wrapKey = h('threshold/seal/v1/wrap', s, ephemeral, recipient);
  const fileKey =
    nacl.secretbox.open(sealed.subarray(43, 91), new Uint8Array(24), wrapKey) ?? fail('wrap');
  const payloadKey = h('threshold/seal/v1/payload', fileKey, nacl.hash(header));
  const prefix = sealed.subarray(91, 107);
  const body = sealed.subarray(header.length);
  const count = Math.max(1, Math.ceil(body.length / (CHUNK + TAG)));
  const lastSealed = body.length - (count - 1) * (CHUNK + TAG);
  if (lastSealed < TAG || (lastSealed === TAG && count > 1)) fail('length');
  const parts: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const box = body.subarray(i * (CHUNK + TAG), (i + 1) * (CHUNK + TAG));
    parts.push(
      nacl.secretbox.open(box, nonce(prefix, i, i === count - 1), payloadKey) ?? fail(`chunk ${i}`),
    );
  }
  const context: unknown = JSON.parse(new TextDecoder().decode(header.subarray(109)));
  return { context, plaintext: concat(...parts) };
}

/** `H(label ‖ parts)`: the first 32 bytes of SHA-512. */
function h(label: string, ...parts: Uint8Array[]): Uint8Array {
  return nacl.hash(concat(encoder.encode(label), ...parts)).subarray(0, 32);
}

/** `prefix ‖ 0x000000 ‖ u32be(index) ‖ last` */
function nonce(prefix: Uint8Array, index: number, last: boolean): Uint8Array {
  return concat(prefix, new Uint8Array(3), u32be(index), Uint8Array.of(last ? 1 : 0));
}

function u32be(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
