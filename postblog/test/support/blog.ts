import { createServer, type Server } from 'node:http';

/** A small blog: posts with Open Graph tags, plus the awkward cases the service must survive. */
export interface Blog {
  url: string;
  host: string;
  /** Whether the big page's download was cut short by the client. */
  bigPageAborted: () => boolean;
  /** Pages served at extra paths (for the browser test). */
  pages: Map<string, string>;
  close(): Promise<void>;
}

export function postPage(title: string, description: string): string {
  return `<!doctype html><html><head><title>${title} | My Blog</title><meta property="og:title" content="${title}"><meta property="og:description" content="${description}"></head><body><article>${title}</article></body></html>`;
}

export async function startBlog(): Promise<Blog> {
  let bigAborted = false;
  const pages = new Map<string, string>();
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url!, 'http://x').pathname;
    const html = (content: string) => response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(content);
    if (pages.has(path)) return html(pages.get(path)!);
    if (path === '/posts/hello-world') return html(postPage('Hello &amp; welcome', 'A first post about &quot;things&quot;.'));
    if (path === '/posts/untitled') return html('<html><head><title>Just a title</title></head></html>');
    if (path === '/posts/moved') return response.writeHead(301, { location: '/posts/hello-world' }).end();
    if (path === '/posts/elsewhere') return response.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
    if (path === '/posts/big') {
      response.writeHead(200, { 'content-type': 'text/html' });
      response.write(postPage('Big', 'A very long page'));
      const chunk = Buffer.alloc(64 * 1024, 'x');
      let sent = 0;
      response.on('close', () => (bigAborted = !response.writableFinished));
      const pump = () => {
        while (sent < 8 * 1024 * 1024) {
          sent += chunk.length;
          if (!response.write(chunk)) return void response.once('drain', pump);
        }
        response.end();
      };
      return pump();
    }
    if (path === '/posts/slow') return; // never answers
    response.writeHead(404, { 'content-type': 'text/html' }).end('<h1>Not found</h1>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url: `http://${host}`,
    host,
    pages,
    bigPageAborted: () => bigAborted,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
