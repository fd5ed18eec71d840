import { createHash, randomUUID } from 'node:crypto';
import { fetchBlogPost, normalizePostUrl, type BlogPost } from './blog.js';
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

/** Mastodon counts every link as 23 characters and takes 500 in all. */
const MASTODON_LIMIT = 500;
const LINK_LENGTH = 23;
const LEASE_MS = 30_000;

export function postText(post: BlogPost, hashtags: string[]): string {
  const tags = hashtags.join(' ');
  const fixed = [post.title, tags].filter(Boolean).join('').length + LINK_LENGTH + 8;
  let description = post.description;
  if (fixed + description.length > MASTODON_LIMIT) description = `${description.slice(0, Math.max(0, MASTODON_LIMIT - fixed - 1)).trimEnd()}…`;
  const title = post.title || post.url;
  return [title, '', ...(description ? [description, ''] : []), ...(tags ? [tags, ''] : []), post.url].join('\n');
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
  const answer = (tootId: string, tootUrl: string | undefined): Answer => ({
    host: config.mastodonHost,
    user: config.mastodonUser,
    toot_id: tootId,
    url: tootUrl ?? `${config.mastodonUrl}/@${config.mastodonUser}/${tootId}`,
  });

  /** The Mastodon post for a blog post URL, created on first request: exactly one per URL, ever. */
  return async function resolve(input: unknown): Promise<Answer> {
    const url = normalizePostUrl(input, config.blogHost, config.blogPostPattern);
    for (let attempt = 0; attempt < 3; attempt++) {
      const existing = await store.get(url);
      if (existing?.tootId) return answer(existing.tootId, existing.tootUrl);
      const owner = randomUUID();
      if (!(await store.claim(url, owner, LEASE_MS))) {
        const created = await awaitOther(store, url, config.timeoutMs * 2);
        if (created?.tootId) return answer(created.tootId, created.tootUrl);
        continue; // the other request gave up: try again
      }
      try {
        const post = await fetchPost(url, config.blogHost, config.timeoutMs);
        // The key depends only on the URL: should this replica die after posting, the next claimant's retry is the same post.
        const toot = await publisher.publish(postText(post, config.hashtags), createHash('sha256').update(url).digest('hex'));
        await store.complete(url, owner, toot);
        return answer(toot.id, toot.url);
      } catch (error) {
        await store.release(url, owner);
        throw error;
      }
    }
    throw new HttpError(503, 'The post could not be created; try again shortly', 2);
  };
}
