import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { expect } from 'chai';
import request from 'supertest';
import { startMoto, type Moto } from '../../test/support/moto.js';
import { readConfig, type Config } from '../src/config.js';
import { startBlog, type Blog } from './support/blog.js';
import { testEnvironment } from './support/environment.js';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createApp } from '../src/app.js';
import { mastodonPublisher } from '../src/mastodon.js';
import { createResolver, postingLimit } from '../src/resolver.js';
import { dynamoStore } from '../src/store.js';
import { postPage } from './support/blog.js';
import { appOnMoto, createTable, motoDynamo } from './support/dynamo.js';
import { startMastodon, type MastodonStandIn } from './support/mastodon.js';

describe('postblog service', function () {
  let moto: Moto;
  let mastodon: MastodonStandIn;
  let blog: Blog;
  let config: Config;
  let app: ReturnType<typeof appOnMoto>;
  const logs: Record<string, unknown>[] = [];

  before(async () => {
    [moto, mastodon, blog] = await Promise.all([startMoto(), startMastodon(), startBlog()]);
    config = readConfig(testEnvironment(mastodon, blog, await createTable(moto.endpoint), moto));
    app = appOnMoto(config, moto.endpoint, (entry) => logs.push(entry));
  });
  after(async () => Promise.all([moto?.stop(), mastodon?.close(), blog?.close()]));

  const get = (url?: string) => request(app).get('/').query(url === undefined ? {} : { url });

  it('answers /status with its revision, for the load balancer', async () => {
    const response = await request(app).get('/status').expect(200);
    expect(response.body).to.deep.equal({ code: 200, message: 'OK', rev: 'test-rev' });
    expect(response.headers['access-control-allow-origin']).to.equal('*');
  });

  it('creates the Mastodon post on the first request: title, blank line, description, hashtags, URL', async () => {
    const response = await get(`${blog.url}/posts/hello-world`).expect(200);
    expect(response.body).to.deep.equal({ host: mastodon.host, user: 'blog', toot_id: '101', url: `http://${mastodon.host}/@blog/101` });
    expect(response.headers['access-control-allow-origin']).to.equal('*');
    expect(mastodon.posts).to.have.length(1);
    expect(mastodon.posts[0]).to.deep.include({ text: `Hello & welcome\n\nA first post about "things".\n\n#blog #comments\n\n${blog.url}/posts/hello-world`, visibility: 'public' });
    expect(mastodon.posts[0].idempotencyKey).to.match(/^[0-9a-f]{64}$/);
  });

  it('answers later requests, with query or fragment, from the store without posting again', async () => {
    for (const url of [`${blog.url}/posts/hello-world`, `${blog.url}/posts/hello-world?utm_source=x`, `${blog.url}/posts/hello-world#comments`]) {
      expect((await get(url).expect(200)).body.toot_id).to.equal('101');
    }
    expect(mastodon.posts).to.have.length(1);
  });

  it('falls back to <title> when the page has no Open Graph tags', async () => {
    await get(`${blog.url}/posts/untitled`).expect(200);
    expect(mastodon.posts.at(-1)!.text).to.equal(`Just a title\n\n#blog #comments\n\n${blog.url}/posts/untitled`);
  });

  it('one blog post, one toot: a trailing slash, a same-host redirect and the canonical link all lead to the same post', async () => {
    blog.pages.set('/posts/shared-copy', `<html><head><link rel="canonical" href="${blog.url}/posts/hello-world/"><title>Copy</title></head></html>`);
    const before = mastodon.posts.length;
    for (const variant of ['/posts/hello-world/', '/posts/moved', '/posts/shared-copy', '/posts/shared-copy/']) {
      expect((await get(`${blog.url}${variant}`).expect(200)).body.toot_id, variant).to.equal('101');
    }
    expect(mastodon.posts.length).to.equal(before);
  });

  it('keeps every status within Mastodon\'s 500 characters (links count 23), shortening title and description', async () => {
    blog.pages.set('/posts/long-title', postPage('T'.repeat(900), 'D'.repeat(900)));
    await get(`${blog.url}/posts/long-title`).expect(200);
    const text = mastodon.posts.at(-1)!.text;
    const [title, description, tags, link] = text.split('\n\n');
    expect(title).to.match(/^T{199}…$/);
    expect(description).to.match(/^D+…$/);
    expect([tags, link]).to.deep.equal(['#blog #comments', `${blog.url}/posts/long-title`]);
    expect([...text.replace(link, 'x'.repeat(23))].length).to.equal(500);
  });

  const rejected: [string, string | undefined, string][] = [
    ['a missing url', undefined, 'No `url` query argument provided'],
    ['a malformed url', 'not a url', 'The `url` query argument is not a URL'],
    ['a url on another host', 'http://evil.example/posts/hello-world', 'is not on'],
    ['a url that is not a post', 'BLOG/about', 'The `url` is not a blog post'],
    ['a post that does not exist yet', 'BLOG/posts/tomorrow', 'The post does not exist yet'],
    ['a redirect off the blog', 'BLOG/posts/elsewhere', 'The post redirects away from the blog'],
    ['a non-http url', 'file:///etc/passwd', 'must be an http or https URL'],
    ['a url longer than a DynamoDB key may be', `BLOG/posts/${'a'.repeat(2100)}`, 'The `url` is too long (at most 2000 bytes)'],
  ];
  for (const [what, url, message] of rejected) {
    it(`answers 400 with JSON for ${what}, CORS header included`, async () => {
      const before = mastodon.posts.length;
      const response = await get(url?.replace('BLOG', blog.url)).expect(400);
      expect(response.body.code).to.equal(400);
      expect(response.body.error).to.include(message);
      expect(response.headers['access-control-allow-origin']).to.equal('*');
      expect(mastodon.posts.length).to.equal(before);
    });
  }

  it('reads at most 1 MiB of a page', async () => {
    const response = await get(`${blog.url}/posts/big`).expect(200);
    expect(mastodon.posts.at(-1)!.text).to.match(/^Big\n\nA very long page/);
    expect(response.body.toot_id).to.be.a('string');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(blog.bigPageAborted()).to.equal(true);
  });

  it('answers 502 when the blog does not answer in time', async () => {
    const response = await get(`${blog.url}/posts/slow`).expect(502);
    expect(response.body).to.deep.equal({ code: 502, error: `The blog (${blog.host}) could not be reached` });
  });

  it('answers 503 with Retry-After when Mastodon rate-limits, and posts once allowed again', async () => {
    blog.pages.set('/posts/rate-limited', '<title>Rate limited</title>');
    mastodon.mode = 'rate-limited';
    const limited = await get(`${blog.url}/posts/rate-limited`).expect(503);
    mastodon.mode = 'ok';
    expect(limited.body).to.deep.equal({ code: 503, error: 'Mastodon is rate limiting this service; try again later' });
    expect(Number(limited.headers['retry-after'])).to.be.within(100, 121);
    expect(limited.headers['access-control-allow-origin']).to.equal('*');
    expect((await get(`${blog.url}/posts/rate-limited`).expect(200)).body.toot_id).to.be.a('string');
  });

  it('answers 502 when Mastodon fails or cannot be reached, without a stack trace or the token', async () => {
    mastodon.mode = 'broken';
    blog.pages.set('/posts/broken', '<title>Broken</title>');
    const broken = await get(`${blog.url}/posts/broken`).expect(502);
    mastodon.mode = 'ok';
    expect(broken.body).to.deep.equal({ code: 502, error: 'Mastodon refused the post (500)' });
    const unreachable = readConfig({ ...testEnvironment(mastodon, blog, config.tableName, moto), MASTODON_URL: 'http://127.0.0.1:9' });
    const offline = appOnMoto(unreachable, moto.endpoint);
    blog.pages.set('/posts/offline', '<title>Offline</title>');
    const response = await request(offline).get('/').query({ url: `${blog.url}/posts/offline` }).expect(502);
    expect(response.body).to.deep.equal({ code: 502, error: 'Mastodon could not be reached' });
    expect(JSON.stringify(logs)).to.not.include(mastodon.token);
    // A failed first attempt leaves nothing behind: the next request creates the post.
    expect((await get(`${blog.url}/posts/broken`).expect(200)).body.toot_id).to.be.a('string');
  });

  it('caps new toots per minute per process: a reader asking for many URLs gets 429 and Retry-After, nothing is posted', async () => {
    const capped = appOnMoto({ ...config, maxNewPostsPerMinute: 1 }, moto.endpoint, (entry) => logs.push(entry));
    for (const path of ['/posts/first-of-many', '/posts/second-of-many']) blog.pages.set(path, `<title>${path}</title>`);
    await request(capped).get('/').query({ url: `${blog.url}/posts/first-of-many` }).expect(200);
    const before = mastodon.posts.length;
    const refused = await request(capped).get('/').query({ url: `${blog.url}/posts/second-of-many` }).expect(429);
    expect(refused.body).to.deep.equal({ code: 429, error: 'Too many new posts in the last minute; try again later' });
    expect(Number(refused.headers['retry-after'])).to.be.within(1, 60);
    expect(refused.headers['access-control-allow-origin']).to.equal('*');
    expect(mastodon.posts.length).to.equal(before);
    // Posts that already exist are still answered.
    await request(capped).get('/').query({ url: `${blog.url}/posts/first-of-many` }).expect(200);
  });

  it('answers 503 with CORS and logs the cause when the table is missing or DynamoDB cannot be reached; /status says so', async () => {
    const missing = readConfig({ ...testEnvironment(mastodon, blog, 'no-such-table', moto) });
    const store = dynamoStore(missing.tableName, motoDynamo(moto.endpoint));
    const entries: Record<string, unknown>[] = [];
    const broken = createApp({ version: 'test-rev', resolve: createResolver(missing, store, mastodonPublisher(missing)), health: () => store.check(), log: (entry) => entries.push(entry) });
    const response = await request(broken).get('/').query({ url: `${blog.url}/posts/hello-world` }).expect(503);
    expect(response.body).to.deep.equal({ code: 503, error: 'The comment store is unavailable; try again shortly' });
    expect(response.headers['access-control-allow-origin']).to.equal('*');
    expect(entries.at(-1)).to.deep.include({ level: 'warn', cause: 'DynamoDB (no-such-table): table no-such-table does not exist' });
    const status = await request(broken).get('/status').expect(503);
    expect(status.body).to.deep.equal({ code: 503, message: 'The comment store is unavailable; try again shortly', rev: 'test-rev' });

    const offlineStore = dynamoStore(config.tableName, motoDynamo('http://127.0.0.1:9'));
    const offline = createApp({ version: 'test-rev', resolve: createResolver(config, offlineStore, mastodonPublisher(config)), log: (entry) => entries.push(entry) });
    await request(offline).get('/').query({ url: `${blog.url}/posts/hello-world` }).expect(503);
    expect(String(entries.at(-1)!.cause)).to.match(/^DynamoDB \(postblog-[^)]+\): .*ECONNREFUSED/);
  });

  it('answers the toot it posted when its claim ran out meanwhile and another request took the post over, not 500', async () => {
    const url = `${blog.url}/posts/lease-lost`;
    blog.pages.set('/posts/lease-lost', '<title>Lease lost</title>');
    const dynamo = motoDynamo(moto.endpoint);
    const publisher = mastodonPublisher(config);
    // Mastodon answers after the lease: meanwhile another replica's request claims the post, as an expired lease allows.
    const slowMastodon = {
      async publish(text: string, idempotencyKey: string) {
        await dynamo.send(new PutItemCommand({ TableName: config.tableName, Item: { pk: { S: url }, state: { S: 'creating' }, owner: { S: 'another-request' }, leaseUntil: { N: String(Date.now() + 30_000) } } }));
        return publisher.publish(text, idempotencyKey);
      },
    };
    const lateApp = createApp({ version: 'test-rev', resolve: createResolver(config, dynamoStore(config.tableName, dynamo), slowMastodon), log: () => undefined });
    const response = await request(lateApp).get('/').query({ url }).expect(200);
    expect(response.body.toot_id).to.equal(String(100 + mastodon.created));
    // The claim is the other request's to finish: its post (same idempotency key) is the same toot.
    const { Item } = await dynamo.send(new GetItemCommand({ TableName: config.tableName, Key: { pk: { S: url } } }));
    expect(Item).to.deep.include({ state: { S: 'creating' }, owner: { S: 'another-request' } });
  });

  it('stops at start-up when its table does not exist, naming it', () => {
    const started = spawnSync(process.execPath, [fileURLToPath(new URL('../src/server.js', import.meta.url))], { env: { ...process.env, ...testEnvironment(mastodon, blog, 'no-such-table', moto) }, encoding: 'utf8', timeout: 20_000 });
    expect(started.status).to.equal(1);
    expect(started.stderr.trim()).to.equal('postblog cannot start: DynamoDB (no-such-table): table no-such-table does not exist (TABLE_NAME)');
  });

  it('answers unknown paths with a JSON 404, CORS header included', async () => {
    const response = await request(app).get('/wp-admin').expect(404);
    expect(response.body).to.deep.equal({ code: 404, error: 'Not found' });
    expect(response.headers['access-control-allow-origin']).to.equal('*');
  });

  it('serves the widget with DOMPurify', async () => {
    const response = await request(app).get('/comments.js').expect(200);
    expect(response.headers['content-type']).to.match(/^application\/javascript/);
    expect(response.text).to.include('DOMPurify');
    expect(response.text).to.include('/api/v1/statuses/');
  });
});

describe('postblog posting limit', () => {
  it('frees a slot a minute after it was taken', () => {
    let now = 0;
    const limit = postingLimit(2, () => now);
    expect([limit.take(), limit.take(), limit.take()]).to.deep.equal([0, 0, 60]);
    now = 45_000;
    expect(limit.take()).to.equal(15);
    now = 60_000;
    expect(limit.take()).to.equal(0);
  });
});

describe('postblog settings', () => {
  const valid = { MASTODON_HOST: 'social.example.com', MASTODON_USER: 'blog', MASTODON_TOKEN: 't', BLOG_HOST: 'blog.example.com', BLOG_POST_RE: '^https://blog\\.example\\.com/\\d{4}/', TABLE_NAME: 'posts' };

  it('reads a valid environment, with defaults', () => {
    const config = readConfig(valid);
    expect(config).to.deep.include({ port: 8000, version: 'dev', mastodonUrl: 'https://social.example.com', visibility: 'public', hashtags: [], timeoutMs: 5000 });
  });

  for (const [name, value, message] of [
    ['MASTODON_TOKEN', undefined, 'MASTODON_TOKEN is required'],
    ['BLOG_POST_RE', '([', 'BLOG_POST_RE is not a valid regular expression'],
    ['PORT', 'eighty', 'PORT must be a whole number'],
    ['VISIBILITY', 'private', 'VISIBILITY must be public or unlisted'],
    ['MASTODON_HOST', 'https://social.example.com/', 'MASTODON_HOST must be a host name'],
    ['TABLE_NAME', '', 'TABLE_NAME is required'],
  ] as const) {
    it(`stops at start-up naming ${name} when it is ${value === undefined ? 'missing' : 'invalid'}`, () => {
      expect(() => readConfig({ ...valid, [name]: value })).to.throw(message);
    });
  }
});
