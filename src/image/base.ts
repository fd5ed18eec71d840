/**
 * The base image of every service image `deploy` builds (services.<name>.build): the official Node.js
 * image `node:20.20.2-alpine` (Node 20, like mastodon-cfn and postblog's `engines: node >=20.19`), pinned by
 * the digest of its multi-arch index, sha256:fb4cd12c85ee03686f6af5362a0b0d56d50c58a04632e6c0fb8363f609372293.
 * Read from GoogleCloudPlatform/microservices-demo, src/currencyservice/Dockerfile
 * (`FROM --platform=$BUILDPLATFORM node:20.20.2-alpine@sha256:fb4cd12c…`), where Renovate set it in commit
 * 989914b ("chore(deps): update docker (#3320)", 2026-04-23) and where it still is at 34ffea9 (2026-08-11);
 * other public Dockerfiles pin the same digest as `node:20-alpine@sha256:fb4cd12c…`.
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
  tag: '20.20.2-alpine',
  digest: 'sha256:fb4cd12c85ee03686f6af5362a0b0d56d50c58a04632e6c0fb8363f609372293',
};
