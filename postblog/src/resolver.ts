import { createHash, randomUUID } from 'node:crypto';
import { fetchBlogPost, normalizePostUrl, postKey, type BlogPost } from './blog.js';
import type { Config } from './config.js';
import { HttpError } from './errors.js';
import type { Publisher } from './mastodon.js';
import type { PostStore } from './store.js';

export interface Answer {
  host: string;
  user: string;
  toot_id: string;
  /** The Mastodon post itself; the widget reads the replies from its server. */
  url: string;
}

/**
 * Mastodon refuses a status over 500 characters for good (422), counting every link as 23
 * characters (app/validators/status_length_validator.rb). Code points are counted here, never
 * fewer than Mastodon's graphemes, so a text that fits here fits there.
 */
export const MASTODON_LIMIT = 500;
const LINK_LENGTH = 23;
/** A title longer than this is cut, leaving room for the description. */
const TITLE_LIMIT = 200;
const LEASE_MS = 30_000;

const length = (text: string) => [...text].length;
function shorten(text: string, limit: number): string {
  if (length(text) <= limit) return text;
  if (limit <= 1) return '';
  return `${[...text].slice(0, limit - 1).join('').trimEnd()}…`;
}

/** Title, blank line, description, hashtags, the link: shortened to fit Mastodon's limit, the link always whole. */
export function postText(post: BlogPost, hashtags: string[]): string {
  const tags = hashtags.join(' ');
  const separators = 2 * 3; // at most three blank lines between the four parts
  const room = MASTODON_LIMIT - LINK_LENGTH - length(tags) - separators;
  const title = shorten(post.title, Math.min(TITLE_LIMIT, room));
  const description = shorten(post.description, room - length(title));
  return [title, description, tags, post.url].filter(Boolean).join('\n\n');
}

/** At most `perMinute` new Mastodon posts a minute from this process: a reader asking for many URLs cannot spend the account's quota. */
export function postingLimit(perMinute: number, now = () => Date.now()) {
  const recent: number[] = [];
  return {
    /** Takes a slot, or returns the seconds until one is free. */
    take(): number {
      const time = now();
      while (recent.length > 0 && recent[0] <= time - 60_000) recent.shift();
      if (recent.length >= perMinute) return Math.max(1, Math.ceil((recent[0] + 60_000 - time) / 1000));
      recent.push(time);
      return 0;
    },
  };
}

/** Waits for another request (maybe on another replica) to finish creating the post. */
async function awaitOther(store: PostStore, url: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 50; Date.now() < deadline; delay = Math.min(delay * 2, 500)) {
    await new Promise((resolve) => setTimeout(resolve, delay));
    const record = await store.get(url);
    if (record?.tootId) return record;
    if (!record) return undefined;
  }
  throw new HttpError(503, 'The post is being created; try again shortly', 2);
}

export function createResolver(config: Config, store: PostStore, publisher: Publisher, fetchPost = fetchBlogPost) {
  const limit = postingLimit(config.maxNewPostsPerMinute);
  const answer = (tootId: string, tootUrl: string | undefined): Answer => ({
    host: config.mastodonHost,
    user: config.mastodonUser,
    toot_id: tootId,
    url: tootUrl ?? `${config.mastodonUrl}/@${config.mastodonUser}/${tootId}`,
  });

  /** The post stored under `key`, following an alias once. */
  async function stored(key: string) {
    const record = await store.get(key);
    return record?.aliasOf ? store.get(record.aliasOf) : record;
  }

  /** Creates the Mastodon post for a blog post, exactly once per post across replicas. */
  async function create(post: BlogPost, key: string): Promise<Answer> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const existing = await store.get(key);
      if (existing?.tootId) return answer(existing.tootId, existing.tootUrl);
      const owner = randomUUID();
      if (!(await store.claim(key, owner, LEASE_MS))) {
        const created = await awaitOther(store, key, config.timeoutMs * 2);
        if (created?.tootId) return answer(created.tootId, created.tootUrl);
        continue; // the other request gave up: try again
      }
      try {
        const wait = limit.take();
        if (wait > 0) throw new HttpError(429, 'Too many new posts in the last minute; try again later', wait);
        // The key depends only on the post: should this replica die after posting, the next claimant's retry is the same post.
        const toot = await publisher.publish(postText(post, config.hashtags), createHash('sha256').update(key).digest('hex'));
        await store.complete(key, owner, toot);
        return answer(toot.id, toot.url);
      } catch (error) {
        await store.release(key, owner);
        throw error;
      }
    }
    throw new HttpError(503, 'The post could not be created; try again shortly', 2);
  }

  /** The Mastodon post for a blog post URL, created on first request: one per blog post, whichever form of its URL is asked for. */
  return async function resolve(input: unknown): Promise<Answer> {
    const url = normalizePostUrl(input, config.blogHost, config.blogPostPattern);
    const asked = postKey(url);
    const known = await stored(asked);
    if (known?.tootId) return answer(known.tootId, known.tootUrl);
    // Not seen in this form: the page says which post it is (its canonical link, or where redirects lead).
    const post = await fetchPost(url, config.blogHost, config.blogPostPattern, config.timeoutMs);
    const key = postKey(post.url);
    if (key !== asked) await store.alias(asked, key);
    return create(post, key);
  };
}
