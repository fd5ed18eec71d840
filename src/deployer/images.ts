import { GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { describeAwsFailure } from '../awsErrors.js';
import type { ServiceImage } from '../compiler/fragment.js';
import type { StackRole } from '../compiler/naming.js';
import { MastodonCfnError } from '../errors.js';
import { NODE_BASE_IMAGE } from '../image/base.js';
import { buildImage, checkAccess, defaultCacheFolder, pushImage } from '../image/build.js';
import type { BaseSource } from '../image/pull.js';
import type { AwsClient } from './aws.js';
import type { Reporter } from './terminal.js';

export interface ImageOptions {
  /** Where the base image comes from: Docker Hub's node image (src/image/base.ts) unless a test says otherwise. */
  base?: BaseSource;
  /** The registry pushed to instead of ECR's proxyEndpoint (a test's local registry); ECR's token still authenticates. */
  registry?: string;
  /** Where downloaded base images are kept between deploys. */
  cacheFolder?: string;
}

/** ECR's registry endpoint and the Basic credentials for it (valid 12 hours), from GetAuthorizationToken. */
async function ecrLogin(ecr: AwsClient): Promise<{ endpoint: string; authorization: string }> {
  let answer: { authorizationData?: { authorizationToken?: string; proxyEndpoint?: string }[] };
  try {
    answer = await ecr.send(new GetAuthorizationTokenCommand({}));
  } catch (error) {
    const explained = describeAwsFailure(error) ?? `ECR GetAuthorizationToken failed: ${(error as Error).message}`;
    throw MastodonCfnError.of('image.ecrToken', `${explained} (the deploy needs it to push service images)`);
  }
  const data = answer.authorizationData?.[0];
  if (!data?.authorizationToken || !data.proxyEndpoint) throw MastodonCfnError.of('image.ecrToken', 'ECR GetAuthorizationToken answered without a token or registry endpoint: deploy again');
  // The token is already base64("AWS:<password>"), the credentials of a Basic Authorization header.
  return { endpoint: data.proxyEndpoint, authorization: `Basic ${data.authorizationToken}` };
}

function shortDigest(digest: string): string {
  return digest.slice(0, 'sha256:'.length + 12);
}

/**
 * Builds each service image (services.<name>.build) and pushes it to its ECR repository, which the
 * secrets stack made. Returns, per main-stack parameter, the image by digest (`<repository URI>@sha256:…`):
 * an unchanged build gives the same digest, so the task definition does not change.
 */
export async function pushServiceImages(
  images: ServiceImage[],
  outputsByRole: Partial<Record<StackRole, Record<string, string>>>,
  ecr: AwsClient,
  reporter: Reporter,
  options: ImageOptions = {},
): Promise<Record<string, string>> {
  if (images.length === 0) return {};
  const repositories = images.map((image) => {
    const uri = outputsByRole[image.repository.stack]?.[image.repository.output];
    if (!uri) throw MastodonCfnError.of('deploy.missingOutput', `the ${image.repository.stack} stack has no output ${image.repository.output} naming the image repository of ${image.service}: deploy again with this version of mastodon-cfn`);
    return uri;
  });
  const login = await ecrLogin(ecr);
  const parameters: Record<string, string> = {};
  for (const [i, image] of images.entries()) {
    const uri = repositories[i];
    const target = { registry: options.registry ?? login.endpoint, repository: uri.slice(uri.indexOf('/') + 1), authorization: login.authorization };
    await checkAccess(target);
    const built = await buildImage(image, options.base ?? NODE_BASE_IMAGE, reporter, options.cacheFolder ?? defaultCacheFolder());
    try {
      const outcome = await pushImage(built, target, reporter, image.service);
      reporter.clear();
      reporter.line(`${image.service}: built image ${shortDigest(built.digest)} (${image.platform}), ${outcome === 'pushed' ? `pushed to ${uri}` : `unchanged (already in ${uri})`}`);
    } finally {
      await built.dispose();
    }
    parameters[image.parameter] = `${uri}@${built.digest}`;
  }
  return parameters;
}
