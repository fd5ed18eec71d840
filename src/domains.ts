/**
 * Names no one can own (RFC 2606 section 2 and 3, RFC 6761 section 6: the example domains and the
 * test, example, invalid and localhost top-level domains; RFC 6762: local). A certificate for one
 * never validates, and an image on a registry of one can never be pulled.
 */
const RESERVED_DOMAINS = ['example.com', 'example.net', 'example.org', 'test', 'example', 'invalid', 'localhost', 'local'];

/** The reserved domain `name` is or is under; undefined for a name someone can own. */
export function reservedDomain(name: string): string | undefined {
  const lower = name.toLowerCase();
  return RESERVED_DOMAINS.find((reserved) => lower === reserved || lower.endsWith(`.${reserved}`));
}

/**
 * The registry host of an image reference, as Docker reads it: the first path component when it
 * has a dot or a port, or is `localhost`; otherwise Docker Hub (docker.io).
 */
export function registryHost(image: string): string {
  const first = image.split('/')[0];
  return image.includes('/') && (/[.:]/.test(first) || first === 'localhost') ? first.replace(/:\d+$/, '') : 'docker.io';
}
