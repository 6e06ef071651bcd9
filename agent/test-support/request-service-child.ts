import { SystemClock } from '../../hal/linux/clock.js';
import { loadConfig } from '../config/load.js';
import { agentPaths, openAgentDatabase } from '../db/open.js';
import { createLogger } from '../log.js';
import { Pins } from '../recording/pins.js';
import { SegmentIndex } from '../recording/segment-index.js';
import { footageIndexOf } from '../requests/footage.js';
import { createRequestService } from '../requests/request-service.js';

/**
 * The request service alone in a process, for tests that kill it (-9) mid-delivery.
 * Usage: request-service-child.ts CONFIG. Prints `ready` once subscribed and one
 * `result {json}` line per intake outcome; SIGTERM stops it cleanly.
 */

const configPath = process.argv[2];
if (!configPath) throw new Error('usage: request-service-child.ts CONFIG');
const config = await loadConfig(configPath);
const db = await openAgentDatabase(config);
const footage = footageIndexOf(
  new SegmentIndex(db, agentPaths(config.dataDir).segments),
  new Pins(db),
);
const controller = new AbortController();
const service = createRequestService({
  config,
  db,
  clock: new SystemClock(),
  footage,
  log: createLogger({ level: 'warn' }),
  backoff: { baseMs: 50, maxMs: 300 },
  onResult: (result) => process.stdout.write(`result ${JSON.stringify(result)}\n`),
});
await service.start(controller.signal);
const timer = setInterval(() => {
  if (service.connection()?.state === 'ready') {
    clearInterval(timer);
    process.stdout.write('ready\n');
  }
}, 10);
process.once('SIGTERM', () => {
  clearInterval(timer);
  controller.abort();
  service
    .stop()
    .then(() => db.close())
    .then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`stop failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
});
