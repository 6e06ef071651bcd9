import { z } from 'zod';
import { agencyIdSchema, requestIdSchema } from '../requests/protocol.js';

/**
 * Every input of the owner's page (path parameters, query, form fields) is parsed here
 * before anything reads it; a bad one is a 400 that names the field and changes nothing.
 * Forms are `application/x-www-form-urlencoded`; `readForm` gives a key given once as a
 * string and a key given more than once as an array.
 */

const csrf = z.string().min(1).max(100);
/** A small whole number written in decimal (no sign, exponent or leading junk). */
const index = z
  .string()
  .regex(/^\d{1,4}$/, { message: 'must be a whole number' })
  .transform(Number);
/** Seconds, as typed in a number field: up to 6 digits and one decimal place. */
const seconds = z
  .string()
  .regex(/^\d{1,6}(\.\d)?$/, { message: 'must be a number of seconds, at least 0' })
  .transform(Number);
const oneOrMany = <T extends z.ZodType>(item: T) =>
  z.union([item, z.array(item).max(100)]).transform((v) => (Array.isArray(v) ? v : [v]));

export const requestParams = z.strictObject({ id: requestIdSchema });
export const clipParams = z.strictObject({ id: requestIdSchema, index });
export const sessionParams = z.strictObject({ id: index });
export const staticParams = z.strictObject({ name: z.enum(['app.js', 'app.css']) });

export const auditQuery = z.strictObject({
  before: index.optional(),
});
export const emptyQuery = z.strictObject({});

export const loginForm = z.strictObject({
  csrf,
  code: z.string().min(1).max(64),
});

export const csrfForm = z.strictObject({ csrf });

export const blockForm = z.strictObject({
  csrf,
  agencyId: agencyIdSchema,
  /** Where to go back to: a request's page, or the policy. */
  back: requestIdSchema.optional(),
});

/**
 * The owner's choice on a request's page: the clips ticked (`clip`), each optionally
 * narrowed to `from_N`…`to_N` seconds from the clip's start, audio, and the cut.
 */
export const shareForm = z
  .object({
    csrf,
    clip: oneOrMany(index).optional(),
    audio: z.literal('on').optional(),
    mode: z.enum(['fast', 'exact']).default('fast'),
  })
  .catchall(z.string().max(20))
  .transform((form, ctx) => {
    const clips: { index: number; from?: number; to?: number }[] = [];
    for (const clipIndex of new Set(form.clip ?? [])) {
      const clip: { index: number; from?: number; to?: number } = { index: clipIndex };
      for (const end of ['from', 'to'] as const) {
        const field = `${end}_${clipIndex}`;
        const value = (form as Record<string, unknown>)[field];
        if (value === undefined || value === '') continue;
        const parsed = seconds.safeParse(value);
        if (!parsed.success) {
          ctx.addIssue({ code: 'custom', path: [field], message: 'must be seconds, at least 0' });
          return z.NEVER;
        }
        clip[end] = parsed.data;
      }
      clips.push(clip);
    }
    for (const key of Object.keys(form)) {
      if (!['csrf', 'clip', 'audio', 'mode'].includes(key) && !/^(from|to)_\d{1,4}$/.test(key)) {
        ctx.addIssue({ code: 'custom', path: [key], message: 'unknown field' });
        return z.NEVER;
      }
    }
    return { clips, audio: form.audio === 'on', mode: form.mode };
  });

export type ShareForm = z.output<typeof shareForm>;

const limit = (max: number, integer: boolean) =>
  z
    .string()
    .regex(integer ? /^\d{1,6}$/ : /^\d{1,6}(\.\d{1,2})?$/, { message: 'must be a number' })
    .transform(Number)
    .pipe(integer ? z.number().int().min(0).max(max) : z.number().positive().max(max));

export const policyForm = z
  .strictObject({
    csrf,
    maxRadiusM: limit(50_000, false),
    maxWindowHours: limit(24 * 14, false),
    maxPromptsPerAgencyPerWeek: limit(1000, true),
    requestsOff: z.literal('on').optional(),
  })
  .transform(({ csrf: _csrf, requestsOff, ...rest }) => ({
    ...rest,
    requestsOff: requestsOff === 'on',
  }));

export const unblockForm = z.strictObject({ csrf, agencyId: agencyIdSchema });

/** One line naming the first problem, for the 400 page. */
export function describeProblem(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'The input is not valid.';
  const where = issue.path.length > 0 ? issue.path.join('.') : 'input';
  return `${where}: ${issue.message.replace(/^Invalid input: /, '')}`;
}
