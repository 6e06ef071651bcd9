import { randomUUID } from 'node:crypto';
import type { Notification } from './responses.js';

/** What a PullMessages request ends with. */
export type PullOutcome =
  | { kind: 'messages'; messages: Notification[]; termination: number }
  | { kind: 'unknown' }
  | { kind: 'fault' };

interface Waiter {
  limit: number;
  finish(outcome: PullOutcome): void;
}

interface Subscription {
  readonly id: string;
  termination: number;
  readonly queue: Notification[];
  waiter: Waiter | null;
}

/** A subscription holds at most this many undelivered messages; the oldest go first. */
const MAX_QUEUE = 256;
/** The longest a subscription may be asked to live (a camera's own limit). */
export const MAX_TERMINATION_MS = 10 * 60_000;

/**
 * The PullPoint subscriptions of one emulated camera (ONVIF Core §9.1.2, WS-BaseNotification
 * §6): each has a queue of messages, a termination time, and at most one PullMessages
 * waiting on it (a long poll, answered as soon as a message arrives or at its timeout).
 *
 * The fault switch stands for a camera whose event service fails: while it is on, every
 * subscription is dropped and every request about one faults, creation included.
 */
export class PullPointHub {
  readonly #subscriptions = new Map<string, Subscription>();
  #faulting = false;

  constructor(private readonly now: () => number = Date.now) {}

  get faulting(): boolean {
    return this.#faulting;
  }

  /** Turns the fault switch; turning it on drops every subscription at once. */
  setFaulting(on: boolean): void {
    this.#faulting = on;
    if (on) this.dropAll({ kind: 'fault' });
  }

  /** Ends every subscription (a camera restart); pending pulls get `outcome`. */
  dropAll(outcome: PullOutcome = { kind: 'unknown' }): void {
    for (const subscription of this.#subscriptions.values()) {
      subscription.waiter?.finish(outcome);
      subscription.waiter = null;
    }
    this.#subscriptions.clear();
  }

  get size(): number {
    return this.#subscriptions.size;
  }

  /** A new subscription, primed with `initial` (the Initialized state of each property). */
  create(termination: number, initial: readonly Notification[]): string | null {
    if (this.#faulting) return null;
    const id = randomUUID();
    this.#subscriptions.set(id, { id, termination, queue: [...initial], waiter: null });
    return id;
  }

  /** Sends messages to every live subscription. */
  publish(messages: readonly Notification[]): void {
    this.#expire();
    for (const subscription of this.#subscriptions.values()) {
      subscription.queue.push(...messages);
      subscription.queue.splice(0, Math.max(0, subscription.queue.length - MAX_QUEUE));
      const waiter = subscription.waiter;
      if (waiter) {
        subscription.waiter = null;
        waiter.finish(this.#take(subscription, waiter.limit));
      }
    }
  }

  /**
   * Answers a PullMessages: at once when messages wait, else when one arrives or after
   * `timeoutMs` with none. A second pull on the same subscription ends the first, empty.
   * `cancelled` settles when the client has gone.
   */
  pull(
    id: string,
    timeoutMs: number,
    limit: number,
    cancelled: Promise<void>,
  ): Promise<PullOutcome> {
    if (this.#faulting) return Promise.resolve({ kind: 'fault' });
    const subscription = this.#live(id);
    if (!subscription) return Promise.resolve({ kind: 'unknown' });
    if (subscription.queue.length > 0) {
      return Promise.resolve(this.#take(subscription, limit));
    }
    subscription.waiter?.finish(this.#take(subscription, 0));
    return new Promise((resolve) => {
      let done = false;
      const waiter: Waiter = {
        limit,
        finish: (outcome) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          if (subscription.waiter === waiter) subscription.waiter = null;
          resolve(outcome);
        },
      };
      const timer = setTimeout(() => waiter.finish(this.#take(subscription, 0)), timeoutMs);
      subscription.waiter = waiter;
      void cancelled.then(() => waiter.finish({ kind: 'unknown' }));
    });
  }

  /** Sets a new termination time; false when the subscription is unknown. */
  renew(id: string, termination: number): boolean {
    if (this.#faulting) return false;
    const subscription = this.#live(id);
    if (!subscription) return false;
    subscription.termination = termination;
    return true;
  }

  unsubscribe(id: string): boolean {
    const subscription = this.#live(id);
    if (!subscription) return false;
    subscription.waiter?.finish({ kind: 'unknown' });
    this.#subscriptions.delete(id);
    return true;
  }

  /** The termination time of a live subscription. */
  termination(id: string): number | undefined {
    return this.#live(id)?.termination;
  }

  #take(subscription: Subscription, limit: number): PullOutcome {
    return {
      kind: 'messages',
      messages: subscription.queue.splice(0, limit),
      termination: subscription.termination,
    };
  }

  #live(id: string): Subscription | undefined {
    this.#expire();
    return this.#subscriptions.get(id);
  }

  /** Subscriptions past their termination time are gone (WS-BaseNotification §6.1). */
  #expire(): void {
    const now = this.now();
    for (const [id, subscription] of this.#subscriptions) {
      if (subscription.termination <= now) {
        subscription.waiter?.finish({ kind: 'unknown' });
        this.#subscriptions.delete(id);
      }
    }
  }
}
