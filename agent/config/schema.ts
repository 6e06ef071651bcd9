import { z } from 'zod';

/**
 * The agent's configuration file. Every object is strict (unknown keys are refused) and
 * every part the running features do not need is optional, so a recording-only device
 * needs only `dataDir`, `device.location` and `camera`. Messages never quote values:
 * a value may be a secret.
 */

const rtspUrl = z.string().refine(
  (value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'rtsp:' || url.protocol === 'rtsps:') && url.hostname !== '';
    } catch {
      return false;
    }
  },
  { message: 'must be an rtsp:// or rtsps:// URL with a host' },
);

const mqttUrl = z.string().refine(
  (value) => {
    if (value === 'embedded') return true;
    try {
      const url = new URL(value);
      return ['mqtt:', 'mqtts:', 'ws:', 'wss:'].includes(url.protocol) && url.hostname !== '';
    } catch {
      return false;
    }
  },
  { message: 'must be "embedded" or an mqtt://, mqtts://, ws:// or wss:// URL' },
);

/** socks5://HOST:PORT or socks5h://HOST:PORT; no credentials, path or query. */
const socksUrl = z.string().refine(
  (value) => {
    try {
      const url = new URL(value);
      return (
        (url.protocol === 'socks5:' || url.protocol === 'socks5h:') &&
        url.hostname !== '' &&
        url.port !== '' &&
        !url.username &&
        !url.password &&
        (url.pathname === '' || url.pathname === '/') &&
        !url.search &&
        !url.hash
      );
    } catch {
      return false;
    }
  },
  { message: 'must be socks5://HOST:PORT or socks5h://HOST:PORT' },
);

const base64Key32 = z.string().refine((value) => /^[A-Za-z0-9+/]{43}=$/.test(value), {
  message: 'must be a base64 key of 32 bytes',
});

/** A host name or an IP address (IPv6 without brackets), as an ONVIF device is reached. */
const hostName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9._:-]+$/, { message: 'must be a host name or an IP address' });

const cameraSchema = z.discriminatedUnion('source', [
  z.strictObject({
    source: z.literal('rtsp'),
    url: rtspUrl,
  }),
  z.strictObject({
    /** The stream address is asked of the camera's ONVIF device service at every start. */
    source: z.literal('onvif'),
    host: hostName,
    port: z.number().int().min(1).max(65535).default(80),
    username: z.string().max(128),
    password: z.string().max(256),
    /** A media profile's token or name; absent: the camera's first profile. */
    profile: z.string().min(1).max(64).optional(),
  }),
  z.strictObject({
    source: z.literal('emulated'),
    width: z.number().int().min(160).max(3840).default(1920),
    height: z.number().int().min(120).max(2160).default(1080),
    fps: z.number().int().min(1).max(60).default(25),
    keyframeSeconds: z.number().min(0.2).max(10).default(1),
    audio: z.boolean().default(false),
    /** Scripted motion windows, seconds after the camera starts, e.g. "20-25,60-64". */
    motion: z
      .string()
      .regex(/^(\d+(\.\d+)?-\d+(\.\d+)?)(,\d+(\.\d+)?-\d+(\.\d+)?)*$/, {
        message: 'must be a list of START-END seconds, e.g. "20-25,60-64"',
      })
      .optional(),
  }),
]);

/** Whether `HOST:PORT` names a loopback host: only this device can reach it. */
export function isLoopbackListen(listen: string): boolean {
  const host = listen.slice(0, listen.lastIndexOf(':')).replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export const configSchema = z
  .strictObject({
    dataDir: z.string().min(1, { message: 'must not be empty' }),
    device: z.strictObject({
      location: z.strictObject({
        lat: z.number().min(-90).max(90),
        lon: z.number().min(-180).max(180),
      }),
    }),
    camera: cameraSchema,
    recording: z
      .strictObject({
        segmentSeconds: z.number().min(1).max(10).default(2),
        /** Restart ffmpeg when no segment closed for this long. */
        stallSeconds: z.number().min(3).max(120).default(10),
      })
      .prefault({}),
    motion: z
      .strictObject({
        /**
         * `scene`: the recorder's scene-change score; `onvif`: the camera's ONVIF motion
         * events (needs an onvif camera); `pir`: a PIR sensor (`pir.gpio`, else emulated).
         */
        source: z.enum(['scene', 'onvif', 'pir', 'none']).default('scene'),
        preRollSeconds: z.number().min(0).max(120).default(5),
        postRollSeconds: z.number().min(0).max(300).default(10),
        /**
         * Mean absolute difference between consecutive keyframes (ffmpeg scdet's mafd,
         * 0–100) above which there is motion. A still scene with a ticking clock stays
         * under 0.1; a person crossing the picture is 1 to 10.
         */
        sceneThreshold: z.number().gt(0).max(100).default(0.5),
        /** The PIR sensor: a sysfs GPIO `value` file; absent: an emulated sensor. */
        pir: z.strictObject({ gpio: z.string().min(1).optional() }).prefault({}),
      })
      .prefault({}),
    retention: z
      .strictObject({
        motionDays: z.number().min(0).max(365).default(7),
        bufferMinutes: z
          .number()
          .min(1)
          .max(60 * 24 * 30)
          .default(60),
        maxBytes: z.number().int().positive().optional(),
        minFreeBytes: z
          .number()
          .int()
          .min(0)
          .default(256 * 1024 * 1024),
      })
      .prefault({}),
    mqtt: z
      .strictObject({
        url: mqttUrl,
        username: z.string().optional(),
        password: z.string().optional(),
        /** Path to a PEM file of the CA that signs the broker's certificate. */
        ca: z.string().optional(),
      })
      .optional(),
    trust: z
      .strictObject({
        roots: z
          .array(z.strictObject({ name: z.string().min(1).max(120), publicKey: base64Key32 }))
          .min(1)
          .max(16),
        threshold: z.number().int().min(1).max(16),
      })
      .refine((trust) => trust.threshold <= trust.roots.length, {
        message: 'threshold must not exceed the number of roots',
        path: ['threshold'],
      })
      .optional(),
    policy: z
      .strictObject({
        maxRadiusM: z.number().positive().max(50_000).default(800),
        maxWindowHours: z
          .number()
          .positive()
          .max(24 * 14)
          .default(12),
        maxPromptsPerAgencyPerWeek: z.number().int().min(0).max(1000).default(3),
        maxPending: z.number().int().min(1).max(10_000).default(200),
        blockedAgencies: z.array(z.string()).default([]),
        /** No community requests at all: the device does not even subscribe. */
        requestsOff: z.boolean().default(false),
      })
      .prefault({}),
    /** How shared clips reach the agency (DESIGN.md, "Upload"); absent: defaults. */
    upload: z
      .strictObject({
        /** Bandwidth cap for all uploads, bytes per second. */
        maxBytesPerSecond: z.number().int().min(1024).optional(),
        /** Path to a PEM file of a CA to trust besides the system's. */
        ca: z.string().min(1).optional(),
        /** A SOCKS5 proxy (e.g. a local Tor); the agency's name is resolved by the proxy. */
        proxy: socksUrl.optional(),
        /** An attempt with no byte moving for this long is abandoned and retried. */
        idleTimeoutSeconds: z.number().min(5).max(600).optional(),
      })
      .optional(),
    ui: z
      .strictObject({
        /** HOST:PORT, or [IPv6]:PORT. Port 0 picks a free one (tests). */
        listen: z
          .string()
          .regex(/^([^\s:[\]]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/, { message: 'must be HOST:PORT' })
          .refine((value) => Number(value.slice(value.lastIndexOf(':') + 1)) <= 65535, {
            message: 'the port must be at most 65535',
          })
          .default('127.0.0.1:8470'),
        /** PEM files; required to listen beyond loopback (the session cookie crosses the LAN). */
        tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
        /** Further host names the page is reached by (e.g. "doorbell.local"); others get 421. */
        hosts: z
          .array(z.string().regex(/^[A-Za-z0-9.-]{1,253}$/, { message: 'must be a host name' }))
          .max(16)
          .default([]),
      })
      .refine((ui) => ui.tls !== undefined || isLoopbackListen(ui.listen), {
        message: 'required when ui.listen is not a loopback address (127.0.0.1, ::1, localhost)',
        path: ['tls'],
      })
      .prefault({}),
    /** Live view on the owner's page (DESIGN.md, "Live view"). */
    live: z
      .strictObject({
        enabled: z.boolean().default(true),
        /** ffmpeg and the media server stop this long after the last viewer leaves. */
        idleStopSeconds: z.number().min(1).max(600).default(10),
        /** Viewers at once (each is a copy of the stream through the agent). */
        maxViewers: z.number().int().min(1).max(16).default(4),
      })
      .prefault({}),
    ffmpeg: z
      .strictObject({
        ffmpegPath: z.string().min(1).default('ffmpeg'),
        ffprobePath: z.string().min(1).default('ffprobe'),
      })
      .prefault({}),
    indicator: z
      .strictObject({
        /** A kernel LED directory, e.g. /sys/class/leds/status; absent: emulated. */
        led: z.string().min(1).optional(),
      })
      .prefault({}),
    log: z
      .strictObject({ level: z.enum(['debug', 'info', 'warn', 'error']).default('info') })
      .prefault({}),
  })
  .refine((config) => config.motion.source !== 'onvif' || config.camera.source === 'onvif', {
    message: 'onvif motion needs camera.source "onvif"',
    path: ['motion', 'source'],
  });

export type Config = z.infer<typeof configSchema>;
export type CameraConfig = Config['camera'];
