/** An answer other than 200, with a message safe to show anyone: no stack trace, no secret. */
export class HttpError extends Error {
  constructor(
    readonly status: 400 | 404 | 429 | 502 | 503,
    message: string,
    /** Seconds, sent as Retry-After. */
    readonly retryAfter?: number,
    /** For the log only: what really went wrong (never sent to the client). */
    readonly detail?: string,
  ) {
    super(message);
  }
}
