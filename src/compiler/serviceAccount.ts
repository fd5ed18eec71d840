import type { Config, ServiceAccount } from '../config/types.js';
import { mastodonFacts } from '../mastodon/facts.js';
import { SERVICE_ACCOUNT_VARIABLES as V, serviceAccountScript } from '../mastodon/serviceAccount.js';
import { Equals, Not, Ref, Secret, type IntrinsicFunction } from './cfn.js';
import { isSleeping, mastodonTaskDefinition, oneOffTask, railsContainer, taskRole } from './compute.js';
import { mergeParts, type Fragment, type ServiceToken } from './fragment.js';
import { Ids, OutputIds, type Names } from './naming.js';
import { secretKey, secretsStackSecret } from './secrets.js';

/** The main-stack parameter with the ARN of the secret that holds service `name`'s token. */
export function tokenSecretArn(name: string): IntrinsicFunction {
  return Ref(Ids.secretArn(Ids.service(name, 'MastodonToken')));
}

/** The service container's secret: the token, a JSON key of the secret, given to ECS and never in the environment. */
export function tokenSecret(name: string, account: ServiceAccount): Record<string, IntrinsicFunction> {
  return { [account.variable]: secretKey(tokenSecretArn(name), 'token') };
}

/** The account container runs in the Mastodon log group under this name. */
const CONTAINER = 'account';

/**
 * Service `name`'s Mastodon account and token. The token lives in a kept secret of the secrets
 * stack, created empty: the one-off account task fills it (its role may write that one secret and
 * nothing else), and the service keeps zero tasks until the deployer has seen it filled (TokenMade).
 * Only a production deploy runs the task, after the migrations: in maintenance and debug Mastodon
 * sleeps, and the service runs as its token allows (TokenMade).
 */
export function serviceAccount(config: Config, names: Names, name: string, account: ServiceAccount): Fragment {
  const id = (part: Parameters<typeof Ids.service>[1]) => Ids.service(name, part);
  const secret = secretsStackSecret(names, {
    id: id('MastodonToken'),
    description: `the Mastodon token of service ${name} (@${account.account})`,
    secret: new Secret({ Description: `Mastodon access token of service ${name} as @${account.account} on ${config.domain}; written by mastodon-cfn's account task, rotated only on request` }),
    kept: `${name}-token`,
  });
  const token: ServiceToken = {
    service: name,
    account: account.account,
    scopes: account.scopes,
    secret: names.secretName(`${name}-token`),
    madeParameter: id('TokenMade'),
    instanceUrl: `https://${config.domain}`,
  };
  const readiness: Fragment = {
    main: {
      Parameters: {
        [id('TokenMade')]: {
          Type: 'String',
          Default: '',
          AllowedPattern: '^(|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z)$',
          Description: `When service ${name}'s token in its secret was made (empty: none yet); mastodon-cfn deploy passes it, the service runs no task without it, and a new one rolls the service's tasks`,
        },
      },
      Conditions: { [id('TokenExists')]: Not(Equals(Ref(id('TokenMade')), '')) },
    },
  };
  // In maintenance and debug the service runs as its token allows, and no task can make one.
  if (isSleeping(config.mastodon.mode)) return mergeParts(secret, readiness, { main: { serviceTokens: [token] } });

  const facts = mastodonFacts(config.mastodon.version);
  const container = railsContainer(config, CONTAINER, ['bundle', 'exec', 'rails', 'runner', serviceAccountScript(facts)], {
    environment: {
      [V.account]: account.account,
      [V.email]: account.email,
      [V.scopes]: account.scopes.join(' '),
      [V.application]: name,
      [V.secretArn]: tokenSecretArn(name),
      AWS_REGION: Ref('AWS::Region'),
    },
  });
  const task: Fragment = {
    main: {
      Resources: {
        [id('AccountTaskRole')]: taskRole(`${name}-token`, [{ Effect: 'Allow', Action: 'secretsmanager:PutSecretValue', Resource: tokenSecretArn(name) }]),
        [id('AccountTaskDefinition')]: mastodonTaskDefinition(config, `${names.prefix}-${name}-account`, [container], id('AccountTaskRole')),
      },
      Outputs: {
        [OutputIds.serviceAccountTaskDefinition(name)]: { Description: `Task that makes service ${name}'s Mastodon account and token`, Value: Ref(id('AccountTaskDefinition')) },
      },
      serviceTokens: [
        {
          ...token,
          task: {
            ...oneOffTask,
            outputs: { ...oneOffTask.outputs, taskDefinition: OutputIds.serviceAccountTaskDefinition(name) },
            container: CONTAINER,
            description: `account @${account.account} and token of service ${name}`,
          },
        },
      ],
    },
  };
  return mergeParts(secret, readiness, task);
}
