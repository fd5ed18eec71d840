import { DescribeSecretCommand, TagResourceCommand } from '@aws-sdk/client-secrets-manager';
import type { OwnerAccount } from '../compiler/fragment.js';
import type { AwsClient } from './aws.js';
import type { StackLife } from './serviceTokens.js';
import type { Polling } from './stacks.js';
import { runAfterDeploy } from './tasks.js';
import type { Reporter } from './terminal.js';

/** Set on the password secret once the account exists: later deploys do not start the task again. */
const CREATED_TAG = 'mastodon-cfn:owner-created';

/**
 * Creates the owner account once, after the deploy that migrated the database, and again on a stack
 * created anew (a new database; the tag on the kept secret is from the one before). Its password never
 * leaves Secrets Manager: the task reads it as a secret, and only the way to read it is printed.
 */
export async function createOwnerOnce(clients: { ecs: AwsClient; secretsManager: AwsClient }, owner: OwnerAccount, outputs: Record<string, string>, stack: { name: string; region: string }, reporter: Reporter, polling: Polling, life: StackLife): Promise<void> {
  const secret = await clients.secretsManager.send(new DescribeSecretCommand({ SecretId: owner.passwordSecret }));
  if (!life.created && (secret.Tags ?? []).some((tag: { Key?: string }) => tag.Key === CREATED_TAG)) return;
  await runAfterDeploy(clients.ecs, owner, outputs, stack, reporter, polling);
  await clients.secretsManager.send(new TagResourceCommand({ SecretId: owner.passwordSecret, Tags: [{ Key: CREATED_TAG, Value: new Date().toISOString() }] }));
  reporter.line(
    [
      `Owner account @${owner.username} (${owner.email}) is ready: log in at the instance with that e-mail address.`,
      `Its password is in Secrets Manager, and is printed only when you ask for it:`,
      `  aws secretsmanager get-secret-value --secret-id ${owner.passwordSecret} --region ${stack.region} --query SecretString --output text`,
    ].join('\n'),
  );
}
