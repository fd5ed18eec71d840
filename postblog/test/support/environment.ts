import type { Moto } from '../../../test/support/moto.js';
import type { Blog } from './blog.js';
import type { MastodonStandIn } from './mastodon.js';

/** postblog's environment for the tests: the stand-ins, a table on moto, any free port. */
export function testEnvironment(mastodon: MastodonStandIn, blog: Blog, tableName: string, moto: Moto): Record<string, string> {
  return {
    ...moto.env,
    AWS_REGION: 'us-east-1',
    PORT: '0',
    VERSION: 'test-rev',
    MASTODON_HOST: mastodon.host,
    MASTODON_URL: mastodon.url,
    MASTODON_USER: 'blog',
    MASTODON_TOKEN: mastodon.token,
    BLOG_HOST: blog.host,
    BLOG_POST_RE: '^http://[^/]+/posts/[a-z-]+/?$',
    HASHTAGS: 'blog, comments',
    TABLE_NAME: tableName,
    TIMEOUT_MS: '1000',
    // As in the Dockerfile: the SDK's notice about Node 22 from 2027 is noise here.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}
