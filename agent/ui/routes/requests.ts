import { errorMessage } from '../../errors.js';
import { distanceM } from '../../requests/geo.js';
import type { StoredRequest } from '../../requests/store.js';
import type { ClipOffer, ShareChoice } from '../../share/types.js';
import { asHttpError } from '../consent-errors.js';
import { type App, type RequestContext, renderFragment, renderPage } from '../context.js';
import { HttpError, redirect } from '../http.js';
import { route } from '../router.js';
import { csrfForm, emptyQuery, requestParams, type ShareForm, shareForm } from '../schemas.js';
import {
  declinePage,
  pendingList,
  type RequestView,
  requestPage,
  requestsPage,
} from '../views/requests.js';
import { confirmPage } from '../views/share.js';

/** Pending requests, one request's footage, and the owner's answer: share or decline. */

function viewOf(app: App, request: StoredRequest, now: number): RequestView {
  return {
    request,
    distanceM: distanceM(app.deps.config.device.location, request.area),
    now,
    blocked: app.deps.policy.current().blockedAgencies.includes(request.agencyId),
  };
}

async function pendingViews(ctx: RequestContext): Promise<RequestView[]> {
  const pending = await ctx.app.deps.store.list({ all: false });
  return pending.map((request) => viewOf(ctx.app, request, ctx.now));
}

async function requestOf(ctx: RequestContext, id: string): Promise<StoredRequest> {
  const request = await ctx.app.deps.store.get(id);
  if (!request)
    throw new HttpError(404, 'request_not_found', 'There is no such request on this camera.');
  return request;
}

/**
 * The form's clips as the consent service's choice: offsets in seconds from each offered
 * clip's start become times; an index that is not offered goes through unchanged, for
 * the consent service to refuse (`no_such_clip`).
 */
export function choiceOf(form: ShareForm, offers: readonly ClipOffer[]): ShareChoice {
  return {
    clips: form.clips.map((clip) => {
      const offer = offers.find((o) => o.index === clip.index);
      if (!offer) return { index: clip.index };
      const start =
        clip.from !== undefined ? offer.start + Math.round(clip.from * 1000) : undefined;
      const end = clip.to !== undefined ? offer.start + Math.round(clip.to * 1000) : undefined;
      return {
        index: clip.index,
        ...(start !== undefined && start !== offer.start ? { start } : {}),
        ...(end !== undefined && end !== offer.end ? { end } : {}),
      };
    }),
    ranges: [],
    mode: form.mode,
    audio: form.audio,
  };
}

async function choiceFor(ctx: RequestContext, id: string, form: ShareForm): Promise<ShareChoice> {
  // The consent service reads an empty choice as "every clip"; on the page, ticking
  // nothing must send nothing.
  if (form.clips.length === 0) {
    throw new HttpError(400, 'nothing_to_share', 'Tick at least one clip to share.');
  }
  const request = await requestOf(ctx, id);
  if (form.audio && !(await audioOf(ctx, request))) {
    throw new HttpError(400, 'no_audio', 'This footage has no sound to send.');
  }
  const offers = await ctx.app.deps.consent.offers(id).catch((err: unknown) => {
    throw asHttpError(err);
  });
  return choiceOf(form, offers);
}

async function audioOf(ctx: RequestContext, request: StoredRequest): Promise<boolean> {
  try {
    return await ctx.app.deps.audioAvailable(request, ctx.signal);
  } catch (err) {
    ctx.app.deps.log.warn(
      { err: errorMessage(err) },
      'could not tell whether the footage has sound',
    );
    return false;
  }
}

export const requestRoutes = [
  route({
    method: 'GET',
    path: '/',
    page: true,
    query: emptyQuery,
    handle: async (ctx: RequestContext) => {
      const views = await pendingViews(ctx);
      await renderPage(
        ctx,
        200,
        'requests',
        'Requests',
        requestsPage(views, ctx.app.format, ctx.csrf),
      );
    },
  }),
  route({
    method: 'GET',
    path: '/fragments/pending',
    query: emptyQuery,
    handle: async (ctx: RequestContext) => {
      const views = await pendingViews(ctx);
      renderFragment(ctx, pendingList(views, ctx.app.format, ctx.csrf), views.length);
    },
  }),
  route({
    method: 'GET',
    path: '/requests/:id',
    page: true,
    params: requestParams,
    query: emptyQuery,
    handle: async (ctx: RequestContext, { params }) => {
      const request = await requestOf(ctx, params.id);
      const pending = request.state === 'pending';
      const offers = pending
        ? await ctx.app.deps.consent.offers(request.id).catch((err: unknown) => {
            throw asHttpError(err);
          })
        : [];
      const audioAvailable = pending ? await audioOf(ctx, request) : false;
      await renderPage(
        ctx,
        200,
        'requests',
        request.title,
        requestPage(
          viewOf(ctx.app, request, ctx.now),
          offers,
          { audioAvailable, csrf: ctx.csrf },
          ctx.app.format,
        ),
      );
    },
  }),
  route({
    method: 'GET',
    path: '/requests/:id/decline',
    page: true,
    params: requestParams,
    query: emptyQuery,
    handle: async (ctx: RequestContext, { params }) => {
      const request = await requestOf(ctx, params.id);
      if (request.state !== 'pending') {
        throw new HttpError(
          409,
          'request_not_pending',
          'This request has already been answered or has expired.',
        );
      }
      await renderPage(
        ctx,
        200,
        'requests',
        'Decline',
        declinePage(viewOf(ctx.app, request, ctx.now), ctx.csrf, ctx.app.format),
      );
    },
  }),
  route({
    method: 'POST',
    path: '/requests/:id/decline',
    page: true,
    params: requestParams,
    query: emptyQuery,
    body: csrfForm,
    handle: async (ctx: RequestContext, { params }) => {
      await ctx.app.deps.consent.decline(params.id).catch((err: unknown) => {
        throw asHttpError(err);
      });
      redirect(ctx.res, `/history#h-${params.id}`);
    },
  }),
  route({
    method: 'POST',
    path: '/requests/:id/review',
    page: true,
    params: requestParams,
    query: emptyQuery,
    body: shareForm,
    handle: async (ctx: RequestContext, { params, body }) => {
      const choice = await choiceFor(ctx, params.id, body);
      const plan = await ctx.app.deps.consent.plan(params.id, choice).catch((err: unknown) => {
        throw asHttpError(err);
      });
      await renderPage(
        ctx,
        200,
        'requests',
        'Confirm',
        confirmPage(plan, body, ctx.csrf, ctx.app.format),
      );
    },
  }),
  route({
    method: 'POST',
    path: '/requests/:id/share',
    page: true,
    params: requestParams,
    query: emptyQuery,
    body: shareForm,
    handle: async (ctx: RequestContext, { params, body }) => {
      const choice = await choiceFor(ctx, params.id, body);
      await ctx.app.deps.consent.share(params.id, choice).catch((err: unknown) => {
        throw asHttpError(err);
      });
      redirect(ctx.res, `/history#h-${params.id}`);
    },
  }),
];
