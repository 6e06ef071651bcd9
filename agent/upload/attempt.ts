import { Upload, type UrlStorage } from 'tus-js-client';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { UploadError } from './errors.js';
import { type SealedFile, SealedFileReader } from './file-body.js';
import { httpsTarget, type UploadHttpStack } from './http-stack.js';
import { toWireMetadata, type UploadMetadata } from './metadata.js';
import type { UploadInput } from './uploader.js';

/**
 * One attempt of an upload: a single tus-js-client run, HEAD + PATCH on a known URL or
 * POST + PATCH on the endpoint, with tus-js-client's own retries off (the uploader's loop
 * retries). It never rejects: it tells how it ended.
 */
export type Attempt =
  | { readonly kind: 'done' }
  | { readonly kind: 'failed'; readonly error: Error; readonly url?: string; moved: boolean };

export interface AttemptOptions {
  readonly input: UploadInput;
  readonly file: SealedFile;
  readonly metadata: UploadMetadata;
  /** The upload URL to resume; absent: create an upload at the endpoint. */
  readonly knownUrl?: string;
  readonly stack: UploadHttpStack;
  readonly log: Logger;
}

export function runAttempt(options: AttemptOptions): Promise<Attempt> {
  const { input, file, metadata, knownUrl, stack, log } = options;
  return new Promise<Attempt>((resolve) => {
    if (input.signal.aborted) {
      resolve({ kind: 'failed', error: toError(input.signal.reason), moved: false });
      return;
    }
    let url = knownUrl;
    let moved = false;
    let firstProgress: number | undefined;
    let settled = false;
    const finish = (result: Attempt) => {
      if (settled) return;
      settled = true;
      input.signal.removeEventListener('abort', onAbort);
      resolve(result);
    };
    const fail = (error: Error) =>
      finish({ kind: 'failed', error, ...(url ? { url } : {}), moved });
    const upload = new Upload(file as unknown as Buffer, {
      ...(knownUrl ? { uploadUrl: knownUrl } : { endpoint: input.endpoint }),
      metadata: toWireMetadata(metadata),
      uploadSize: file.size,
      // Retries are the uploader's: tus-js-client's give up after four.
      retryDelays: null,
      chunkSize: Number.POSITIVE_INFINITY,
      addRequestId: false,
      // The URL storage is how tus-js-client waits for `onUrl` before the first PATCH.
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: false,
      fingerprint: async () => 'sealed-file',
      urlStorage: urlStorage(async (newUrl) => {
        if (newUrl === url) return;
        try {
          httpsTarget(newUrl);
          await input.onUrl(newUrl);
          url = newUrl;
        } catch (err) {
          fail(
            err instanceof UploadError
              ? err
              : new UploadError('upload_url_not_saved', 'the upload URL was not stored', {
                  cause: err,
                }),
          );
          await upload.abort();
        }
      }),
      fileReader: new SealedFileReader(),
      httpStack: stack,
      onAfterResponse: (req, res) => checkResponse(req, res, file.size),
      onProgress: (sent, total) => {
        firstProgress ??= sent;
        if (sent > firstProgress) moved = true;
        input.onProgress?.(sent, total);
      },
      onSuccess: () => finish({ kind: 'done' }),
      onError: (error) => fail(error),
    });
    const onAbort = () => {
      finish({ kind: 'failed', error: toError(input.signal.reason), moved });
      upload.abort().catch((err: unknown) => {
        log.debug({ err: errorMessage(err) }, 'abort after an abort signal');
      });
    };
    input.signal.addEventListener('abort', onAbort, { once: true });
    upload.start();
  });
}

/** HEAD answers must describe this file: the same length, an offset inside it. */
function checkResponse(
  req: { getMethod(): string },
  res: { getHeader(name: string): string | undefined; getStatus(): number },
  size: number,
): void {
  if (req.getMethod() !== 'HEAD' || res.getStatus() < 200 || res.getStatus() >= 300) return;
  const length = Number(res.getHeader('Upload-Length'));
  const offset = Number(res.getHeader('Upload-Offset'));
  if (length !== size || !(offset >= 0 && offset <= size)) {
    throw new UploadError(
      'upload_mismatch',
      `the server's upload has length ${length} and offset ${offset}; the file has ${size} bytes`,
    );
  }
}

/** tus-js-client's URL storage, reduced to the one call that matters: a URL to persist. */
function urlStorage(persist: (url: string) => Promise<void>): UrlStorage {
  return {
    findAllUploads: async () => [],
    findUploadsByFingerprint: async () => [],
    removeUpload: async () => undefined,
    addUpload: async (_fingerprint, upload) => {
      if (upload.uploadUrl) await persist(upload.uploadUrl);
      return 'sealed-file';
    },
  };
}

function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}
