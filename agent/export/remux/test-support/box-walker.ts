import { expect } from 'vitest';

/**
 * Reads ISO BMFF (ISO/IEC 14496-12) boxes back as a tree, so tests can check what the MP4
 * writers lay out without trusting them: every size must add up, or the walk fails.
 */

/** One box as read back: its type, where its body lies, and its children for containers. */
export interface Box {
  type: string;
  size: number;
  body: Buffer;
  children: Box[];
}

/** Boxes holding only boxes, and where the children start in the body of those that hold more. */
const CHILDREN_AT: Record<string, number> = {
  moov: 0,
  trak: 0,
  edts: 0,
  mdia: 0,
  minf: 0,
  dinf: 0,
  stbl: 0,
  dref: 8, // version/flags, entry_count
  stsd: 8,
  avc1: 78, // the VisualSampleEntry fields
};

/** The boxes in `buf` from `from` to `to`, which they must fill exactly; 64-bit sizes read. */
export function walk(buf: Buffer, from = 0, to = buf.length): Box[] {
  const boxes: Box[] = [];
  let at = from;
  while (at < to) {
    expect(to - at).toBeGreaterThanOrEqual(8);
    let size = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    let header = 8;
    if (size === 1) {
      size = Number(buf.readBigUInt64BE(at + 8));
      header = 16;
    }
    expect(size).toBeGreaterThanOrEqual(header);
    const end = Math.min(at + size, buf.length);
    const body = buf.subarray(at + header, end);
    const skip = CHILDREN_AT[type];
    const children = skip === undefined ? [] : walk(buf, at + header + skip, at + size);
    boxes.push({ type, size, body, children });
    at += size;
  }
  expect(at).toBe(to);
  return boxes;
}

/** The tree's shape: `type[child,child]`. */
export const shape = (boxes: readonly Box[]): string =>
  boxes.map((b) => (b.children.length > 0 ? `${b.type}[${shape(b.children)}]` : b.type)).join(',');

/** The box at `path` (`moov/trak/tkhd`), the first of its type at each level. */
export function find(boxes: readonly Box[], path: string): Box {
  const [type, ...rest] = path.split('/');
  const box = boxes.find((b) => b.type === type);
  if (!box) throw new Error(`no ${type} box`);
  return rest.length > 0 ? find(box.children, rest.join('/')) : box;
}

/** A full box's version byte. */
export const version = (box: Box) => box.body[0];

/** A full box's 24-bit flags. */
export const flags = (box: Box) => box.body.readUInt32BE(0) & 0xffffff;

/** A full box's table: entry_count, then `count` entries of `fields` 32-bit numbers. */
export function table(box: Box, fields: number, at = 4): number[][] {
  const count = box.body.readUInt32BE(at);
  expect(box.body.length).toBe(at + 4 + count * fields * 4);
  return Array.from({ length: count }, (_, i) =>
    Array.from({ length: fields }, (_, j) => box.body.readUInt32BE(at + 4 + (i * fields + j) * 4)),
  );
}
