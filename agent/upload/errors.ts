import { ThresholdError } from '../errors.js';

/**
 * The agency's server refused the upload for good (a 4xx other than the transient ones:
 * 403, 404 on creation, 410 on creation, 413 …). Retrying would only repeat the refusal;
 * the job is `failed(upload_refused)`.
 */
export class UploadRefused extends ThresholdError {
  constructor(
    readonly status: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('upload_refused', message, options);
  }
}

export type UploadErrorCode =
  /** The input cannot be uploaded: bad metadata, a non-https URL, an unreadable file. */
  | 'upload_invalid'
  /** No byte moved for the idle timeout (transient: the attempt is retried). */
  | 'upload_stalled'
  /** The server's upload is not this file: another length, or an offset past the end. */
  | 'upload_mismatch'
  /** The upload URL could not be stored before the first byte (transient). */
  | 'upload_url_not_saved';

/** Failures of the uploader itself; only `upload_invalid` ever reaches the caller. */
export class UploadError extends ThresholdError {
  constructor(
    override readonly code: UploadErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}
