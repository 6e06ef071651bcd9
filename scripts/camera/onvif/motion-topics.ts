import type { MotionWindow } from '../camera-args.js';
import type { Notification } from './responses.js';

/**
 * The two motion topics cameras commonly raise (ONVIF Core Appendix: the cell motion
 * detector's `IsMotion`, and the video source's `MotionAlarm` `State`). The emulated
 * camera raises both for each change, as many real ones do.
 */
export function motionNotifications(
  active: boolean,
  at: number,
  operation: Notification['operation'],
): Notification[] {
  const value = active ? 'true' : 'false';
  return [
    {
      topic: 'tns1:RuleEngine/CellMotionDetector/Motion',
      utcTime: at,
      operation,
      source: {
        VideoSourceConfigurationToken: 'video_source_config_1',
        VideoAnalyticsConfigurationToken: 'analytics_config_1',
        Rule: 'MyMotionDetectorRule',
      },
      data: { IsMotion: value },
    },
    {
      topic: 'tns1:VideoSource/MotionAlarm',
      utcTime: at,
      operation,
      source: { Source: 'video_source_1' },
      data: { State: value },
    },
  ];
}

/**
 * Follows the scripted motion schedule in wall time, as the video does: `onChange` runs
 * when a window opens or closes (seconds after `startedAt`, the moment the video's
 * schedule counts from).
 */
export class MotionScript {
  readonly #timers: NodeJS.Timeout[] = [];
  #active = false;

  constructor(
    private readonly startedAt: number,
    private readonly windows: readonly MotionWindow[],
    private readonly onChange: (active: boolean, at: number) => void,
    private readonly now: () => number = Date.now,
  ) {}

  get active(): boolean {
    return this.#active;
  }

  start(): void {
    const now = this.now();
    for (const window of this.windows) {
      const start = this.startedAt + window.start * 1000;
      const end = this.startedAt + window.end * 1000;
      if (end <= now) continue;
      if (start <= now) this.#active = true;
      else this.#at(start, () => this.#set(true, start));
      this.#at(end, () => this.#set(false, end));
    }
  }

  stop(): void {
    for (const timer of this.#timers.splice(0)) clearTimeout(timer);
  }

  #at(time: number, run: () => void): void {
    this.#timers.push(setTimeout(run, Math.max(0, time - this.now())));
  }

  /** Overlapping windows are one span of motion. */
  #set(active: boolean, scheduledAt: number): void {
    const now = this.now();
    const shouldBeActive = this.windows.some(
      (w) => this.startedAt + w.start * 1000 <= now && now < this.startedAt + w.end * 1000,
    );
    const next = active ? true : shouldBeActive;
    if (next === this.#active) return;
    this.#active = next;
    this.onChange(next, Math.min(scheduledAt, now));
  }
}
