import { DescribeCertificateCommand, type CertificateDetail } from '@aws-sdk/client-acm';
import { GetDistributionCommand } from '@aws-sdk/client-cloudfront';
import { DescribeServicesCommand, DescribeTasksCommand, ListTasksCommand, type Service, type Task } from '@aws-sdk/client-ecs';
import { DescribeReplicationGroupsCommand } from '@aws-sdk/client-elasticache';
import { DescribeTargetHealthCommand, type TargetHealthDescription } from '@aws-sdk/client-elastic-load-balancing-v2';
import { DescribeDBClustersCommand, DescribeDBInstancesCommand } from '@aws-sdk/client-rds';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { GetAccountCommand, GetEmailIdentityCommand } from '@aws-sdk/client-sesv2';
import { describeAwsFailure } from '../awsErrors.js';
import type { AlertsTarget, ServiceToken } from '../compiler/fragment.js';
import { OUTSIDE_SCOPES_ERROR } from '../mastodon/facts.js';
import type { Clients } from './aws.js';
import type { DeployPackage, DeployStack } from './manifest.js';
import { alarmsInAlarm, unconfirmedEmails } from './alerts.js';
import { describeStack, outputsOf, stackResources, type StackResource } from './stacks.js';
import { plural, utcMinute } from '../format.js';

/** ok: working; pending: on its way (a deployment, a certificate waiting for DNS); failing: needs someone. */
export type Health = 'ok' | 'pending' | 'failing';

export interface Check {
  /** What was looked at: `ECS service`, `target group`, `certificate`, ... */
  kind: string;
  /** Its logical id, or the URL asked. */
  name: string;
  stack: string;
  health: Health;
  summary: string;
  /** What to read or do: stop reasons, unhealthy targets, the DNS record to create. */
  details: string[];
}

export interface StatusReport {
  healthy: boolean;
  checks: Check[];
}

/** An answer to a probe: its HTTP status and, for an API error, the `error` of its JSON body. */
export interface ProbeAnswer {
  status: number;
  error?: string;
}

/** Asks a URL (with a bearer token, for an API) and gives its answer; throws when nothing answers. */
export type Probe = (url: string, bearer?: string) => Promise<ProbeAnswer>;

/** An API error body is a few words of JSON: more than this is not one. */
const ERROR_BODY_LIMIT = 4096;

/** What a real user's request goes through (DNS, TLS, the load balancer), with a deadline; redirects are answers too. */
export const httpProbe: Probe = async (url, bearer) => {
  const response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(10_000), headers: bearer ? { authorization: `Bearer ${bearer}` } : {} });
  if (!bearer || response.ok) {
    await response.body?.cancel();
    return { status: response.status };
  }
  const body = (await response.text()).slice(0, ERROR_BODY_LIMIT);
  let error: unknown;
  try {
    error = (JSON.parse(body) as { error?: unknown }).error;
  } catch {
    error = undefined;
  }
  return { status: response.status, ...(typeof error === 'string' ? { error } : {}) };
};

/** How many stopped tasks of a service are shown: the last few say why tasks keep stopping. */
const STOPPED_TASKS_SHOWN = 3;
/** Up to this many services or tasks per ECS Describe call (the API's limits). */
const SERVICES_PER_CALL = 10;

type StackCheck = Omit<Check, 'stack'>;
type Resource = StackResource & { PhysicalResourceId: string };

const check = (kind: string, name: string, health: Health, summary: string, details: string[] = []): StackCheck => ({ kind, name, health, summary, details });

/** From a resource's own status word: which words mean working, and which mean on the way. */
function byStatus(status: string | undefined, ok: string[], pending: string[]): Health {
  if (status && ok.includes(status)) return 'ok';
  if (status && pending.includes(status)) return 'pending';
  return 'failing';
}

function stackHealth(status: string): Health {
  if (status.endsWith('_IN_PROGRESS')) return 'pending';
  if (status.endsWith('_FAILED') || status === 'ROLLBACK_COMPLETE') return 'failing';
  // UPDATE_ROLLBACK_COMPLETE runs the previous template, as it was before the failed deploy.
  return 'ok';
}

const clusterOf = (serviceArn: string, fallback: string | undefined) => /:service\/([^/]+)\//.exec(serviceArn)?.[1] ?? fallback;

function describeStoppedTask(task: Task): string {
  const when = task.stoppedAt ? new Date(task.stoppedAt).toISOString().slice(0, 19).replace('T', ' ') : 'stopped';
  const containers = (task.containers ?? [])
    .filter((container) => container.exitCode !== undefined || container.reason)
    .map((container) => `${container.name} ${container.exitCode !== undefined ? `exit ${container.exitCode}` : ''}${container.reason ? ` (${container.reason})` : ''}`.replace('  ', ' ').trim());
  return `stopped ${when}: ${task.stoppedReason ?? task.stopCode ?? 'no reason given'}${containers.length ? `; ${containers.join(', ')}` : ''}`;
}

function serviceCheck(logicalId: string, service: Service, stopped: Task[]): StackCheck {
  const primary = service.deployments?.find((deployment) => deployment.status === 'PRIMARY');
  const counts = `${service.runningCount ?? 0}/${service.desiredCount ?? 0} running${service.pendingCount ? `, ${service.pendingCount} pending` : ''}`;
  const details = stopped.map(describeStoppedTask);
  let health: Health = 'ok';
  if (primary?.rolloutState === 'FAILED') health = 'failing';
  else if (primary?.rolloutState === 'IN_PROGRESS') health = 'pending';
  if ((service.runningCount ?? 0) < (service.desiredCount ?? 0)) {
    health = primary?.rolloutState === 'IN_PROGRESS' && (service.pendingCount ?? 0) > 0 ? 'pending' : 'failing';
    // ECS says in its events why it cannot start tasks (no capacity, no image, ...).
    const latest = service.events?.[0]?.message;
    if (latest) details.unshift(`latest event: ${latest}`);
  }
  if (primary?.rolloutStateReason && health !== 'ok') details.unshift(primary.rolloutStateReason);
  return check('ECS service', logicalId, health, `${counts}${primary?.rolloutState && primary.rolloutState !== 'COMPLETED' ? `, deployment ${primary.rolloutState}` : ''}`, details);
}

async function serviceChecks(clients: Clients, region: string, services: Resource[], clusterName: string | undefined): Promise<{ checks: StackCheck[]; activeTargetGroups: Set<string> }> {
  const ecs = clients.ecs(region);
  const activeTargetGroups = new Set<string>();
  const checks: StackCheck[] = [];
  const byCluster = new Map<string, Resource[]>();
  for (const resource of services) {
    const cluster = clusterOf(resource.PhysicalResourceId, clusterName);
    if (cluster) byCluster.set(cluster, [...(byCluster.get(cluster) ?? []), resource]);
  }
  for (const [cluster, resources] of byCluster) {
    for (let start = 0; start < resources.length; start += SERVICES_PER_CALL) {
      const batch = resources.slice(start, start + SERVICES_PER_CALL);
      const { services: described = [] } = await ecs.send(new DescribeServicesCommand({ cluster, services: batch.map((r) => r.PhysicalResourceId) }));
      for (const resource of batch) {
        const service = (described as Service[]).find((s) => s.serviceArn === resource.PhysicalResourceId || s.serviceName === resource.PhysicalResourceId);
        if (!service) {
          checks.push(check('ECS service', resource.LogicalResourceId, 'failing', `not found in cluster ${cluster}`));
          continue;
        }
        if ((service.desiredCount ?? 0) > 0) for (const lb of service.loadBalancers ?? []) if (lb.targetGroupArn) activeTargetGroups.add(lb.targetGroupArn);
        const { taskArns = [] } = await ecs.send(new ListTasksCommand({ cluster, serviceName: service.serviceName, desiredStatus: 'STOPPED' }));
        const tasks: Task[] = taskArns.length ? ((await ecs.send(new DescribeTasksCommand({ cluster, tasks: taskArns.slice(0, 100) }))).tasks ?? []) : [];
        const latest = [...tasks].sort((a, b) => new Date(b.stoppedAt ?? 0).getTime() - new Date(a.stoppedAt ?? 0).getTime()).slice(0, STOPPED_TASKS_SHOWN);
        checks.push(serviceCheck(resource.LogicalResourceId, service, latest));
      }
    }
  }
  return { checks, activeTargetGroups };
}

function targetGroupCheck(logicalId: string, targets: TargetHealthDescription[], expectsTargets: boolean): StackCheck {
  const serving = targets.filter((t) => t.TargetHealth?.State !== 'draining');
  if (serving.length === 0) {
    return expectsTargets ? check('target group', logicalId, 'failing', 'no targets registered: its tasks are not running') : check('target group', logicalId, 'ok', 'no targets (nothing is meant to run behind it in this mode)');
  }
  const healthy = serving.filter((t) => t.TargetHealth?.State === 'healthy').length;
  const details = serving
    .filter((t) => t.TargetHealth?.State !== 'healthy')
    .map((t) => `${t.Target?.Id}:${t.Target?.Port} ${t.TargetHealth?.State}${t.TargetHealth?.Reason ? ` ${t.TargetHealth.Reason}` : ''}${t.TargetHealth?.Description ? `: ${t.TargetHealth.Description}` : ''}`);
  const health: Health = healthy === serving.length ? 'ok' : serving.some((t) => t.TargetHealth?.State === 'unhealthy' || t.TargetHealth?.State === 'unavailable') ? 'failing' : 'pending';
  return check('target group', logicalId, health, `${healthy} of ${plural(serving.length, 'target')} healthy`, details);
}

function certificateCheck(logicalId: string, certificate: CertificateDetail | undefined): StackCheck {
  const status = certificate?.Status;
  const health = byStatus(status, ['ISSUED'], ['PENDING_VALIDATION']);
  const details =
    status === 'PENDING_VALIDATION'
      ? (certificate?.DomainValidationOptions ?? [])
          .filter((option) => option.ValidationStatus !== 'SUCCESS' && option.ResourceRecord)
          .map((option) => `create this DNS record (it can stay forever): ${option.ResourceRecord!.Name} ${option.ResourceRecord!.Type} ${option.ResourceRecord!.Value}`)
      : [];
  return check('certificate', logicalId, health, `${certificate?.DomainName ?? ''} ${status ?? 'not found'}`.trim(), details);
}

/** SES's Easy DKIM: each token is published as `<token>._domainkey.<domain> CNAME <token>.dkim.amazonses.com`. */
const dkimRecord = (domain: string, token: string) => `${token}._domainkey.${domain} CNAME ${token}.dkim.amazonses.com`;

async function mailChecks(clients: Clients, region: string, identity: Resource): Promise<StackCheck[]> {
  const ses = clients.ses(region);
  const domain = identity.PhysicalResourceId;
  const [described, account] = await Promise.all([ses.send(new GetEmailIdentityCommand({ EmailIdentity: domain })), ses.send(new GetAccountCommand({}))]);
  const dkim = described.DkimAttributes?.Status as string | undefined;
  const identityHealth: Health = described.VerifiedForSendingStatus ? 'ok' : byStatus(dkim, [], ['PENDING', 'NOT_STARTED', 'TEMPORARY_FAILURE']);
  const details = identityHealth === 'ok' ? [] : (described.DkimAttributes?.Tokens ?? []).map((token: string) => `create this DNS record: ${dkimRecord(domain, token)}`);
  const mailFrom = described.MailFromAttributes;
  if (mailFrom?.MailFromDomain && mailFrom.MailFromDomainStatus !== 'SUCCESS') details.push(`MAIL FROM domain ${mailFrom.MailFromDomain}: ${mailFrom.MailFromDomainStatus}`);
  const checks = [check('mail identity', identity.LogicalResourceId, identityHealth, `${domain}: ${described.VerifiedForSendingStatus ? 'verified for sending' : 'not verified'}, DKIM ${dkim ?? 'unknown'}`, details)];
  if (!account.SendingEnabled) {
    checks.push(check('SES account', region, 'failing', `sending is paused in ${region}${account.EnforcementStatus ? ` (${account.EnforcementStatus})` : ''}`, ['see the SES console\'s reputation dashboard for why']));
  } else if (!account.ProductionAccessEnabled) {
    checks.push(
      check('SES account', region, 'failing', `in the SES sandbox in ${region}: mail reaches only verified addresses, so new users get no confirmation e-mail`, [
        `request production access: aws sesv2 put-account-details --region ${region} --production-access-enabled --mail-type TRANSACTIONAL --website-url <your instance URL> --use-case-description "Mastodon account e-mails"`,
      ]),
    );
  } else {
    checks.push(check('SES account', region, 'ok', `production access in ${region}`));
  }
  return checks;
}

/** The checks of one resource type; each returns what it found, never throws for a single resource. */
type ResourceChecker = (clients: Clients, region: string, resource: Resource) => Promise<StackCheck[]>;

const RESOURCE_CHECKERS: Record<string, ResourceChecker> = {
  'AWS::RDS::DBCluster': async (clients, region, r) => {
    const cluster = (await clients.rds(region).send(new DescribeDBClustersCommand({ DBClusterIdentifier: r.PhysicalResourceId }))).DBClusters?.[0];
    return [check('database cluster', r.LogicalResourceId, byStatus(cluster?.Status, ['available'], ['creating', 'modifying', 'backing-up', 'upgrading', 'starting', 'maintenance', 'renaming', 'resetting-master-credentials']), cluster?.Status ?? 'not found')];
  },
  'AWS::RDS::DBInstance': async (clients, region, r) => {
    const instance = (await clients.rds(region).send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: r.PhysicalResourceId }))).DBInstances?.[0];
    return [check('database instance', r.LogicalResourceId, byStatus(instance?.DBInstanceStatus, ['available'], ['creating', 'modifying', 'backing-up', 'upgrading', 'starting', 'maintenance', 'rebooting', 'configuring-enhanced-monitoring']), instance?.DBInstanceStatus ?? 'not found')];
  },
  'AWS::ElastiCache::ReplicationGroup': async (clients, region, r) => {
    const group = (await clients.elastiCache(region).send(new DescribeReplicationGroupsCommand({ ReplicationGroupId: r.PhysicalResourceId }))).ReplicationGroups?.[0];
    return [check('cache', r.LogicalResourceId, byStatus(group?.Status, ['available'], ['creating', 'modifying', 'snapshotting']), group?.Status ?? 'not found')];
  },
  'AWS::CloudFront::Distribution': async (clients, _region, r) => {
    const { Distribution: distribution } = await clients.cloudFront().send(new GetDistributionCommand({ Id: r.PhysicalResourceId }));
    if (distribution?.DistributionConfig?.Enabled === false) return [check('CloudFront distribution', r.LogicalResourceId, 'failing', `${distribution.DomainName} is disabled`)];
    // InProgress: a change is still reaching the edge locations, which serve the previous configuration meanwhile.
    const summary = distribution?.Status === 'InProgress' ? `${distribution.DomainName} serving; a change is still propagating` : `${distribution?.DomainName} ${distribution?.Status}`;
    return [check('CloudFront distribution', r.LogicalResourceId, byStatus(distribution?.Status, ['Deployed', 'InProgress'], []), summary)];
  },
  'AWS::CertificateManager::Certificate': async (clients, region, r) => [
    certificateCheck(r.LogicalResourceId, (await clients.acm(region).send(new DescribeCertificateCommand({ CertificateArn: r.PhysicalResourceId }))).Certificate),
  ],
  'AWS::SES::EmailIdentity': mailChecks,
};

/** The alert alarms in ALARM, each with what it says to look at; and the addresses that would get none of them yet. */
async function alertChecks(clients: Clients, region: string, alerts: AlertsTarget, outputs: Record<string, string>): Promise<StackCheck[]> {
  const [firing, unconfirmed] = await Promise.all([alarmsInAlarm(clients.cloudWatch(region), alerts), unconfirmedEmails(clients.sns(region), alerts, outputs)]);
  const checks = firing.map((alarm) => check('alarm', alarm.AlarmName!.slice(alerts.alarmPrefix.length), 'failing', `in ALARM since ${alarm.StateUpdatedTimestamp ? utcMinute(alarm.StateUpdatedTimestamp) : 'a moment ago'}: ${alarm.StateReason ?? ''}`.trim(), alarm.AlarmDescription ? [alarm.AlarmDescription] : []));
  if (firing.length === 0) checks.push(check('alarms', alerts.alarmPrefix, 'ok', 'none in ALARM'));
  if (unconfirmed.length > 0) checks.push(check('alert subscription', unconfirmed.join(', '), 'pending', 'not confirmed: no alarm is mailed there yet', ['follow the link in the "AWS Notification - Subscription Confirmation" mail']));
  return checks;
}

/** A check that could not be made (access denied, throttled) is a failing check that says why, not the end of the report. */
function notChecked(kind: string, name: string, error: unknown): StackCheck {
  return check(kind, name, 'failing', `could not be checked: ${describeAwsFailure(error) ?? (error as Error).message}`);
}

async function guarded(kind: string, name: string, run: () => Promise<StackCheck[]>): Promise<StackCheck[]> {
  try {
    return await run();
  } catch (error) {
    return [notChecked(kind, name, error)];
  }
}

/** The checks of one stack; `deployed` false when there is no stack to look into. */
async function stackChecks(clients: Clients, stack: DeployStack): Promise<{ deployed: boolean; checks: StackCheck[] }> {
  const cfn = clients.cloudFormation(stack.region);
  const described = await describeStack(cfn, stack.name);
  if (!described || described.StackStatus === 'REVIEW_IN_PROGRESS') return { deployed: false, checks: [check('stack', stack.name, 'failing', `not deployed in ${stack.region}`, ['run mastodon-cfn deploy'])] };
  const status = described.StackStatus!;
  const checks: StackCheck[] = [check('stack', stack.name, stackHealth(status), `${status} (${stack.region})`, described.StackStatusReason && stackHealth(status) !== 'ok' ? [described.StackStatusReason] : [])];
  const resources = (await stackResources(cfn, stack.name)).filter((r): r is Resource => Boolean(r.PhysicalResourceId));
  const ofType = (type: string) => resources.filter((r) => r.ResourceType === type);

  const services = ofType('AWS::ECS::Service');
  const cluster = ofType('AWS::ECS::Cluster')[0]?.PhysicalResourceId;
  // The services also say which target groups should have targets; unknown when they could not be read.
  let activeTargetGroups: Set<string> | undefined = new Set();
  if (services.length) {
    try {
      const result = await serviceChecks(clients, stack.region, services, cluster);
      checks.push(...result.checks);
      activeTargetGroups = result.activeTargetGroups;
    } catch (error) {
      checks.push(notChecked('ECS services', stack.name, error));
      activeTargetGroups = undefined;
    }
  }

  const perResource = await Promise.all([
    ...ofType('AWS::ElasticLoadBalancingV2::TargetGroup').map((r) =>
      guarded('target group', r.LogicalResourceId, async () => {
        const { TargetHealthDescriptions = [] } = await clients.loadBalancing(stack.region).send(new DescribeTargetHealthCommand({ TargetGroupArn: r.PhysicalResourceId }));
        return [targetGroupCheck(r.LogicalResourceId, TargetHealthDescriptions, activeTargetGroups?.has(r.PhysicalResourceId) ?? true)];
      }),
    ),
    ...resources.filter((r) => RESOURCE_CHECKERS[r.ResourceType]).map((r) => guarded(r.ResourceType, r.LogicalResourceId, () => RESOURCE_CHECKERS[r.ResourceType](clients, stack.region, r))),
    ...(stack.alerts ? [guarded('alarms', stack.alerts.alarmPrefix, () => alertChecks(clients, stack.region, stack.alerts!, outputsOf(described)))] : []),
  ]);
  return { deployed: true, checks: [...checks, ...perResource.flat()] };
}

async function endpointCheck(probe: Probe, name: string, url: string): Promise<StackCheck> {
  try {
    const { status } = await probe(url);
    return check('URL', url, status === 200 ? 'ok' : 'failing', `${name} answers HTTP ${status}`);
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return check('URL', url, 'failing', `${name} does not answer: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
  }
}

/** Mastodon's own account endpoint: any valid token gets 200, or 403 when its scopes do not reach the account (Api::BaseController). */
const VERIFY_CREDENTIALS = '/api/v1/accounts/verify_credentials';

/**
 * Whether Mastodon accepts a service's token: one authenticated request through the instance's public
 * URL. The token is read from its secret into memory for the request and never shown.
 */
async function tokenCheck(clients: Clients, probe: Probe, stack: DeployStack, token: ServiceToken): Promise<StackCheck> {
  const name = `${token.service} (@${token.account})`;
  let value: string | undefined;
  try {
    const secret = await clients.secretsManager(stack.region).send(new GetSecretValueCommand({ SecretId: token.secret }));
    value = (JSON.parse(secret.SecretString ?? '{}') as { token?: unknown }).token as string | undefined;
  } catch (error) {
    const missing = /ResourceNotFoundException/.test((error as { name?: string }).name ?? '');
    if (!missing && !(error instanceof SyntaxError)) return notChecked('Mastodon token', name, error);
  }
  if (typeof value !== 'string' || value === '') return check('Mastodon token', name, 'failing', `no token in ${token.secret} yet`, ['run mastodon-cfn deploy in production mode: it creates the account and its token']);
  const url = `${token.instanceUrl}${VERIFY_CREDENTIALS}`;
  let answer: ProbeAnswer;
  try {
    answer = await probe(url, value);
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return check('Mastodon token', name, 'failing', `${url} does not answer: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
  }
  if (answer.status === 200) return check('Mastodon token', name, 'ok', `Mastodon accepts it (${url} answers 200)`);
  if (answer.status === 403 && answer.error === OUTSIDE_SCOPES_ERROR) {
    return check('Mastodon token', name, 'ok', `Mastodon accepts it; its scopes (${token.scopes.join(' ')}) do not include reading its own account, so ${VERIFY_CREDENTIALS} answers 403 "${OUTSIDE_SCOPES_ERROR}"`);
  }
  if (answer.status === 403) {
    return check('Mastodon token', name, 'failing', `Mastodon knows the token but refuses its account @${token.account}: "${answer.error ?? 'HTTP 403'}"`, [`see the account in Administration → Accounts (it may be suspended, disabled or waiting for approval)`]);
  }
  if (answer.status === 401) {
    return check('Mastodon token', name, 'failing', `Mastodon refuses it (${url} answers 401): it was revoked, or the database no longer has it`, [`make a new one: mastodon-cfn deploy --rotate-token ${token.service}`]);
  }
  return check('Mastodon token', name, 'failing', `${url} answers HTTP ${answer.status}`);
}

/** One look at everything the instance needs, stack by stack; healthy only when every check is ok. */
export async function status(pkg: DeployPackage, clients: Clients, probe: Probe): Promise<StatusReport> {
  const perStack = await Promise.all(
    pkg.stacks.map(async (stack) => {
      const { deployed, checks } = await stackChecks(clients, stack);
      const endpoints = deployed ? await Promise.all(Object.entries(stack.endpoints ?? {}).map(([name, url]) => endpointCheck(probe, name, url))) : [];
      const tokens = deployed ? await Promise.all((stack.serviceTokens ?? []).map((token) => tokenCheck(clients, probe, stack, token))) : [];
      return [...checks, ...endpoints, ...tokens].map((c) => ({ ...c, stack: stack.name }));
    }),
  );
  const checks = perStack.flat();
  return { healthy: checks.every((c) => c.health === 'ok'), checks };
}

const MARK: Record<Health, string> = { ok: 'ok  ', pending: 'wait', failing: 'FAIL' };

/** One screen: a line per check, what to do under it, and a verdict at the end. */
export function formatStatus(report: StatusReport): string {
  const lines: string[] = [];
  let stack = '';
  for (const c of report.checks) {
    if (c.stack !== stack) {
      stack = c.stack;
      lines.push(stack);
    }
    lines.push(`  ${MARK[c.health]}  ${c.kind} ${c.name}: ${c.summary}`, ...c.details.map((detail) => `          ${detail}`));
  }
  const failing = report.checks.filter((c) => c.health === 'failing').length;
  const pending = report.checks.filter((c) => c.health === 'pending').length;
  lines.push(report.healthy ? 'Healthy.' : `Not healthy: ${[failing && `${failing} failing`, pending && `${pending} on the way`].filter(Boolean).join(', ')}.`);
  return `${lines.join('\n')}\n`;
}
