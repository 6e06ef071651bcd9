import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { requestIdSchema } from '../requests/protocol.js';

/**
 * The tus `Upload-Metadata` of a shared file (DESIGN.md, "Upload"; tus 1.0, Creation
 * extension): exactly these four keys. Promise 3: nothing here may name the device, so the
 * file name is random (`randomUploadFilename`), never the sealed file's path or name.
 * The device builds it from `UploadMetadata`; the agency's receiver parses the wire form
 * with `wireMetadataSchema`. One definition for both ends.
 */
export const UPLOAD_KINDS = ['clip', 'custody'] as const;
export type UploadKind = (typeof UPLOAD_KINDS)[number];

export const MAX_CLIP_INDEX = 99_999;
/** Random letters and digits, with at most two short extensions (`.mp4.tseal`). */
const FILENAME = /^[A-Za-z0-9_-]{8,64}(\.[A-Za-z0-9]{1,8}){0,2}$/;

export const uploadMetadataSchema = z.strictObject({
  requestId: requestIdSchema,
  kind: z.enum(UPLOAD_KINDS),
  clipIndex: z.number().int().min(0).max(MAX_CLIP_INDEX),
  filename: z.string().regex(FILENAME, { message: 'must be a random name without a path' }),
});

export type UploadMetadata = z.infer<typeof uploadMetadataSchema>;

/** The wire form: every value a string (tus metadata values are base64 of UTF-8). */
export type WireMetadata = Record<keyof UploadMetadata, string>;

export function toWireMetadata(metadata: UploadMetadata): WireMetadata {
  return {
    requestId: metadata.requestId,
    kind: metadata.kind,
    clipIndex: String(metadata.clipIndex),
    filename: metadata.filename,
  };
}

/** Parses decoded tus metadata (a key without a value decodes to null) from a client. */
export const wireMetadataSchema = z
  .strictObject({
    requestId: z.string(),
    kind: z.string(),
    clipIndex: z.string().regex(/^(0|[1-9][0-9]{0,4})$/),
    filename: z.string(),
  })
  .transform((wire) => ({ ...wire, clipIndex: Number(wire.clipIndex) }))
  .pipe(uploadMetadataSchema);

/** A fresh random file name for the metadata, e.g. `Q2x…9a.tseal` (16 random bytes). */
export function randomUploadFilename(extension = 'tseal'): string {
  return `${randomBytes(16).toString('base64url')}.${extension}`;
}
