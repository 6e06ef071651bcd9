import { dirname } from 'node:path';
import { parseConfig } from '../config/load.js';
import { configSchema } from '../config/schema.js';
import type { AnswerSource } from './answers.js';
import { type BrokerStepDeps, brokerStep, trustStep } from './broker-step.js';
import { type CameraStepDeps, type CameraStepOptions, cameraStep } from './camera-step.js';
import {
  ALWAYS_ASKED,
  dataDir as dataDirField,
  latitude,
  longitude,
  motionSource,
  PREFLIGHT_FIELDS,
} from './fields.js';
import type { StreamAdvice } from './stream-advice.js';
import type { AccountIds } from './system-user.js';
import { prepareDataDir, refuseExistingConfig, writeConfigFile } from './write-config.js';

/**
 * `threshold provision`: every question first, each answer checked as it comes (the
 * camera logged in to and its stream probed, the broker connected to); then the config is
 * checked against the agent's own schema, the data directory and device secret are made,
 * and the config is written last, atomically. A refusal anywhere before that writes
 * nothing.
 */

export type ProvisionDeps = CameraStepDeps & BrokerStepDeps;

export interface ProvisionOptions extends CameraStepOptions {
  readonly configPath: string;
  readonly force: boolean;
  readonly brokerTimeoutMs: number;
  /** The account the agent runs as; it gets the config and data directory. */
  readonly serviceUser?: AccountIds;
  /** This build has `threshold pair`, which gives the owner's pairing code. */
  readonly canPair?: boolean;
}

export interface ProvisionResult {
  readonly configPath: string;
  readonly dataDir: string;
  readonly advice: readonly StreamAdvice[];
  readonly secretKept: boolean;
}

export async function provision(
  deps: ProvisionDeps,
  source: AnswerSource,
  options: ProvisionOptions,
): Promise<ProvisionResult> {
  await refuseExistingConfig(options.configPath, options.force);
  // Flags are checked before any slow step: a bad or missing --lat fails at once, not
  // after discovery and the stream probe.
  for (const field of PREFLIGHT_FIELDS) if (source.has(field)) await source.get(field);
  if (!source.interactive) for (const field of ALWAYS_ASKED) await source.get(field);

  const camera = await cameraStep(deps, source, options);
  const motion = await source.get(motionSource('onvif'));
  const lat = await source.get(latitude);
  const lon = await source.get(longitude);
  const dataDir = await source.get(dataDirField);
  const mqtt = await brokerStep(deps, source, {
    timeoutMs: options.brokerTimeoutMs,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const trust = mqtt ? await trustStep(source) : undefined;
  source.say(describePolicy());

  const config = {
    dataDir,
    device: { location: { lat, lon } },
    camera: camera.camera,
    motion: { source: motion },
    ...(mqtt ? { mqtt } : {}),
    ...(trust ? { trust } : {}),
  };
  // The agent's own check, so a config written here is one the agent starts with.
  parseConfig(JSON.stringify(config), dirname(options.configPath));

  const { secretKept } = await prepareDataDir(dataDir, options.serviceUser);
  await writeConfigFile(options.configPath, config, options.serviceUser);
  source.say(
    [
      `Wrote ${options.configPath} (mode 0600: it holds the camera's${mqtt?.password ? ' and the broker’s' : ''} password).`,
      `Data directory ${dataDir} (mode 0700); device secret ${secretKept ? 'kept' : 'made'} in ${dataDir}/keys.`,
    ].join('\n'),
  );
  source.say(nextSteps(options.configPath, options.canPair === true));
  return { configPath: options.configPath, dataDir, advice: camera.advice, secretKept };
}

/** The owner's limits as the agent will apply them (the schema's defaults). */
export function describePolicy(): string {
  const policy = configSchema.shape.policy.parse({});
  return [
    'Policy (the owner’s limits; change them under "policy" in the config):',
    `  requests for at most ${policy.maxRadiusM} m around the camera and ${policy.maxWindowHours} h of footage`,
    `  at most ${policy.maxPromptsPerAgencyPerWeek} prompts per agency per week, ${policy.maxPending} pending at once`,
    `  blocked agencies: ${policy.blockedAgencies.length ? policy.blockedAgencies.join(', ') : 'none'}`,
  ].join('\n');
}

function nextSteps(configPath: string, canPair: boolean): string {
  return [
    'Next:',
    `  threshold doctor --config ${configPath}`,
    '      checks the device',
    '  systemctl enable --now threshold',
    '      starts the agent as a service (see the README)',
    ...(canPair
      ? [
          `  threshold pair --config ${configPath}`,
          "      prints the owner's one-time pairing code for the owner page",
        ]
      : []),
  ].join('\n');
}
