/**
 * Problems outside mastodon-cfn (credentials, the network, AWS refusing a call) are the user's
 * to fix, not bugs: the one error handler turns them into one line that says what failed,
 * where, and what to do, with exit code 1. This module reads only error properties, so the CLI
 * can use it without loading the AWS SDK.
 */
export interface AwsCall {
  service: string;
  operation: string;
  region: string;
}

// A registered symbol: the CLI and the deployer are separate bundles, each with its own copy of this module.
const CALL = Symbol.for('mastodon-cfn.awsCall');

/** Records which call failed on the error itself: code that expects the error (a stack that does not exist yet) still sees it unchanged. */
export function annotateAwsError(error: unknown, call: AwsCall): unknown {
  if (error && typeof error === 'object' && !(CALL in error)) Object.defineProperty(error, CALL, { value: call });
  return error;
}

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  errno?: number;
  $metadata?: { httpStatusCode?: number };
  [CALL]?: AwsCall;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);
const EXPIRED = new Set(['ExpiredToken', 'ExpiredTokenException', 'RequestExpired', 'TokenRefreshRequired']);
const UNRECOGNISED = new Set(['UnrecognizedClientException', 'InvalidClientTokenId', 'SignatureDoesNotMatch', 'InvalidAccessKeyId', 'AuthFailure', 'IncompleteSignature']);
const DENIED = /^(AccessDenied|AccessDeniedException|UnauthorizedOperation|AuthorizationError|Forbidden|UnauthorizedException)$/;

/** Network errors hide under `cause` in some SDK layers. */
function networkCode(error: SdkError): string | undefined {
  for (let current: any = error, depth = 0; current && depth < 4; current = current.cause, depth++) {
    if (typeof current.code === 'string' && NETWORK_CODES.has(current.code)) return current.code;
    if (current.name === 'TimeoutError') return 'a time-out';
  }
  return undefined;
}

function oneLine(text: string | undefined, limit = 300): string {
  const line = (text ?? '').replace(/\s+/g, ' ').trim();
  return line.length > limit ? `${line.slice(0, limit - 1)}…` : line;
}

/** The explanation of a failure outside the tool, or undefined when the error is not one. */
export function describeAwsFailure(error: unknown): string | undefined {
  if (!error || typeof error !== 'object') return undefined;
  const e = error as SdkError;
  const call = e[CALL];
  const isSdk = call !== undefined || e.$metadata !== undefined || e.name === 'CredentialsProviderError';
  if (!isSdk) return undefined;
  const where = call ? `${call.service} ${call.operation} in ${call.region}` : 'An AWS call';
  const name = e.name ?? e.code ?? 'Error';

  if (e.name === 'CredentialsProviderError' || /Could not load credentials/i.test(e.message ?? '')) {
    // Only the chain's own "none found" is ours to explain: any other message is the SDK's word on the source that
    // failed, often with the fix ("To refresh this SSO session run 'aws sso login' with the corresponding profile.").
    if (/^Could not load credentials from any providers/i.test(e.message ?? '')) {
      // A profile named (by --profile, AWS_PROFILE or provider.profile) that gives nothing is most often one not in the AWS config.
      const profile = process.env.AWS_PROFILE;
      if (profile) return `${where} failed: the AWS profile ${profile} gives no credentials. Is it in ${process.env.AWS_CONFIG_FILE ?? '~/.aws/config'} (or ${process.env.AWS_SHARED_CREDENTIALS_FILE ?? '~/.aws/credentials'})? "aws configure list-profiles" lists the profiles there.`;
      return `${where} failed: no AWS credentials were found. Set AWS_PROFILE (or pass --profile), run "aws configure", or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, then try again.`;
    }
    return `${where} failed: the AWS credentials could not be loaded: ${oneLine(e.message)}`;
  }
  const network = networkCode(e);
  if (network) {
    const endpoint = process.env.AWS_ENDPOINT_URL ?? (call ? `the ${call.service} endpoint of ${call.region}` : 'the AWS endpoint');
    return `${where} failed: ${endpoint} could not be reached (${network}). Check the network connection${process.env.AWS_ENDPOINT_URL ? ' and AWS_ENDPOINT_URL' : ' and the region'}, then try again.`;
  }
  if (EXPIRED.has(name)) return `${where} failed: the AWS credentials have expired (${name}). Refresh them (for example "aws sso login"), then try again.`;
  if (UNRECOGNISED.has(name)) return `${where} failed: AWS does not recognise the credentials (${name}: ${oneLine(e.message)}). Check the access key, or the profile in use.`;
  if (DENIED.test(name)) {
    return `${where} failed: the credentials in use are not allowed to do this (${name}: ${oneLine(e.message)}). Grant the permission to the user or role, or use a profile that has it.`;
  }
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && status >= 500) {
    return `${where} failed: AWS answered HTTP ${status} (${name}), a problem on its side. Try again in a few minutes.`;
  }
  return `${where} failed: AWS refused it (${name}: ${oneLine(e.message)}).`;
}
