/** postblog's settings, all from environment variables (see README.md). A bad setting stops start-up, naming the variable. */
export interface Config {
  port: number;
  version: string;
  /** The Mastodon server's host (answered to the widget) and its API's base URL. */
  mastodonHost: string;
  mastodonUrl: string;
  mastodonUser: string;
  mastodonToken: string;
  visibility: 'public' | 'unlisted';
  hashtags: string[];
  /** Host of the blog whose posts may be announced; redirects never leave it. */
  blogHost: string;
  blogPostPattern: RegExp;
  tableName: string;
  timeoutMs: number;
  /** New Mastodon posts this process makes in a minute, at most (MAX_NEW_POSTS_PER_MINUTE). */
  maxNewPostsPerMinute: number;
}

export class ConfigError extends Error {}

export function readConfig(env: Record<string, string | undefined>): Config {
  const problems: string[] = [];
  const required = (name: string): string => {
    const value = env[name]?.trim();
    if (!value) problems.push(`${name} is required`);
    return value ?? '';
  };
  const host = (name: string, value: string) => {
    if (value && !/^[a-z0-9.-]+(:[0-9]{1,5})?$/i.test(value)) problems.push(`${name} must be a host name (such as social.example.com), not "${value}"`);
    return value.toLowerCase();
  };
  const integer = (name: string, fallback: number, min: number, max: number) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) problems.push(`${name} must be a whole number from ${min} to ${max}, not "${raw}"`);
    return value;
  };

  const mastodonHost = host('MASTODON_HOST', required('MASTODON_HOST'));
  const mastodonUrl = env.MASTODON_URL?.trim() || `https://${mastodonHost}`;
  if (!/^https?:\/\/[^/]+$/.test(mastodonUrl)) problems.push(`MASTODON_URL must be a base URL such as https://social.example.com, not "${mastodonUrl}"`);
  const mastodonUser = required('MASTODON_USER').replace(/^@/, '');
  const mastodonToken = required('MASTODON_TOKEN');
  const blogHost = host('BLOG_HOST', required('BLOG_HOST'));
  let blogPostPattern = /$^/;
  const pattern = required('BLOG_POST_RE');
  if (pattern) {
    try {
      blogPostPattern = new RegExp(pattern);
    } catch (error) {
      problems.push(`BLOG_POST_RE is not a valid regular expression: ${(error as Error).message}`);
    }
  }
  const visibility = env.VISIBILITY?.trim() || 'public';
  if (visibility !== 'public' && visibility !== 'unlisted') problems.push(`VISIBILITY must be public or unlisted, not "${visibility}"`);
  const hashtags = (env.HASHTAGS ?? '').split(/[\s,]+/).filter(Boolean).map((tag) => tag.replace(/^#?/, '#'));
  for (const tag of hashtags) if (!/^#\w+$/u.test(tag)) problems.push(`HASHTAGS must be words separated by commas or spaces, not "${tag}"`);
  if (hashtags.join(' ').length > 200) problems.push('HASHTAGS must be at most 200 characters in all: they go into every 500-character post');
  const config: Config = {
    port: integer('PORT', 8000, 0, 65535),
    version: env.VERSION?.trim() || 'dev',
    mastodonHost,
    mastodonUrl,
    mastodonUser,
    mastodonToken,
    visibility: visibility as Config['visibility'],
    hashtags,
    blogHost,
    blogPostPattern,
    tableName: required('TABLE_NAME'),
    timeoutMs: integer('TIMEOUT_MS', 5000, 100, 60000),
    maxNewPostsPerMinute: integer('MAX_NEW_POSTS_PER_MINUTE', 10, 1, 1000),
  };
  if (problems.length > 0) throw new ConfigError(`postblog cannot start:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  return config;
}
