import type { OwnerAccount } from '../compiler/fragment.js';
import type { AwsClient } from './aws.js';
import type { Polling } from './stacks.js';
import { runOnceMarked } from './secrets.js';
import { runAfterDeploy } from './tasks.js';
import type { Reporter } from './terminal.js';

/**
 * Set on the password secret once the account exists: when, and in which main stack (its StackId, new
 * each time the stack is created, so with a new database). Later deploys of that stack do not start
 * the task again; a stack created anew after a remove does, until it has run there.
 */
const TAGS = { created: 'mastodon-cfn:owner-created', stack: 'mastodon-cfn:owner-stack' } as const;

/**
 * Creates the owner account once per main stack, after the deploy that migrated its database. Its password never
 * leaves Secrets Manager: the task reads it as a secret, and only the way to read it is printed.
 */
export async function createOwnerOnce(clients: { ecs: AwsClient; secretsManager: AwsClient }, owner: OwnerAccount, outputs: Record<string, string>, stack: { name: string; region: string; id: string }, reporter: Reporter, polling: Polling): Promise<void> {
  const created = await runOnceMarked(clients.secretsManager, owner.passwordSecret, { [TAGS.stack]: stack.id }, TAGS.created, () => runAfterDeploy(clients.ecs, owner, outputs, stack, reporter, polling));
  if (!created) return;
  reporter.line(
    [
      `Owner account @${owner.username} (${owner.email}) is ready: log in at the instance with that e-mail address.`,
      `Its password is in Secrets Manager, and is printed only when you ask for it:`,
      `  aws secretsmanager get-secret-value --secret-id ${owner.passwordSecret} --region ${stack.region} --query SecretString --output text`,
    ].join('\n'),
  );
}
