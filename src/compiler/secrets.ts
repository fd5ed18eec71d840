import { Join, Ref, Secret, type IntrinsicFunction, type Parameter } from './cfn.js';
import { keepData, type CompileStep } from './fragment.js';
import { Ids, OutputIds } from './naming.js';

/** Mastodon's own secrets: generated once by the deployer, kept as JSON keys of one secret. */
export const MASTODON_SECRET_KEYS = [
  'SECRET_KEY_BASE',
  'OTP_SECRET',
  'VAPID_PRIVATE_KEY',
  'VAPID_PUBLIC_KEY',
  'ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY',
  'ACTIVE_RECORD_ENCRYPTION_KEY_DERIVATION_SALT',
  'ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY',
] as const;

export const mastodonSecretArn = Ref(Ids.MastodonSecretsArnParameter);

/** An ECS `ValueFrom` for one JSON key of a Secrets Manager secret. */
export function secretKey(secretArn: string | IntrinsicFunction, key: string) {
  return Join('', [secretArn, `:${key}::`]);
}

/** A main-stack parameter that the deployer fills with a secret ARN from the secrets stack. */
export function secretArnParameter(description: string): Parameter {
  return { Type: 'String', Description: description, AllowedPattern: '^arn:aws[a-z-]*:secretsmanager:.+$' };
}

/**
 * The secret lives in its own stack, deployed before the main stack, because its values cannot
 * be made by CloudFormation (a VAPID key pair) and must exist before the first task starts. The
 * template holds no value: the deployer fills the secret once, and a redeploy never touches it.
 */
export const compileSecrets: CompileStep = (config, names) => ({
  secrets: {
    Resources: {
      [Ids.MastodonSecrets]: keepData(
        new Secret({ Name: names.secretName('mastodon'), Description: `Mastodon secrets of ${config.domain}; generated once by mastodon-cfn deploy, never rotated by it` }),
        'Retain',
      ),
    },
    Outputs: { [OutputIds.MastodonSecretsArn]: { Description: 'Mastodon secrets (SECRET_KEY_BASE, OTP_SECRET, VAPID and Active Record encryption keys)', Value: Ref(Ids.MastodonSecrets) } },
    generatedSecrets: { [OutputIds.MastodonSecretsArn]: 'mastodon-secrets' },
  },
  main: {
    Parameters: { [Ids.MastodonSecretsArnParameter]: secretArnParameter('ARN of the Mastodon secrets; mastodon-cfn deploy passes it from the secrets stack') },
    wiring: { [Ids.MastodonSecretsArnParameter]: { stack: 'secrets', output: OutputIds.MastodonSecretsArn } },
  },
});
