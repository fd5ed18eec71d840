import { createServer, type IncomingMessage, type Server } from 'node:http';

/**
 * A stand-in for a Mastodon server (none can run here), answering with the documented shapes:
 * POST /api/v1/statuses (Bearer token, Idempotency-Key) returns a Status; GET
 * /api/v1/statuses/:id/context returns a Context ({ancestors, descendants}), with CORS like Mastodon.
 */
export interface MastodonStandIn {
  url: string;
  host: string;
  token: string;
  /** Every POST /api/v1/statuses received, in order. */
  posts: { text: string; visibility: string; idempotencyKey?: string }[];
  /** Statuses actually created (a repeated Idempotency-Key creates none). */
  created: number;
  replies: Record<string, unknown>[];
  mode: 'ok' | 'rate-limited' | 'broken';
  close(): Promise<void>;
}

export function account(id: string, username: string, host: string) {
  return {
    id,
    username,
    acct: username,
    display_name: username === 'blog' ? 'The Blog' : `${username[0].toUpperCase()}${username.slice(1)}`,
    locked: false,
    bot: false,
    created_at: '2026-01-01T00:00:00.000Z',
    note: '',
    url: `http://${host}/@${username}`,
    avatar: `http://${host}/avatars/${username}.png`,
    avatar_static: `http://${host}/avatars/${username}.png`,
    header: '',
    header_static: '',
    followers_count: 0,
    following_count: 0,
    statuses_count: 1,
    emojis: [],
    fields: [],
  };
}

export function status(host: string, id: string, username: string, content: string, inReplyToId: string | null) {
  return {
    id,
    uri: `http://${host}/users/${username}/statuses/${id}`,
    url: `http://${host}/@${username}/${id}`,
    created_at: '2026-11-22T10:00:00.000Z',
    account: account(id === '1' ? '1' : `a${id}`, username, host),
    content,
    visibility: 'public',
    sensitive: false,
    spoiler_text: '',
    media_attachments: [],
    mentions: [],
    tags: [],
    emojis: [],
    reblogs_count: 0,
    favourites_count: 0,
    replies_count: 0,
    in_reply_to_id: inReplyToId,
    in_reply_to_account_id: inReplyToId ? '1' : null,
    reblog: null,
    application: null,
    language: 'en',
  };
}

async function body(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startMastodon(): Promise<MastodonStandIn> {
  const byKey = new Map<string, ReturnType<typeof status>>();
  const state = { posts: [] as MastodonStandIn['posts'], created: 0, replies: [] as Record<string, unknown>[], mode: 'ok' as MastodonStandIn['mode'] };
  const token = 'test-token';
  let host = '';
  const server: Server = createServer(async (request, response) => {
    const send = (code: number, data: unknown, headers: Record<string, string> = {}) => {
      response.writeHead(code, { 'content-type': 'application/json; charset=utf-8', 'access-control-allow-origin': '*', ...headers });
      response.end(JSON.stringify(data));
    };
    const path = new URL(request.url!, 'http://x').pathname;
    if (request.method === 'POST' && path === '/api/v1/statuses') {
      if (request.headers.authorization !== `Bearer ${token}`) return send(401, { error: 'The access token is invalid' });
      const input = JSON.parse(await body(request)) as { status: string; visibility: string };
      const idempotencyKey = request.headers['idempotency-key'] as string | undefined;
      state.posts.push({ text: input.status, visibility: input.visibility, idempotencyKey });
      // Mastodon's limit: 500 characters, every link counted as 23 (app/validators/status_length_validator.rb).
      const counted = [...input.status.replace(/https?:\/\/\S+/g, 'x'.repeat(23))].length;
      if (counted > 500) return send(422, { error: 'Validation failed: Text character limit of 500 exceeded' });
      if (state.mode === 'rate-limited') return send(429, { error: 'Too many requests' }, { 'x-ratelimit-limit': '300', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': new Date(Date.now() + 120_000).toISOString() });
      if (state.mode === 'broken') return send(500, { error: 'We are sorry, but something went wrong on our end.' });
      // Slow enough that concurrent first requests really overlap.
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (idempotencyKey && byKey.has(idempotencyKey)) return send(200, byKey.get(idempotencyKey));
      state.created++;
      const created = status(host, String(100 + state.created), 'blog', `<p>${input.status}</p>`, null);
      if (idempotencyKey) byKey.set(idempotencyKey, created);
      return send(200, created);
    }
    const context = /^\/api\/v1\/statuses\/([^/]+)\/context$/.exec(path);
    if (request.method === 'GET' && context) return send(200, { ancestors: [], descendants: state.replies });
    if (request.method === 'GET' && path.startsWith('/avatars/')) {
      response.writeHead(404).end();
      return;
    }
    send(404, { error: 'Record not found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  return Object.assign(state, {
    url: `http://${host}`,
    host,
    token,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }) as MastodonStandIn;
}
