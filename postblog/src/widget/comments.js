/*
 * postblog comments widget. A blog page includes
 *   <script src="https://comments.example.com/comments.js" async></script>
 * (optionally with data-target="#some-element"); the replies to the post's Mastodon post appear
 * there as a thread. DOMPurify, loaded just before this script, sanitises every reply's HTML.
 */
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script) return;
  var service = new URL(script.src).origin;
  var target = document.querySelector(script.getAttribute('data-target') || '#mastodon-comments');
  if (!target) {
    target = document.createElement('section');
    target.id = 'mastodon-comments';
    script.parentNode.insertBefore(target, script);
  }
  var canonical = document.querySelector('link[rel="canonical"]');
  var page = new URL((canonical && canonical.href) || location.href);
  page.search = '';
  page.hash = '';

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function safeUrl(value) {
    try {
      var url = new URL(value);
      return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
    } catch (error) {
      return null;
    }
  }

  function sanitize(html) {
    var clean = window.DOMPurify.sanitize(html, {
      ALLOWED_TAGS: ['p', 'br', 'a', 'span', 'strong', 'b', 'em', 'i', 'ul', 'ol', 'li', 'code', 'pre', 'blockquote'],
      ALLOWED_ATTR: ['href', 'class', 'rel'],
      RETURN_DOM_FRAGMENT: true,
    });
    clean.querySelectorAll('a').forEach(function (link) {
      link.setAttribute('rel', 'nofollow noopener noreferrer');
      link.setAttribute('target', '_blank');
    });
    return clean;
  }

  function renderReply(status, children) {
    var item = element('li', 'mastodon-comment');
    item.setAttribute('data-id', status.id);
    var header = element('div', 'mastodon-comment-author');
    var avatar = safeUrl(status.account.avatar_static || status.account.avatar);
    if (avatar) {
      var image = element('img', 'mastodon-comment-avatar');
      image.src = avatar;
      image.alt = '';
      image.width = 32;
      image.height = 32;
      header.appendChild(image);
    }
    var profile = element('a', 'mastodon-comment-name', status.account.display_name || status.account.username);
    var profileUrl = safeUrl(status.account.url);
    if (profileUrl) profile.href = profileUrl;
    header.appendChild(profile);
    var link = element('a', 'mastodon-comment-date', new Date(status.created_at).toLocaleString());
    var statusUrl = safeUrl(status.url || status.uri);
    if (statusUrl) link.href = statusUrl;
    header.appendChild(link);
    item.appendChild(header);
    var content = element('div', 'mastodon-comment-content');
    content.appendChild(sanitize(status.content));
    item.appendChild(content);
    var replies = children[status.id] || [];
    if (replies.length) {
      var list = element('ul', 'mastodon-comment-replies');
      replies.forEach(function (reply) { list.appendChild(renderReply(reply, children)); });
      item.appendChild(list);
    }
    return item;
  }

  function render(post, descendants) {
    target.textContent = '';
    var heading = element('div', 'mastodon-comments-header');
    var reply = element('a', 'mastodon-comments-reply', 'Reply on Mastodon');
    reply.href = safeUrl(post.url) || 'https://' + post.host + '/@' + post.user + '/' + post.toot_id;
    reply.rel = 'noopener';
    heading.appendChild(reply);
    target.appendChild(heading);
    var children = {};
    descendants.forEach(function (status) {
      (children[status.in_reply_to_id] = children[status.in_reply_to_id] || []).push(status);
    });
    var top = children[post.toot_id] || [];
    if (!top.length) {
      target.appendChild(element('p', 'mastodon-comments-empty', 'No comments yet.'));
      return;
    }
    var list = element('ul', 'mastodon-comments');
    top.forEach(function (status) { list.appendChild(renderReply(status, children)); });
    target.appendChild(list);
  }

  function json(response) {
    if (!response.ok) throw new Error('HTTP ' + response.status);
    return response.json();
  }

  target.textContent = 'Loading comments…';
  fetch(service + '/?url=' + encodeURIComponent(page.href))
    .then(json)
    .then(function (post) {
      var api = post.url ? new URL(post.url).origin : 'https://' + post.host;
      return fetch(api + '/api/v1/statuses/' + encodeURIComponent(post.toot_id) + '/context')
        .then(json)
        .then(function (context) { render(post, context.descendants || []); });
    })
    .catch(function () {
      target.textContent = 'Comments could not be loaded.';
    });
})();
