/**
 * The seal's public face: TSEAL1 sealing and opening (format in tseal-format.ts).
 */
export {
  type OpenFileOptions,
  type OpenResult,
  openSealedBytes,
  openSealedFile,
} from './open-file.js';
export { type SealFileOptions, type SealResult, sealFile } from './seal-file.js';
export {
  CHUNK_BYTES,
  MAX_CONTEXT_BYTES,
  type SealContext,
  SealError,
  type SealErrorCode,
} from './tseal-format.js';
