import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import express, { type NextFunction, type Request, type Response } from 'express';
import { HttpError } from './errors.js';
import type { Answer } from './resolver.js';
import { commentsWidget } from './widget.js';

/** /comments.js: DOMPurify (to sanitise reply HTML in the browser), then the widget, run at once. */
export function widgetScript(): string {
  const purify = readFileSync(createRequire(import.meta.url).resolve('dompurify/dist/purify.min.js'), 'utf8');
  return `${purify}\n(${commentsWidget.toString()})();\n`;
}

export interface AppOptions {
  version: string;
  resolve(url: unknown): Promise<Answer>;
  /** Throws (an HttpError with a detail) when a dependency, the store, is unavailable: /status then answers 503. */
  health?(): Promise<void>;
  log?(entry: Record<string, unknown>): void;
}

/** How long a /status verdict is reused: the load balancer asks every few seconds, on every replica. */
const HEALTH_CACHE_MS = 10_000;

export function createApp(options: AppOptions) {
  const log = options.log ?? ((entry) => process.stdout.write(`${JSON.stringify(entry)}\n`));
  const script = widgetScript();
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Every answer, errors included, may be read by the blog's pages.
  app.use((_request, response, next) => {
    response.set('Access-Control-Allow-Origin', '*');
    next();
  });

  let health: { at: number; problem?: HttpError } | undefined;
  app.get('/status', async (_request, response) => {
    if (options.health && (!health || Date.now() - health.at > HEALTH_CACHE_MS)) {
      const problem = await options.health().then(
        () => undefined,
        (error: unknown) => (error instanceof HttpError ? error : new HttpError(503, 'The comment store is unavailable', undefined, (error as Error)?.message)),
      );
      if (problem) log({ level: 'error', message: 'status: the store is unavailable', cause: problem.detail });
      health = { at: Date.now(), problem };
    }
    if (health?.problem) {
      response.status(503).json({ code: 503, message: health.problem.message, rev: options.version });
      return;
    }
    response.json({ code: 200, message: 'OK', rev: options.version });
  });

  app.get('/comments.js', (_request, response) => {
    response.type('application/javascript').set('Cache-Control', 'public, max-age=3600').send(script);
  });

  app.get('/', async (request, response) => {
    const answer = await options.resolve(request.query.url);
    log({ level: 'info', message: 'resolved', url: request.query.url, toot_id: answer.toot_id });
    response.json(answer);
  });

  app.use((_request, response) => {
    response.status(404).json({ code: 404, error: 'Not found' });
  });

  app.use((error: unknown, request: Request, response: Response, _next: NextFunction) => {
    if (error instanceof HttpError) {
      if (error.retryAfter) response.set('Retry-After', String(error.retryAfter));
      if (error.status >= 500 || error.status === 429) log({ level: 'warn', message: error.message, cause: error.detail, url: request.query.url });
      response.status(error.status).json({ code: error.status, error: error.message });
      return;
    }
    log({ level: 'error', message: 'request failed', url: request.query.url, error: (error as Error)?.message });
    response.status(500).json({ code: 500, error: 'Internal error' });
  });
  return app;
}
