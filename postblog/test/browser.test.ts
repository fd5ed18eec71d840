import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { expect } from 'chai';
import { chromium, type Browser } from 'playwright-core';
import { startMoto, type Moto } from '../../test/support/moto.js';
import { readConfig } from '../src/config.js';
import { startBlog, type Blog } from './support/blog.js';
import { appOnMoto, createTable } from './support/dynamo.js';
import { testEnvironment } from './support/environment.js';
import { startMastodon, status, type MastodonStandIn } from './support/mastodon.js';

const CHROMIUM = '/usr/bin/chromium';

describe('postblog widget in a real headless Chromium', function () {
  let moto: Moto;
  let mastodon: MastodonStandIn;
  let blog: Blog;
  let service: Server;
  let browser: Browser;

  before(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (.ci/run does)`);
    [moto, mastodon, blog] = await Promise.all([startMoto(), startMastodon(), startBlog()]);
    const config = readConfig(testEnvironment(mastodon, blog, await createTable(moto.endpoint), moto));
    const app = appOnMoto(config, moto.endpoint);
    service = await new Promise<Server>((resolve) => {
      const server = app.listen(0, '127.0.0.1', () => resolve(server));
    });
    const serviceUrl = `http://127.0.0.1:${(service.address() as { port: number }).port}`;
    blog.pages.set(
      '/posts/with-comments',
      `<!doctype html><html><head><title>With comments</title><meta property="og:title" content="With comments"></head>
       <body><article>Post</article><div id="mastodon-comments"></div><script src="${serviceUrl}/comments.js" async></script></body></html>`,
    );
    // The first post this stand-in creates gets id 101: the replies answer it.
    mastodon.replies.push(
      status(mastodon.host, '201', 'alice', '<p>Great post, <a href="https://example.org/x">see this</a></p>', '101'),
      status(mastodon.host, '202', 'mallory', '<p>hi<script>window.__xss = 1</script><img src="x" onerror="window.__xss = 2"><a href="javascript:window.__xss = 3">click</a></p>', '101'),
      status(mastodon.host, '203', 'bob', '<p>Replying to Alice</p>', '201'),
    );
    (mastodon.replies[1] as { account: { display_name: string } }).account.display_name = '<img src=x onerror="window.__xss = 4">Mallory';
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  after(async () => {
    await browser?.close();
    await new Promise((resolve) => service?.close(resolve));
    await Promise.all([moto?.stop(), mastodon?.close(), blog?.close()]);
  });

  it('renders the replies as a thread, with a reply link, and runs none of their scripts', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${blog.url}/posts/with-comments`);
    const consoleLines: string[] = [];
    page.on('console', (message) => consoleLines.push(message.text()));
    page.on('requestfailed', (request) => consoleLines.push(`failed ${request.url()} ${request.failure()?.errorText}`));
    await page.waitForSelector('.mastodon-comment', { timeout: 10_000 }).catch(async (error) => {
      throw new Error(`${(error as Error).message}\npage: ${await page.locator('#mastodon-comments').textContent()}\n${[...consoleLines, ...errors].join('\n')}`);
    });
    await page.waitForTimeout(200);

    const thread = await page.evaluate(() =>
      [...document.querySelectorAll('#mastodon-comments > ul > li.mastodon-comment')].map((item) => ({
        id: item.getAttribute('data-id'),
        name: item.querySelector('.mastodon-comment-name')!.textContent,
        text: item.querySelector('.mastodon-comment-content')!.textContent,
        replies: [...item.querySelectorAll(':scope > ul > li')].map((reply) => reply.getAttribute('data-id')),
      })),
    );
    expect(thread).to.deep.equal([
      { id: '201', name: 'Alice', text: 'Great post, see this', replies: ['203'] },
      { id: '202', name: '<img src=x onerror="window.__xss = 4">Mallory', text: 'hiclick', replies: [] },
    ]);
    const safety = await page.evaluate(() => ({
      xss: (window as unknown as { __xss?: number }).__xss,
      scripts: document.querySelectorAll('#mastodon-comments script').length,
      images: [...document.querySelectorAll('#mastodon-comments img')].map((img) => img.className),
      handlers: [...document.querySelectorAll('#mastodon-comments *')].filter((el) => [...el.attributes].some((a) => a.name.startsWith('on'))).length,
      javascriptLinks: [...document.querySelectorAll('#mastodon-comments a')].filter((a) => a.getAttribute('href')?.startsWith('javascript:')).length,
      link: document.querySelector('.mastodon-comment-content a')!.getAttribute('rel'),
      reply: document.querySelector<HTMLAnchorElement>('.mastodon-comments-reply')!.href,
    }));
    expect(safety).to.deep.equal({
      xss: undefined,
      scripts: 0,
      images: ['mastodon-comment-avatar', 'mastodon-comment-avatar', 'mastodon-comment-avatar'],
      handlers: 0,
      javascriptLinks: 0,
      link: 'nofollow noopener noreferrer',
      reply: `http://${mastodon.host}/@blog/101`,
    });
    expect(errors).to.deep.equal([]);
    expect(mastodon.posts).to.have.length(1);
    await page.close();
  });
});
