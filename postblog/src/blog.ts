import { HttpError } from './errors.js';

export const MAX_PAGE_BYTES = 1024 * 1024;
const MAX_REDIRECTS = 5;
/** DynamoDB keys hold at most 2,048 bytes; no blog post has a URL near that. */
export const MAX_URL_BYTES = 2000;

export interface BlogPost {
  /** The post's own URL: its canonical link, else where redirects ended, else the URL asked for. */
  url: string;
  title: string;
  description: string;
}

/** The canonical form of a blog post URL: http(s), on the blog host, without query or fragment, matching the pattern. */
export function normalizePostUrl(input: unknown, blogHost: string, pattern: RegExp): string {
  if (typeof input !== 'string' || input.trim() === '') throw new HttpError(400, 'No `url` query argument provided');
  let url: URL;
  try {
    url = new URL(input.trim());
  } catch {
    throw new HttpError(400, 'The `url` query argument is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new HttpError(400, 'The `url` must be an http or https URL');
  if (url.host.toLowerCase() !== blogHost) throw new HttpError(400, `The \`url\` is not on ${blogHost}`);
  url.search = '';
  url.hash = '';
  const normalized = url.toString();
  if (Buffer.byteLength(normalized) > MAX_URL_BYTES) throw new HttpError(400, `The \`url\` is too long (at most ${MAX_URL_BYTES} bytes)`);
  if (!pattern.test(normalized)) throw new HttpError(400, 'The `url` is not a blog post');
  return normalized;
}

/**
 * The key of a post in the store: one per blog post, whichever form of its URL was asked for
 * (/posts/x and /posts/x/ are one post).
 */
export function postKey(url: string): string {
  const parsed = new URL(url);
  if (parsed.pathname.length > 1) parsed.pathname = parsed.pathname.replace(/\/+$/, '');
  return parsed.toString();
}

/** The URL as a blog post of this blog, or undefined when it is not one (off the blog host, or not matching the pattern). */
function asPost(candidate: string | undefined, base: URL, blogHost: string, pattern: RegExp): string | undefined {
  if (!candidate) return undefined;
  try {
    return normalizePostUrl(new URL(candidate, base).toString(), blogHost, pattern);
  } catch {
    return undefined;
  }
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };
function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (entity, code: string) => {
    if (code[0] === '#') {
      const point = code[1] === 'x' || code[1] === 'X' ? parseInt(code.slice(2), 16) : parseInt(code.slice(1), 10);
      return point > 0 && point <= 0x10ffff ? String.fromCodePoint(point) : entity;
    }
    return ENTITIES[code.toLowerCase()] ?? entity;
  });
}

/** The title (og:title, else <title>), og:description and canonical link of a page. */
export function readMeta(html: string): { title: string; description: string; canonical?: string } {
  const meta = new Map<string, string>();
  for (const [tag] of html.matchAll(/<meta\b[^>]*>/gi)) {
    const attributes = new Map([...tag.matchAll(/([a-z:-]+)\s*=\s*("([^"]*)"|'([^']*)')/gi)].map((m) => [m[1].toLowerCase(), m[3] ?? m[4]]));
    const key = (attributes.get('property') ?? attributes.get('name'))?.toLowerCase();
    if (key && attributes.has('content') && !meta.has(key)) meta.set(key, decodeEntities(attributes.get('content')!).trim());
  }
  const titleTag = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(html)?.[1];
  let canonical: string | undefined;
  for (const [tag] of html.matchAll(/<link\b[^>]*>/gi)) {
    const rel = /\brel\s*=\s*["']?([^"'>]+)/i.exec(tag)?.[1];
    const href = /\bhref\s*=\s*("([^"]*)"|'([^']*)')/i.exec(tag);
    if (rel?.toLowerCase().split(/\s+/).includes('canonical') && href) {
      canonical = decodeEntities(href[2] ?? href[3]).trim();
      break;
    }
  }
  return {
    title: meta.get('og:title') || (titleTag ? decodeEntities(titleTag).replace(/\s+/g, ' ').trim() : ''),
    description: meta.get('og:description') || meta.get('description') || '',
    canonical,
  };
}

async function readLimited(response: Response): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < MAX_PAGE_BYTES) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
  }
  await reader.cancel().catch(() => undefined);
  return Buffer.concat(chunks).subarray(0, MAX_PAGE_BYTES).toString('utf8');
}

/**
 * Fetches a blog post to read its title and description. It follows redirects only on the blog
 * host, reads at most 1 MiB and gives up after `timeoutMs`: the service never becomes a way to
 * make requests elsewhere.
 */
export async function fetchBlogPost(url: string, blogHost: string, pattern: RegExp, timeoutMs: number): Promise<BlogPost> {
  let current = new URL(url);
  const signal = AbortSignal.timeout(timeoutMs);
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    let response: Response;
    try {
      response = await fetch(current, { redirect: 'manual', signal, headers: { accept: 'text/html' } });
    } catch {
      throw new HttpError(502, `The blog (${blogHost}) could not be reached`);
    }
    if (response.status >= 300 && response.status < 400 && response.headers.has('location')) {
      await response.body?.cancel();
      const next = new URL(response.headers.get('location')!, current);
      if (next.host.toLowerCase() !== blogHost || (next.protocol !== 'https:' && next.protocol !== 'http:')) throw new HttpError(400, 'The post redirects away from the blog');
      current = next;
      continue;
    }
    if (response.status === 404 || response.status === 410) {
      await response.body?.cancel();
      throw new HttpError(400, 'The post does not exist yet');
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new HttpError(502, `The blog answered ${response.status}`);
    }
    let html: string;
    try {
      html = await readLimited(response);
    } catch {
      throw new HttpError(502, `The blog (${blogHost}) could not be read`);
    }
    const { canonical, ...meta } = readMeta(html);
    // One blog post, one Mastodon post: the page's own idea of its URL wins, then where redirects led.
    return { url: asPost(canonical, current, blogHost, pattern) ?? asPost(current.toString(), current, blogHost, pattern) ?? url, ...meta };
  }
  throw new HttpError(400, 'The post redirects too many times');
}
