/**
 * The base image of every service image `deploy` builds (services.<name>.build): the official Node.js
 * image `node:24.19.0-alpine`, pinned by the digest of its multi-arch index,
 * sha256:d32cdf619f63fe0471182d08996dd516c6275bb5fd31ae06e55a570bd9e1ad43. Node 24 is the LTS line
 * (maintained to April 2028); Node 20, which mastodon-cfn itself still runs on, reached its end of
 * life in April 2026, and an image is what runs for years. postblog's `engines` (node >=20.19) takes both.
 * Read from mateoltd/simplelogin-owned-provider, Dockerfile at d7ab6fb
 * (`ARG NODE_IMAGE="node:24.19.0-alpine@sha256:d32cdf61…"`) and dallay/profiletailors.com's web
 * Dockerfile (`FROM node:24.19.0-alpine@sha256:d32cdf61…`); other public Dockerfiles pin the same
 * digest as `node:24-alpine@sha256:d32cdf61…`.
 *
 * The deployer pulls it from Docker Hub (registry-1.docker.io, repository library/node) by that digest,
 * never by tag, and picks the manifest of the service's platform (linux/amd64 or linux/arm64) from the index.
 * The image keeps its ENTRYPOINT ["docker-entrypoint.sh"] and its `node` user (uid 1000).
 */
export interface BaseImage {
  /** The registry's URL, without /v2/. */
  registry: string;
  repository: string;
  /** For messages only: what is pulled is `digest`. */
  tag: string;
  /** The digest of the multi-arch index. */
  digest: string;
}

export const NODE_BASE_IMAGE: BaseImage = {
  registry: 'https://registry-1.docker.io',
  repository: 'library/node',
  tag: '24.19.0-alpine',
  digest: 'sha256:d32cdf619f63fe0471182d08996dd516c6275bb5fd31ae06e55a570bd9e1ad43',
};
