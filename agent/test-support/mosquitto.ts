import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A real Mosquitto broker for tests, on a free loopback port, with its configuration,
 * persistence and log in a temp directory. It logs every packet (`log_type all`), so a
 * test can read which client sent which PUBLISH — the way the silence promise is checked.
 * The log goes to a file rather than stdout: Mosquitto's stdout is block-buffered on a
 * pipe, while its log file is flushed line by line.
 *
 * Mosquitto started as root drops to the `mosquitto` user unless told otherwise; `user
 * root` keeps it able to write its persistence file in our temp directory. It binds only
 * 127.0.0.1 and allows anonymous clients, so it is fit for tests only.
 */

export const MOSQUITTO_PATH = '/usr/sbin/mosquitto';

export interface MosquittoOptions {
  /** Keep sessions and queued messages in a file across `restart()`. */
  persistence?: boolean;
  /** Serve TLS with this certificate and key (PEM files); `url` is then mqtts://. */
  tls?: { certFile: string; keyFile: string };
  /** A `mosquitto_passwd` file; anonymous clients are then refused. */
  passwordFile?: string;
  /** Extra configuration lines (e.g. `max_queued_messages 1000`). */
  extraConfig?: readonly string[];
}

export interface PublishLogEntry {
  clientId: string;
  topic: string;
  qos: number;
  retained: boolean;
  bytes: number;
}

// "Received PUBLISH from <client> (d0, q1, r0, m1, 'topic', ... (123 bytes))"
const PUBLISH_LINE =
  /Received PUBLISH from (\S+) \(d\d, q(\d), r(\d), m\d+, '([^']*)', .*\((\d+) bytes\)\)/;

export class Mosquitto {
  #child: ChildProcess | undefined;
  #output = '';

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly options: MosquittoOptions,
  ) {}

  /** Starts a broker and returns once it accepts connections. */
  static async start(options: MosquittoOptions = {}): Promise<Mosquitto> {
    const dir = await mkdtemp(join(tmpdir(), 'threshold-mosquitto-'));
    // A free port can be taken between probing and binding; try a few.
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      const broker = new Mosquitto(dir, await freePort(), options);
      try {
        await broker.#launch();
        return broker;
      } catch (err) {
        lastError = err;
        await broker.#kill();
      }
    }
    await rm(dir, { recursive: true, force: true });
    throw lastError;
  }

  get url(): string {
    return `${this.options.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${this.port}`;
  }

  /** Everything the broker logged so far. */
  logText(): string {
    const path = join(this.dir, 'mosquitto.log');
    return existsSync(path) ? readFileSync(path, 'utf8') : '';
  }

  /** Every PUBLISH the broker received, in order, with the sender's client id. */
  publishes(): PublishLogEntry[] {
    const entries: PublishLogEntry[] = [];
    for (const line of this.logText().split('\n')) {
      const match = PUBLISH_LINE.exec(line);
      if (!match) continue;
      entries.push({
        clientId: match[1] ?? '',
        qos: Number(match[2]),
        retained: match[3] === '1',
        topic: match[4] ?? '',
        bytes: Number(match[5]),
      });
    }
    return entries;
  }

  /** Resolves once the log matches `pattern`; rejects after `timeoutMs`. */
  async waitForLog(pattern: RegExp, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.logText())) {
      if (Date.now() > deadline) throw new Error(`mosquitto log never matched ${pattern}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Stops the broker (SIGTERM, so it saves its persistence file) and starts it again. */
  async restart(): Promise<void> {
    await this.#kill();
    await this.#launch();
  }

  /** Stops the broker and removes its directory. */
  async stop(): Promise<void> {
    await this.#kill();
    await rm(this.dir, { recursive: true, force: true });
  }

  async #launch(): Promise<void> {
    const confPath = join(this.dir, 'mosquitto.conf');
    const dataDir = join(this.dir, 'data');
    await mkdir(dataDir, { recursive: true });
    const lines = [
      'user root',
      `listener ${this.port} 127.0.0.1`,
      ...(this.options.tls
        ? [`certfile ${this.options.tls.certFile}`, `keyfile ${this.options.tls.keyFile}`]
        : []),
      ...(this.options.passwordFile
        ? ['allow_anonymous false', `password_file ${this.options.passwordFile}`]
        : ['allow_anonymous true']),
      `log_dest file ${join(this.dir, 'mosquitto.log')}`,
      'log_type all',
      'connection_messages true',
      'log_timestamp true',
      this.options.persistence ? 'persistence true' : 'persistence false',
      `persistence_location ${dataDir}/`,
      ...(this.options.extraConfig ?? []),
    ];
    await writeFile(confPath, `${lines.join('\n')}\n`);
    // Measured before the start: a quick broker can log "running" before a later look.
    const started = this.logText().length;
    const child = spawn(MOSQUITTO_PATH, ['-c', confPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    this.#output = '';
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        this.#output += chunk;
      });
    }
    // Generous: with recorders and encoders busy on both cores a restart has taken > 5 s.
    const deadline = Date.now() + 15_000;
    // Mosquitto logs "mosquitto version X running" once bound, and exits with an error
    // line if the port is taken.
    while (!/version \S+ running/.test(this.logText().slice(started))) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(
          `mosquitto exited: ${this.#output.trim()} ${this.logText().slice(started)}`,
        );
      }
      if (Date.now() > deadline) throw new Error('mosquitto did not start within 15 s');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async #kill(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

/** A TCP port free on 127.0.0.1 at the time of asking. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
