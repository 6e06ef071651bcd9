import { userInfo } from 'node:os';
import { type Command, Option } from 'commander';
import { discoverOnvif, OnvifSession, withCredentials } from '../../../hal/linux/onvif/client.js';
import { UserError } from '../../errors.js';
import { checkBrokerConnection } from '../../mqtt/connection-check.js';
import { type AnswerSource, FlagAnswers, PromptAnswers } from '../../provision/answers.js';
import type { OnvifAccess } from '../../provision/camera-step.js';
import { ALL_FIELDS } from '../../provision/fields.js';
import { Prompter } from '../../provision/prompter.js';
import { type ProvisionDeps, provision } from '../../provision/provision.js';
import { probeStream } from '../../provision/stream-probe.js';
import { agentAccount } from '../../provision/system-user.js';
import { type CliContext, parseSecondsFlag } from '../context.js';

export const DEFAULT_CONFIG_PATH = '/etc/threshold/config.json';

interface ProvisionFlags {
  config: string;
  nonInteractive?: boolean;
  force?: boolean;
  discover?: boolean;
  discoverySeconds: string;
  discoveryPort?: string;
  discoveryAddress?: string;
  discoveryInterface?: string;
  timeoutSeconds: string;
  probeSeconds: string;
  serviceUser?: string;
  ffprobePath: string;
  [flag: string]: unknown;
}

export function registerProvision(program: Command, ctx: CliContext): void {
  const command = program
    .command('provision')
    .description(
      'set up this device: find and check the camera, the location, the broker and trust roots; write the config',
    )
    .option('-c, --config <file>', 'where to write the configuration', DEFAULT_CONFIG_PATH)
    .option('--non-interactive', 'ask nothing: every answer comes from a flag')
    .option('--force', 'replace an existing config (the device secret and footage are kept)')
    .option('--discover', 'find the camera by ONVIF discovery (always done interactively)')
    .option('--discovery-seconds <s>', 'how long to wait for cameras to answer', '3')
    .addOption(
      new Option(
        '--discovery-port <port>',
        'the port cameras answer WS-Discovery on (default 3702)',
      ),
    )
    .addOption(
      new Option(
        '--discovery-address <address>',
        'probe this address only (default: the WS-Discovery multicast group)',
      ),
    )
    .addOption(
      new Option(
        '--discovery-interface <address>',
        'local IPv4 address to send the Probe from (default the system’s choice)',
      ),
    )
    .option('--timeout-seconds <s>', 'how long the camera and the broker may take to answer', '10')
    .option('--probe-seconds <s>', 'how much of the stream to read when checking it', '10')
    .option('--service-user <name>', 'the account the agent runs as (owns the config and data)')
    .option('--ffprobe-path <path>', 'ffprobe to check the stream with', 'ffprobe');
  for (const field of ALL_FIELDS) {
    const extra = field.secret ? ` (or set ${field.secret.env}, kept out of the process list)` : '';
    const fallback = field.default !== undefined ? ` [${field.defaultLabel ?? field.default}]` : '';
    command.option(`${field.flag} <value>`, `${field.label}${fallback}${extra}`);
  }
  command.action(async (flags: ProvisionFlags) => {
    const interactive = !flags.nonInteractive;
    if (interactive && !process.stdin.isTTY) {
      throw new UserError(
        'not_a_terminal',
        'standard input is not a terminal: run with --non-interactive and give every answer as a flag',
      );
    }
    const options = {
      configPath: flags.config,
      force: flags.force === true,
      discover: flags.discover === true,
      discoveryTimeoutMs: parseSecondsFlag('--discovery-seconds', flags.discoverySeconds) * 1000,
      ...(flags.discoveryPort !== undefined
        ? { discoveryPort: whole('--discovery-port', flags.discoveryPort) }
        : {}),
      ...(flags.discoveryAddress !== undefined ? { discoveryAddress: flags.discoveryAddress } : {}),
      ...(flags.discoveryInterface !== undefined
        ? { discoveryInterface: flags.discoveryInterface }
        : {}),
      connectTimeoutMs: parseSecondsFlag('--timeout-seconds', flags.timeoutSeconds) * 1000,
      brokerTimeoutMs: parseSecondsFlag('--timeout-seconds', flags.timeoutSeconds) * 1000,
      probeSeconds: parseSecondsFlag('--probe-seconds', flags.probeSeconds),
    };
    const serviceUser = await serviceAccount(flags.serviceUser);
    const values = new Map<string, string>();
    for (const field of ALL_FIELDS) {
      const value = flags[camelCase(field.flag)];
      if (typeof value === 'string') values.set(field.flag, value);
    }
    const deps: ProvisionDeps = {
      onvif: onvifAccess(),
      probe: (url, probe) => probeStream(url, { ...probe, ffprobePath: flags.ffprobePath }),
      checkBroker: checkBrokerConnection,
    };
    let prompter: Prompter | undefined;
    let source: AnswerSource;
    // Ctrl-C at a prompt cancels the answer; during a probe or a login, the step itself.
    const cancel = new AbortController();
    if (interactive) {
      prompter = new Prompter({
        input: process.stdin,
        output: process.stdout,
        terminal: true,
        onCancel: () =>
          cancel.abort(new UserError('provision_cancelled', 'cancelled; nothing was written')),
      });
      source = new PromptAnswers(prompter, values);
    } else {
      source = new FlagAnswers(values, (text) => ctx.out(text));
    }
    try {
      // `threshold pair` comes with the owner page; name it when this build has it.
      const canPair = program.commands.some((c) => c.name() === 'pair');
      await provision(deps, source, {
        ...options,
        signal: cancel.signal,
        canPair,
        ...(serviceUser ? { serviceUser } : {}),
      });
    } finally {
      prompter?.close();
    }
  });
}

/** The real ONVIF client (hal/linux/onvif), in the shape provisioning asks for. */
function onvifAccess(): OnvifAccess {
  return {
    discover: (options) => discoverOnvif(options),
    connect: (options) => OnvifSession.connect(options),
    withCredentials,
  };
}

/** As given; for root without one, the service account; else none (files stay the caller's). */
async function serviceAccount(name: string | undefined) {
  const account = await agentAccount(name);
  return account.uid === userInfo().uid && name === undefined ? undefined : account;
}

function camelCase(flag: string): string {
  return flag.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function whole(flag: string, text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1 || value > 65535) {
    throw new UserError('bad_flag', `${flag}: a port from 1 to 65535`);
  }
  return value;
}
