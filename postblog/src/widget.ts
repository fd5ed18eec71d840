/**
 * The comments widget, run in the reader's browser. A blog page includes
 *   <script src="https://comments.example.com/comments.js" async></script>
 * (optionally with data-target="#some-element") and the replies to the post's Mastodon post
 * appear there as a thread. DOMPurify, served just before it, sanitises every reply's HTML.
 *
 * The function is served as its own source text (see app.ts), so it must use nothing from this
 * module: everything it needs is inside it.
 */
export function commentsWidget(): void {
  interface Account {
    username: string;
    display_name: string;
    url: string;
    avatar: string;
    avatar_static: string;
  }
  interface Status {
    id: string;
    url: string | null;
    uri: string;
    created_at: string;
    content: string;
    in_reply_to_id: string | null;
    account: Account;
  }
  interface Post {
    host: string;
    user: string;
    toot_id: string;
    url?: string;
  }
  const purify = (window as unknown as { DOMPurify: { sanitize(html: string, options: object): DocumentFragment } }).DOMPurify;
  const script = document.currentScript as HTMLScriptElement | null;
  if (!script) return;
  const service = new URL(script.src).origin;
  let target = document.querySelector(script.getAttribute('data-target') || '#mastodon-comments');
  if (!target) {
    target = document.createElement('section');
    target.id = 'mastodon-comments';
    script.parentNode!.insertBefore(target, script);
  }
  const root = target;
  const canonical = document.querySelector<HTMLLinkElement>('link[rel="canonical"]');
  const page = new URL(canonical?.href || location.href);
  page.search = '';
  page.hash = '';

  const element = (tag: string, className?: string, text?: string) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  };
  const safeUrl = (value: string | null | undefined) => {
    try {
      const url = new URL(value ?? '');
      return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : undefined;
    } catch {
      return undefined;
    }
  };
  const sanitize = (html: string) => {
    const clean = purify.sanitize(html, {
      ALLOWED_TAGS: ['p', 'br', 'a', 'span', 'strong', 'b', 'em', 'i', 'ul', 'ol', 'li', 'code', 'pre', 'blockquote'],
      ALLOWED_ATTR: ['href', 'class', 'rel'],
      RETURN_DOM_FRAGMENT: true,
    });
    clean.querySelectorAll('a').forEach((link) => {
      link.setAttribute('rel', 'nofollow noopener noreferrer');
      link.setAttribute('target', '_blank');
    });
    return clean;
  };

  const renderReply = (status: Status, children: Record<string, Status[]>): HTMLElement => {
    const item = element('li', 'mastodon-comment');
    item.setAttribute('data-id', status.id);
    const header = element('div', 'mastodon-comment-author');
    const avatar = safeUrl(status.account.avatar_static || status.account.avatar);
    if (avatar) {
      const image = element('img', 'mastodon-comment-avatar') as HTMLImageElement;
      image.src = avatar;
      image.alt = '';
      image.width = 32;
      image.height = 32;
      header.appendChild(image);
    }
    const profile = element('a', 'mastodon-comment-name', status.account.display_name || status.account.username) as HTMLAnchorElement;
    const profileUrl = safeUrl(status.account.url);
    if (profileUrl) profile.href = profileUrl;
    header.appendChild(profile);
    const link = element('a', 'mastodon-comment-date', new Date(status.created_at).toLocaleString()) as HTMLAnchorElement;
    const statusUrl = safeUrl(status.url || status.uri);
    if (statusUrl) link.href = statusUrl;
    header.appendChild(link);
    item.appendChild(header);
    const content = element('div', 'mastodon-comment-content');
    content.appendChild(sanitize(status.content));
    item.appendChild(content);
    const replies = children[status.id] ?? [];
    if (replies.length) {
      const list = element('ul', 'mastodon-comment-replies');
      for (const reply of replies) list.appendChild(renderReply(reply, children));
      item.appendChild(list);
    }
    return item;
  };

  const render = (post: Post, descendants: Status[]) => {
    root.textContent = '';
    const heading = element('div', 'mastodon-comments-header');
    const reply = element('a', 'mastodon-comments-reply', 'Reply on Mastodon') as HTMLAnchorElement;
    reply.href = safeUrl(post.url) ?? `https://${post.host}/@${post.user}/${post.toot_id}`;
    reply.rel = 'noopener';
    heading.appendChild(reply);
    root.appendChild(heading);
    const children: Record<string, Status[]> = {};
    for (const status of descendants) (children[status.in_reply_to_id ?? ''] ??= []).push(status);
    const top = children[post.toot_id] ?? [];
    if (!top.length) {
      root.appendChild(element('p', 'mastodon-comments-empty', 'No comments yet.'));
      return;
    }
    const list = element('ul', 'mastodon-comments');
    for (const status of top) list.appendChild(renderReply(status, children));
    root.appendChild(list);
  };

  const json = async (response: Response) => {
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return response.json();
  };

  root.textContent = 'Loading comments…';
  fetch(`${service}/?url=${encodeURIComponent(page.href)}`)
    .then(json)
    .then(async (post: Post) => {
      const api = post.url ? new URL(post.url).origin : `https://${post.host}`;
      const context = (await json(await fetch(`${api}/api/v1/statuses/${encodeURIComponent(post.toot_id)}/context`))) as { descendants?: Status[] };
      render(post, context.descendants ?? []);
    })
    .catch(() => {
      root.textContent = 'Comments could not be loaded.';
    });
}
