import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import type { z } from 'zod';
import { type Config, configSchema } from '../config/schema.js';
import { AnswerError, type Field } from './answers.js';

/**
 * The questions `threshold provision` asks, each with its flag, default and check. Values
 * that end up in the config are checked by the config schema's own rules, so provisioning
 * accepts exactly what the agent will.
 */

/** The first problem the schema finds with `value`, without quoting the value. */
function checkWith<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new AnswerError(
    result.error.issues[0]?.message.replace(/^Invalid input: /, '') ?? 'invalid',
  );
}

function required(text: string, what: string): string {
  const trimmed = text.trim();
  if (trimmed === '') throw new AnswerError(`${what} is required`);
  return trimmed;
}

function decimal(text: string, what: string, example: string): number {
  const trimmed = required(text, what);
  if (!/^[+-]?\d+(\.\d+)?$/.test(trimmed)) {
    throw new AnswerError(`${what} must be a number in decimal degrees, such as ${example}`);
  }
  return Number(trimmed);
}

const location = configSchema.shape.device.shape.location.shape;

export const latitude: Field<number> = {
  flag: '--lat',
  label: 'Latitude of the camera (decimal degrees, north positive)',
  parse: (text) => {
    const value = decimal(text, 'the latitude', '52.3702');
    if (value < -90 || value > 90) throw new AnswerError('the latitude must be from -90 to 90');
    return checkWith(location.lat, value);
  },
};

export const longitude: Field<number> = {
  flag: '--lon',
  label: 'Longitude of the camera (decimal degrees, east positive)',
  parse: (text) => {
    const value = decimal(text, 'the longitude', '4.8952');
    if (value < -180 || value > 180) {
      throw new AnswerError('the longitude must be from -180 to 180');
    }
    return checkWith(location.lon, value);
  },
};

export const dataDir: Field<string> = {
  flag: '--data-dir',
  label: 'Where footage, the database and keys are kept',
  default: '/var/lib/threshold',
  parse: (text) => {
    const dir = required(text, 'the data directory');
    if (!isAbsolute(dir)) throw new AnswerError('the data directory must be an absolute path');
    return dir;
  },
};

/** A host name, IPv4 or IPv6 address: what a camera is reached at. */
export function parseHost(text: string): string {
  const host = required(text, 'the camera’s address').replace(/^\[(.*)\]$/, '$1');
  const name =
    /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/;
  const ipv6 = /^[0-9A-Fa-f:.]+$/;
  if (!name.test(host) && !(host.includes(':') && ipv6.test(host))) {
    throw new AnswerError(
      'give a host name or an IP address, such as 192.168.1.20, without http://',
    );
  }
  return host;
}

export function parsePort(text: string, what = 'the port'): number {
  const trimmed = required(text, what);
  const port = Number(trimmed);
  if (!/^\d+$/.test(trimmed) || port < 1 || port > 65535) {
    throw new AnswerError(`${what} must be a whole number from 1 to 65535`);
  }
  return port;
}

export const cameraHost: Field<string> = {
  flag: '--camera-host',
  label: 'Camera address (host name or IP)',
  parse: parseHost,
};

export function cameraPort(defaultPort: number): Field<number> {
  return {
    flag: '--camera-port',
    label: 'Camera ONVIF port',
    default: String(defaultPort),
    parse: (text) => parsePort(text, 'the camera port'),
  };
}

export const cameraUser: Field<string> = {
  flag: '--camera-user',
  label: 'Camera user name',
  default: 'admin',
  parse: (text) => required(text, 'the user name'),
};

export const cameraPassword: Field<string> = {
  flag: '--camera-password',
  label: 'Camera password',
  secret: { env: 'THRESHOLD_CAMERA_PASSWORD' },
  // Not trimmed: a password may begin or end with a space.
  parse: (text) => {
    if (text === '') throw new AnswerError('the password is required');
    return text;
  },
};

export function cameraProfile(
  profiles: readonly { token: string; label: string }[],
  defaultToken: string,
): Field<string> {
  return {
    flag: '--camera-profile',
    label: 'Camera profile (number or token)',
    default: defaultToken,
    ...(defaultToken ? {} : { defaultLabel: 'the largest H.264 profile' }),
    parse: (text) => {
      const answer = required(text, 'a profile');
      const byNumber = /^\d+$/.test(answer) ? profiles[Number(answer) - 1] : undefined;
      const chosen = byNumber ?? profiles.find((p) => p.token === answer);
      if (!chosen) {
        throw new AnswerError(
          `no such profile; the camera has ${profiles.map((p) => p.token).join(', ')}`,
        );
      }
      return chosen.token;
    },
  };
}

export type MotionChoice = 'onvif' | 'scene' | 'none';

export function motionSource(defaultChoice: MotionChoice): Field<MotionChoice> {
  return {
    flag: '--motion',
    label: 'Motion detection: onvif (the camera’s events), scene (from the picture) or none',
    default: defaultChoice,
    parse: (text) => {
      const answer = required(text, 'a motion source');
      if (answer !== 'onvif' && answer !== 'scene' && answer !== 'none') {
        throw new AnswerError('choose onvif, scene or none');
      }
      return answer;
    },
  };
}

const mqttShape = configSchema.shape.mqtt.unwrap().shape;

/** `none` means no broker: the device records but takes no community requests. */
export const mqttUrl: Field<string | null> = {
  flag: '--mqtt-url',
  label: 'MQTT broker for community requests (mqtts://host:8883, embedded, or none)',
  parse: (text) => {
    const answer = required(text, 'the broker URL (or none)');
    if (answer === 'none') return null;
    return checkWith(mqttShape.url, answer);
  },
};

export const mqttUser: Field<string | undefined> = {
  flag: '--mqtt-user',
  label: 'MQTT user name',
  default: '',
  defaultLabel: 'none',
  parse: (text) => text.trim() || undefined,
};

export const mqttPassword: Field<string> = {
  flag: '--mqtt-password',
  label: 'MQTT password',
  secret: { env: 'THRESHOLD_MQTT_PASSWORD' },
  parse: (text) => {
    if (text === '') throw new AnswerError('the password is required with a user name');
    return text;
  },
};

export const mqttCa: Field<string | undefined> = {
  flag: '--mqtt-ca',
  label: 'CA certificate of the broker (PEM file; none to trust the system’s CAs)',
  default: '',
  defaultLabel: 'none',
  parse: (text) => {
    const path = text.trim();
    if (path === '' || path === 'none') return undefined;
    if (!isAbsolute(path)) throw new AnswerError('give the CA file as an absolute path');
    const pem = readText(path, 'the CA file');
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new AnswerError('the CA file holds no PEM certificate');
    }
    return path;
  },
};

type Trust = NonNullable<Config['trust']>;
const trustSchema = configSchema.shape.trust.unwrap();

/**
 * A trust roots file: `[{name, publicKey}, …]`, or `{roots: […], threshold}`. The roots
 * are checked at once, the threshold after it is asked.
 */
export const trustRoots: Field<Trust['roots']> = {
  flag: '--trust-roots',
  label: 'Trust roots file (JSON: [{"name", "publicKey"}, …])',
  parse: (text) => {
    const path = required(text, 'the trust roots file');
    let raw: unknown;
    try {
      raw = JSON.parse(readText(path, 'the trust roots file'));
    } catch (err) {
      if (err instanceof AnswerError) throw err;
      throw new AnswerError('the trust roots file is not JSON');
    }
    const roots = Array.isArray(raw) ? raw : (raw as { roots?: unknown } | null)?.roots;
    try {
      return checkWith(trustSchema.shape.roots, roots);
    } catch (err) {
      throw new AnswerError(`the trust roots file: ${(err as Error).message}`);
    }
  },
};

export function trustThreshold(roots: number): Field<number> {
  return {
    flag: '--trust-threshold',
    label: 'How many trust roots must sign an agency’s delegation',
    default: '1',
    parse: (text) => {
      const trimmed = required(text, 'the threshold');
      const n = Number(trimmed);
      if (!/^\d+$/.test(trimmed) || n < 1 || n > roots) {
        throw new AnswerError(`the threshold must be a whole number from 1 to ${roots}`);
      }
      return n;
    },
  };
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    throw new AnswerError(`cannot read ${what} ${path}`);
  }
}

/**
 * Every question's field, for registering its flag: so every prompt has a flag. (The
 * factories' arguments only shape the label; the real ones are made as the answers come.)
 */
export const ALL_FIELDS: readonly Field<unknown>[] = [
  cameraHost,
  cameraPort(80),
  cameraUser,
  cameraPassword,
  cameraProfile([], ''),
  motionSource('onvif'),
  latitude,
  longitude,
  dataDir,
  mqttUrl,
  mqttUser,
  mqttPassword,
  mqttCa,
  trustRoots,
  trustThreshold(1),
];

/** The fields whose check needs no earlier answer: a given flag is checked before anything. */
export const PREFLIGHT_FIELDS: readonly Field<unknown>[] = [
  cameraHost,
  cameraPort(80),
  cameraUser,
  cameraPassword,
  motionSource('onvif'),
  latitude,
  longitude,
  dataDir,
  mqttUrl,
  mqttUser,
  mqttPassword,
  mqttCa,
  trustRoots,
];

/** The fields every run asks, whatever the other answers: a missing flag fails at once. */
export const ALWAYS_ASKED: readonly Field<unknown>[] = [
  cameraUser,
  cameraPassword,
  motionSource('onvif'),
  latitude,
  longitude,
  dataDir,
  mqttUrl,
];
