import { CreateServiceLinkedRoleCommand } from '@aws-sdk/client-iam';
import { DescribeDBEngineVersionsCommand } from '@aws-sdk/client-rds';
import { SEARCH } from '../aws/search.js';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import type { DatabaseEngine } from '../compiler/index.js';
import { reservedDomain } from '../domains.js';
import { MastodonCfnError } from '../errors.js';
import type { AwsClient, Clients } from './aws.js';
import type { DeployPackage, DeployStack } from './manifest.js';
import { deployedTemplate, describeStack, isDeployed } from './stacks.js';
import type { Reporter } from './terminal.js';

/**
 * What `deploy` checks before it touches a stack: that no public name is reserved for examples,
 * which account and regions it is about to change (as the CDK prints them), and that RDS still
 * creates the engine version of every database the change would create.
 */
export async function preflight(pkg: DeployPackage, clients: Clients, reporter: Reporter): Promise<void> {
  const reserved = pkg.stacks.flatMap((stack) => (stack.publicNames ?? []).filter((name) => reservedDomain(name)).map((name) => ({ stack, name })));
  if (reserved.length > 0) {
    const names = [...new Set(reserved.map(({ name }) => name))];
    throw MastodonCfnError.of(
      'deploy.reservedDomain',
      `Refusing to deploy ${reserved[0].stack.name}: ${names.join(', ')} ${names.length === 1 ? 'is a name' : 'are names'} reserved for examples and tests (RFC 2606, RFC 6761) that no one can own, so no certificate for ${names.length === 1 ? 'it' : 'them'} can be validated. Set domain (and media.domain, mail.from, services.*.host) to names of yours, then deploy again.`,
    );
  }
  const regions = [...new Set(pkg.stacks.map((stack) => stack.region))];
  const identity = await clients.sts(pkg.stacks.at(-1)!.region).send(new GetCallerIdentityCommand({}));
  reporter.line(`Deploying to AWS account ${identity.Account} as ${identity.Arn}, in ${regions.join(' and ')}`);
  for (const stack of pkg.stacks) if (stack.database) await checkEngineVersion(clients, stack, stack.database);
  if (pkg.stacks.some((stack) => stack.searchIndex)) await ensureServiceLinkedRole(clients.iam(), SEARCH.serviceLinkedRole, reporter);
}

/**
 * Creates a service's service-linked role when the account has none: an OpenSearch domain in a VPC
 * cannot be created without it, and CloudFormation does not make it (an AWS::IAM::ServiceLinkedRole
 * in the template would fail in every account that has one). IAM answers InvalidInput "has been
 * taken" when it exists; the role is the account's, and mastodon-cfn never deletes it.
 */
async function ensureServiceLinkedRole(iam: AwsClient, service: string, reporter: Reporter): Promise<void> {
  try {
    await iam.send(new CreateServiceLinkedRoleCommand({ AWSServiceName: service }));
    reporter.line(`Created the service-linked role of ${service} in the account (a search domain in a VPC needs it)`);
  } catch (error) {
    const e = error as { name?: string; message?: string };
    if (e.name === 'InvalidInputException' && /has been taken/.test(e.message ?? '')) return;
    throw error;
  }
}

/** At most this many pages of versions (100 each) are read to name the ones RDS creates. */
const MAX_VERSION_PAGES = 10;

/** Refuses a database RDS would not create; a database the deployed template already has at this version is not created again. */
async function checkEngineVersion(clients: Clients, stack: DeployStack, database: DatabaseEngine): Promise<void> {
  if (await deployedWith(clients.cloudFormation(stack.region), stack.name, database)) return;
  const rds = clients.rds(stack.region);
  const exact = await rds.send(new DescribeDBEngineVersionsCommand({ Engine: database.engine, EngineVersion: database.engineVersion }));
  // Without IncludeAll, RDS lists only the versions it creates (DescribeDBEngineVersions); an unknown one gives an empty list.
  if (creatable(exact.DBEngineVersions).includes(database.engineVersion)) return;
  const created: string[] = [];
  let marker: string | undefined;
  for (let page = 0; page < MAX_VERSION_PAGES; page++) {
    const answer = await rds.send(new DescribeDBEngineVersionsCommand({ Engine: database.engine, Marker: marker }));
    created.push(...creatable(answer.DBEngineVersions));
    marker = answer.Marker;
    if (!marker) break;
  }
  const major = database.engineVersion.split('.')[0];
  const sameMajor = created.filter((version) => version.split('.')[0] === major);
  const offered = sameMajor.length > 0 ? sameMajor : created;
  throw MastodonCfnError.of(
    'deploy.engineVersion',
    `Refusing to deploy ${stack.name}: RDS does not create ${database.engine} ${database.engineVersion} databases in ${stack.region} (DescribeDBEngineVersions). ` +
      (offered.length > 0 ? `It creates ${offered.join(', ')}: set database.engineVersion to one of them, build and deploy again.` : `It lists no ${database.engine} version there: choose another region.`),
  );
}

/** The versions of an answer RDS creates databases with: its Status is "available" (or "deprecated", which it lists only with IncludeAll). */
function creatable(versions: { EngineVersion?: string; Status?: string }[] | undefined): string[] {
  return (versions ?? []).filter((version) => version.Status !== 'deprecated').flatMap((version) => (version.EngineVersion ? [version.EngineVersion] : []));
}

/** Whether the stack's deployed template already has this database at this engine and version (then CloudFormation does not create it). */
async function deployedWith(cfn: AwsClient, name: string, database: DatabaseEngine): Promise<boolean> {
  if (!isDeployed(await describeStack(cfn, name))) return false;
  const properties = (await deployedTemplate(cfn, name))?.Resources?.[database.logicalId]?.Properties;
  return properties?.Engine === database.engine && properties?.EngineVersion === database.engineVersion;
}
