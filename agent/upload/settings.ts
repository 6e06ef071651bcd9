import type { Config } from '../config/schema.js';
import type { UploadSettings } from './uploader.js';

/** The uploader's settings from the config's `upload` block (absent: no cap, no proxy). */
export function uploadSettings(upload: Config['upload']): UploadSettings {
  if (!upload) return {};
  return {
    ...(upload.maxBytesPerSecond === undefined
      ? {}
      : { maxBytesPerSecond: upload.maxBytesPerSecond }),
    ...(upload.ca === undefined ? {} : { ca: upload.ca }),
    ...(upload.proxy === undefined ? {} : { proxy: upload.proxy }),
    ...(upload.idleTimeoutSeconds === undefined
      ? {}
      : { idleTimeoutMs: upload.idleTimeoutSeconds * 1000 }),
  };
}
