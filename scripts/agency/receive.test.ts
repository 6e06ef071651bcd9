import { randomBytes } from 'node:crypto';
import { chmod, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newRequestId } from '../../agent/requests/build.js';
import { waitFor } from '../../agent/test-support/poll.js';
import { type UploadWorld, uploadWorld } from '../../agent/upload/test-support/upload-world.js';
import { UploadRefused } from '../../agent/upload/uploader.js';

let world: UploadWorld;
beforeEach(async () => {
  world = await uploadWorld({ maxBytes: 1024 * 1024 });
});
afterEach(async () => {
  await world.close();
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
}

/** One request straight to the receiver (not through the front). */
async function send(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: Buffer,
): Promise<Answer> {
  const ca = await readFile(world.ca.caFile);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: world.receiver.port,
        servername: 'localhost',
        method,
        path,
        ca,
        headers: { 'Tus-Resumable': '1.0.0', ...headers },
        agent: false,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const b64 = (text: string) => Buffer.from(text).toString('base64');
function metadata(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([key, value]) => `${key} ${b64(value)}`)
    .join(',');
}

/** Every file under `dir`, relative. */
async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
    .sort();
}

describe('threshold-agency receive', () => {
  it('refuses an upload for a request this agency did not sign, storing nothing', async () => {
    const pair = await world.sealPair({ plaintext: randomBytes(1000) });
    const input = world.input(pair.clip, 'clip', 0);
    const unknown = { ...input, metadata: { ...input.metadata, requestId: newRequestId() } };
    const error = await world
      .uploader()
      .upload(unknown)
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(UploadRefused);
    expect((error as UploadRefused).status).toBe(403);
    expect(await files(join(world.outDir, 'uploads'))).toEqual([]);
  });

  it('refuses an upload over --max-bytes (413), before storing anything', async () => {
    const pair = await world.sealPair({ plaintext: randomBytes(1024 * 1024 + 1) });
    const error = await world
      .uploader()
      .upload(world.input(pair.clip, 'clip', 0))
      .catch((err: unknown) => err);
    expect(error).toMatchObject({ code: 'upload_refused', status: 413 });
    const fields = {
      requestId: world.requestId,
      kind: 'clip',
      clipIndex: '0',
      filename: 'abcdefgh.tseal',
    };
    const answer = await send('POST', '/files', {
      'Upload-Length': String(2 * 1024 * 1024),
      'Upload-Metadata': metadata(fields),
    });
    expect(answer.status).toBe(413);
    expect(await files(join(world.outDir, 'uploads'))).toEqual([]);
  });

  it('refuses metadata other than exactly the four keys (400)', async () => {
    const fields = {
      requestId: world.requestId,
      kind: 'clip',
      clipIndex: '0',
      filename: 'abcdefgh.tseal',
    };
    const cases: Record<string, string>[] = [
      { 'Upload-Length': '10' },
      { 'Upload-Length': '10', 'Upload-Metadata': metadata({ ...fields, clientId: 'doorbell-1' }) },
      { 'Upload-Length': '10', 'Upload-Metadata': metadata({ ...fields, kind: 'video' }) },
      { 'Upload-Length': '10', 'Upload-Metadata': metadata({ ...fields, filename: '../../x' }) },
      {
        'Upload-Length': '10',
        'Upload-Metadata': metadata({ requestId: world.requestId, kind: 'clip', clipIndex: '0' }),
      },
      { 'Upload-Defer-Length': '1', 'Upload-Metadata': metadata(fields) },
    ];
    for (const headers of cases) expect((await send('POST', '/files', headers)).status).toBe(400);
    expect(
      (await send('POST', '/files', { 'Upload-Length': '10', 'Upload-Metadata': metadata(fields) }))
        .status,
    ).toBe(201);
  });

  it('refuses upload ids with ../, %2F or NUL, and GET or DELETE of an upload', async () => {
    const created = await send('POST', '/files', {
      'Upload-Length': '10',
      'Upload-Metadata': metadata({
        requestId: world.requestId,
        kind: 'clip',
        clipIndex: '0',
        filename: 'abcdefgh.tseal',
      }),
    });
    const location = String(created.headers.location);
    expect(location).toMatch(/^\/files\/[0-9a-f]{32}$/);
    const before = await files(world.dir);
    for (const path of [
      '/files/../agency/box.key',
      '/files/..%2F..%2Fagency%2Fbox.key',
      '/files/%2e%2e%2fbox.key',
      `${location}%00`,
      '/files/%00',
      `${location}/..`,
      '/files/x%2Fy',
    ]) {
      for (const method of ['HEAD', 'PATCH']) {
        const headers: Record<string, string> =
          method === 'PATCH'
            ? { 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' }
            : {};
        const answer = await send(
          method,
          path,
          headers,
          method === 'PATCH' ? Buffer.from('0123456789') : undefined,
        );
        expect([400, 404], `${method} ${path}`).toContain(answer.status);
      }
    }
    expect((await send('GET', location)).status).toBe(405);
    expect((await send('DELETE', location)).status).toBe(405);
    expect((await send('HEAD', location)).status).toBe(200);
    expect(await files(world.dir)).toEqual(before);
  });

  it('quarantines a tampered clip with a reason, and writes no plaintext', async () => {
    const plaintext = randomBytes(300_000);
    const pair = await world.sealPair({ plaintext });
    const sealed = await readFile(pair.clip);
    sealed[200_000] = (sealed[200_000] ?? 0) ^ 1;
    await writeFile(pair.clip, sealed);
    const uploader = world.uploader();
    await uploader.upload(world.input(pair.clip, 'clip', 0));
    await uploader.upload(world.input(pair.custody, 'custody', 0));
    const event = await waitFor(() => world.events.find((e) => e.event === 'quarantined'), {
      timeoutMs: 30_000,
    });
    if (event.event !== 'quarantined') throw new Error('unreachable');
    expect(event.reason).toBe('seal_chunk_invalid');
    const reason = JSON.parse(await readFile(join(event.path, 'reason.json'), 'utf8'));
    expect(reason).toMatchObject({
      reason: 'seal_chunk_invalid',
      requestId: world.requestId,
      clipIndex: 0,
    });
    const all = await files(world.outDir);
    expect(all.filter((name) => name.endsWith('.mp4') || name.endsWith('.part'))).toEqual([]);
    // The first chunks authenticated before the bad one: none of their plaintext is anywhere.
    const sample = plaintext.subarray(0, 64);
    for (const name of all) {
      expect((await readFile(join(world.outDir, name))).includes(sample), name).toBe(false);
    }
    expect(world.events.filter((e) => e.event === 'clip')).toEqual([]);
  });

  it('tells a device that resumes a delivered upload that it is complete', async () => {
    const pair = await world.sealPair({ plaintext: randomBytes(50_000) });
    const clip = world.input(pair.clip, 'clip', 0);
    const uploader = world.uploader();
    await uploader.upload(clip);
    await uploader.upload(world.input(pair.custody, 'custody', 0));
    await waitFor(() => world.events.find((e) => e.event === 'clip'), { timeoutMs: 30_000 });
    expect(await files(join(world.outDir, 'uploads'))).toEqual(
      expect.arrayContaining([expect.stringMatching(/\.done$/)]),
    );
    expect(
      (await files(join(world.outDir, 'uploads'))).every((name) => name.endsWith('.done')),
    ).toBe(true);
    const before = world.front.requests.length;
    await uploader.upload({
      ...world.input(pair.clip, 'clip', 0),
      resumeUrl: clip.urls[0] as string,
    });
    expect(world.front.requests.slice(before).map((r) => `${r.method} ${r.offset}`)).toEqual([
      `HEAD ${(await stat(pair.clip)).size}`,
    ]);
  });

  it('delivers, after a restart, pairs completed while it could not deliver', async () => {
    const pair = await world.sealPair({ plaintext: randomBytes(50_000) });
    // The operator loosens the key's mode: delivery fails (not a verification failure).
    await chmod(join(world.keyDir, 'box.key'), 0o644);
    const uploader = world.uploader();
    await uploader.upload(world.input(pair.clip, 'clip', 0));
    await uploader.upload(world.input(pair.custody, 'custody', 0));
    await world.receiver.idle();
    expect(world.events).toEqual([]);
    await chmod(join(world.keyDir, 'box.key'), 0o600);
    await world.restartReceiver();
    const event = await waitFor(() => world.events.find((e) => e.event === 'clip'), {
      timeoutMs: 30_000,
    });
    if (event.event !== 'clip') throw new Error('unreachable');
    expect(Buffer.compare(await readFile(event.path), await readFile(pair.plaintextPath))).toBe(0);
  });

  it('drops a second upload of the same sealed clip as a duplicate', async () => {
    const pair = await world.sealPair({ plaintext: randomBytes(50_000) });
    const uploader = world.uploader();
    await uploader.upload(world.input(pair.clip, 'clip', 0));
    await uploader.upload(world.input(pair.custody, 'custody', 0));
    await waitFor(() => world.events.find((e) => e.event === 'clip'), { timeoutMs: 30_000 });
    await uploader.upload(world.input(pair.clip, 'clip', 0));
    const duplicate = await waitFor(() => world.events.find((e) => e.event === 'duplicate'), {
      timeoutMs: 30_000,
    });
    expect(duplicate).toMatchObject({ clipIndex: 0, kind: 'clip' });
    expect(world.events.filter((e) => e.event === 'clip')).toHaveLength(1);
  });
});
