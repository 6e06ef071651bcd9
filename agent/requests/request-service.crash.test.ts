import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { publishAll } from '../../scripts/agency/publish.js';
import { AuditLog } from '../audit/audit-log.js';
import { loadClientState } from '../mqtt/client-state.js';
import { Pins } from '../recording/pins.js';
import { ROOT } from '../test-support/cli.js';
import { Mosquitto } from '../test-support/mosquitto.js';
import { createRequestWorld, DEVICE_LOCATION } from '../test-support/request-world.js';
import { requestTopics } from './build.js';

/**
 * Promise 6 and idempotent intake: one request delivered 100 times — plain duplicates,
 * redeliveries after broker restarts, and redeliveries after the process running the
 * request service is killed with SIGKILL at arbitrary points — ends as exactly one
 * pending request with its footage pinned, and an intact audit chain.
 *
 * A `duplicate` is refused before any signature work, so it is acknowledged before its
 * audit entry is durable (see `Intake`): a kill may lose such entries, by design. The
 * run is over when the broker has had a PUBACK for each of the 100 deliveries.
 */

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

class Child {
  readonly process: ChildProcess;
  #stdout = '';

  constructor(configPath: string) {
    this.process = spawn(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'agent/test-support/request-service-child.ts'), configPath],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    this.process.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stdout += chunk;
    });
  }

  results(): number {
    return this.#stdout.split('\n').filter((line) => line.startsWith('result ')).length;
  }

  async ready(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#stdout.includes('ready\n')) {
      if (this.process.exitCode !== null) throw new Error('the request service child exited');
      if (Date.now() > deadline) throw new Error('the request service child never subscribed');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async kill9(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    const exited = once(this.process, 'exit');
    this.process.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    const exited = once(this.process, 'exit');
    this.process.kill('SIGTERM');
    await exited;
  }
}

it('turns 100 deliveries of one request, across kill -9 and reconnects, into one pending request', async () => {
  const broker = await Mosquitto.start({ persistence: true });
  cleanup.push(() => broker.stop());
  const world = await createRequestWorld({ mqttUrl: broker.url });
  cleanup.push(() => world.close());
  const built = world.request();
  const topic = requestTopics({ ...DEVICE_LOCATION, radiusM: 500 })[0] ?? '';
  const deliver = (count: number) =>
    publishAll(
      { url: broker.url },
      Array.from({ length: count }, () => ({ topic, payload: built.bytes, retain: false })),
    );

  let child = new Child(world.configPath);
  cleanup.push(() => child.stop());
  await child.ready();
  const deviceId = (await loadClientState(world.config.dataDir)).clientId;
  const acknowledged = () =>
    broker
      .logText()
      .split('\n')
      .filter((line) => line.includes(`Received PUBACK from ${deviceId} `)).length;
  let kills = 0;
  for (let round = 0; round < 10; round++) {
    if (round === 5) {
      await child.kill9(); // these ten wait in the broker's session for the next process
      kills++;
      await deliver(10);
      child = new Child(world.configPath);
      await child.ready();
      continue;
    }
    await deliver(10);
    if (round % 2 === 0) {
      // Kill while the ten are being judged: some committed but not yet acknowledged.
      await new Promise((resolve) => setTimeout(resolve, round * 3));
      await child.kill9();
      kills++;
      child = new Child(world.configPath);
      await child.ready();
    } else if (round === 3) {
      await broker.restart(); // the session and its unacknowledged messages survive
    }
  }
  const audit = new AuditLog(world.db, {
    now: () => Date.now(),
    monotonic: () => performance.now(),
  });
  const judged = async () =>
    (await audit.entries()).filter(
      (e) =>
        e.requestId === built.id ||
        (e.reason === 'duplicate' &&
          (e.detail as { claimedId?: string } | undefined)?.claimedId === built.id),
    );
  const deadline = Date.now() + 20_000;
  while (acknowledged() < 100) {
    if (Date.now() > deadline)
      throw new Error(`only ${acknowledged()} of 100 deliveries acknowledged`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await child.stop();

  expect(kills).toBe(6);
  expect(acknowledged()).toBe(100);
  const entries = await judged();
  expect(entries.filter((e) => e.kind === 'request_accepted')).toHaveLength(1);
  expect(entries.length).toBeGreaterThan(1);
  expect(entries.length - 1).toBe(entries.filter((e) => e.reason === 'duplicate').length);
  const rows = await world.db.all<{ id: string; state: string }>('SELECT id, state FROM requests');
  expect(rows).toEqual([{ id: built.id, state: 'pending' }]);
  const row = await world.db.get<{ segment_ids: string }>('SELECT segment_ids FROM requests');
  const segmentIds = JSON.parse(row?.segment_ids ?? '[]') as number[];
  expect(segmentIds.length).toBeGreaterThan(20);
  expect(await new Pins(world.db).pinnedBy(`request:${built.id}`)).toEqual(segmentIds);
  expect(await audit.verify()).toEqual({ ok: true, count: (await audit.entries()).length });
}, 120_000);
