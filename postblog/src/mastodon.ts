import { createRestAPIClient, MastoHttpError, MastoTimeoutError } from 'masto';
import type { Config } from './config.js';
import { HttpError } from './errors.js';

export interface Publisher {
  /** Posts `text`; the same `idempotencyKey` never makes a second post (Mastodon keeps keys for an hour). */
  publish(text: string, idempotencyKey: string): Promise<{ id: string; url: string }>;
}

/** Seconds until Mastodon's rate limit resets: Retry-After if sent, else X-RateLimit-Reset (an ISO time). */
function retryAfter(headers: Headers | undefined): number {
  const seconds = Number(headers?.get('retry-after'));
  if (Number.isFinite(seconds) && seconds > 0) return Math.ceil(seconds);
  const reset = Date.parse(headers?.get('x-ratelimit-reset') ?? '');
  return Number.isFinite(reset) ? Math.max(1, Math.ceil((reset - Date.now()) / 1000)) : 60;
}

export function mastodonPublisher(config: Config): Publisher {
  const client = createRestAPIClient({ url: config.mastodonUrl, accessToken: config.mastodonToken, timeout: config.timeoutMs });
  return {
    async publish(text, idempotencyKey) {
      try {
        const status = await client.v1.statuses.create({ status: text, visibility: config.visibility }, { requestInit: { headers: { 'Idempotency-Key': idempotencyKey } } });
        return { id: status.id, url: status.url ?? `${config.mastodonUrl}/@${config.mastodonUser}/${status.id}` };
      } catch (error) {
        if (error instanceof MastoHttpError && error.statusCode === 429) {
          throw new HttpError(503, 'Mastodon is rate limiting this service; try again later', retryAfter((error.cause as Response | undefined)?.headers));
        }
        if (error instanceof MastoHttpError && error.statusCode === 503) throw new HttpError(503, 'Mastodon is unavailable; try again later', retryAfter((error.cause as Response | undefined)?.headers));
        if (error instanceof MastoTimeoutError) throw new HttpError(502, 'Mastodon did not answer in time');
        throw new HttpError(502, error instanceof MastoHttpError ? `Mastodon refused the post (${error.statusCode})` : 'Mastodon could not be reached');
      }
    },
  };
}
