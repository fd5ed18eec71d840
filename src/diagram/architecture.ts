import { isMastodonService, taskCount, type Estimate, type PricedStack } from '../cost/estimate.js';
import { references } from '../references.js';
import { money } from '../format.js';

/**
 * The architecture as boxes and arrows, read from the compiled templates (not from a hand-kept
 * list): a box per resource a person would draw, an arrow per reference between them, each box
 * with the monthly cost of what it stands for.
 */

/** Columns, left to right; `internet` also holds what reaches the edge from outside the home region (the us-east-1 certificate). */
export type Tier = 'internet' | 'edge' | 'compute' | 'data';

export interface Box {
  id: string;
  /** The CloudFormation type it stands for (none for the internet). */
  type: string;
  tier: Tier;
  title: string;
  /** One or two short lines under the title. */
  details: string[];
  stack: string;
  region: string;
  /** Undefined: nothing in the estimate, or its price is unknown. */
  monthly?: number;
}

export interface Arrow {
  from: string;
  to: string;
  label?: string;
}

export interface Architecture {
  title: string;
  boxes: Box[];
  arrows: Arrow[];
  /** Costs outside the boxes (secrets, logs, addresses of tasks are in their boxes): shown as a footnote. */
  other: { label: string; monthly: number }[];
  total: string;
}

type Resource = { Type: string; Properties?: Record<string, any> };

const INTERNET = 'Internet';
const LOAD_BALANCER = 'AWS::ElasticLoadBalancingV2::LoadBalancer';
const DISTRIBUTION = 'AWS::CloudFront::Distribution';

/** The box a resource becomes, if a person would draw it. */
function boxOf(id: string, resource: Resource, resources: Record<string, Resource>): Omit<Box, 'type' | 'stack' | 'region' | 'monthly'> | undefined {
  const p = resource.Properties ?? {};
  switch (resource.Type) {
    case 'AWS::CloudFront::Distribution':
      return { id, tier: 'edge', title: 'CloudFront', details: [(p.DistributionConfig?.Aliases ?? []).join(', ') || 'media'] };
    case 'AWS::ElasticLoadBalancingV2::LoadBalancer':
      return { id, tier: 'edge', title: 'Load balancer', details: ['HTTPS, TLS 1.2+'] };
    case 'AWS::ECS::Service': {
      const definition = resources[String(p.TaskDefinition?.Ref)]?.Properties ?? {};
      const containers = (definition.ContainerDefinitions ?? []).filter((c: { Essential?: boolean }) => c.Essential !== false).map((c: { Name: string }) => c.Name);
      const strategy: { CapacityProvider: string; Base?: number }[] = p.CapacityProviderStrategy ?? [];
      const spot = strategy.some((s) => s.CapacityProvider === 'FARGATE_SPOT');
      const onDemandBase = strategy.find((s) => s.CapacityProvider === 'FARGATE')?.Base;
      const capacity = !spot ? 'on-demand' : onDemandBase ? `${onDemandBase} on-demand, rest Spot` : 'Spot';
      const size = `${Number(definition.Cpu) / 1024} vCPU, ${Number(definition.Memory) / 1024} GB`;
      const { count, max } = taskCount(id, resources);
      const tasks = max === undefined ? `${count}` : `${count} to ${max}`;
      // A Sidekiq queue group's family ends in sidekiq-<group>; the group that serves every queue is "all".
      const group = /-sidekiq-([a-z0-9]+)$/.exec(String(definition.Family ?? ''))?.[1];
      const title = isMastodonService(definition) ? `Mastodon ${containers.join(' + ')}${group ? ` (${group === 'all' ? 'all queues' : group})` : ''}` : `Service ${containers[0] ?? id}`;
      return { id, tier: 'compute', title, details: [`${tasks} × ${size}`, `${max === undefined ? '' : 'autoscaled; '}${capacity}`] };
    }
    case 'AWS::RDS::DBCluster':
      return { id, tier: 'data', title: 'Aurora PostgreSQL', details: [`Serverless v2, ${p.ServerlessV2ScalingConfiguration?.MinCapacity} to ${p.ServerlessV2ScalingConfiguration?.MaxCapacity} ACU`] };
    case 'AWS::RDS::DBInstance':
      // An Aurora instance is drawn as its cluster.
      return p.DBClusterIdentifier ? undefined : { id, tier: 'data', title: 'PostgreSQL', details: [`RDS ${p.DBInstanceClass}${p.MultiAZ ? ', Multi-AZ' : ''}`, `${p.AllocatedStorage} GB ${p.StorageType ?? ''}`.trim()] };
    case 'AWS::ElastiCache::ReplicationGroup':
      return { id, tier: 'data', title: p.Engine === 'valkey' ? 'Valkey' : 'Redis', details: [`ElastiCache ${p.CacheNodeType}`] };
    case 'AWS::OpenSearchService::Domain':
      return { id, tier: 'data', title: 'OpenSearch', details: [`${p.ClusterConfig?.InstanceCount ?? 1} × ${p.ClusterConfig?.InstanceType}`, `${p.EBSOptions?.VolumeSize} GB gp3 each`] };
    case 'AWS::S3::Bucket':
      return { id, tier: 'data', title: 'S3 bucket', details: ['media files, private'] };
    case 'AWS::DynamoDB::Table':
      return { id, tier: 'data', title: 'DynamoDB', details: [`table ${id}`] };
    case 'AWS::SES::EmailIdentity':
      return { id, tier: 'data', title: 'SES', details: [`mail from ${p.EmailIdentity}`] };
    case 'AWS::CertificateManager::Certificate':
      return { id, tier: 'internet', title: 'Certificate', details: [String(p.DomainName)] };
    default:
      return undefined;
  }
}

/** Mastodon's Sidekiq sends its e-mails (the mailers queue) through SES's SMTP settings, not a reference. */
function sendsMail(resources: Record<string, Resource>, service: Resource): boolean {
  const definition = resources[String(service.Properties?.TaskDefinition?.Ref)]?.Properties;
  return service.Type === 'AWS::ECS::Service' && (definition?.ContainerDefinitions ?? []).some((c: { Name: string }) => c.Name === 'sidekiq');
}

/** The architecture of a build's stacks, with the estimate's costs on its boxes. */
export function architecture(stacks: PricedStack[], estimate: Estimate, title: string): Architecture {
  const costOf = new Map<string, number>();
  for (const line of estimate.lines) if (line.monthly !== undefined) costOf.set(line.resource, (costOf.get(line.resource) ?? 0) + line.monthly);
  const boxes: Box[] = [{ id: INTERNET, type: '', tier: 'internet', title: 'Internet', details: ['people and other servers'], stack: '', region: '' }];
  const ofType = (type: string, stack?: string) => boxes.filter((b) => b.type === type && (stack === undefined || b.stack === stack));
  for (const stack of stacks) {
    const resources = (stack.template.Resources ?? {}) as Record<string, Resource>;
    for (const [id, resource] of Object.entries(resources)) {
      const box = boxOf(id, resource, resources);
      if (!box) continue;
      // A certificate of the main stack belongs to its load balancer; only the us-east-1 stack's is drawn.
      if (resource.Type === 'AWS::CertificateManager::Certificate' && !Object.values(resources).every((r) => r.Type === 'AWS::CertificateManager::Certificate')) continue;
      const monthly = costOf.get(id);
      boxes.push({ ...box, type: resource.Type, stack: stack.name, region: stack.region, monthly: monthly === undefined ? undefined : Math.round(monthly * 100) / 100 });
    }
  }
  const tierOf = new Map(boxes.map((b) => [b.id, b.tier]));
  const arrows: Arrow[] = [];
  // The arrows follow the references, a service through its task definition.
  for (const stack of stacks) {
    const resources = (stack.template.Resources ?? {}) as Record<string, Resource>;
    const clusterOf = (id: string) => (resources[id]?.Type === 'AWS::RDS::DBInstance' && resources[id].Properties?.DBClusterIdentifier ? String(resources[id].Properties!.DBClusterIdentifier.Ref) : id);
    for (const box of boxes.filter((b) => b.stack === stack.name)) {
      const resource = resources[box.id];
      const seen = references(resource.Properties);
      if (resource.Type === 'AWS::ECS::Service') {
        references(resources[String(resource.Properties?.TaskDefinition?.Ref)]?.Properties, seen);
        // A connection handed over as a secret (the cache's REDIS_URL) leads on to what the secret is made from.
        for (const id of [...seen]) if (resources[id]?.Type === 'AWS::SecretsManager::Secret') references(resources[id].Properties, seen);
        if ((resource.Properties?.LoadBalancers ?? []).length > 0) {
          const [loadBalancer] = ofType(LOAD_BALANCER, stack.name);
          if (loadBalancer) arrows.push({ from: loadBalancer.id, to: box.id });
        }
      }
      for (const target of [...seen].map(clusterOf).sort()) {
        if (target !== box.id && tierOf.get(target) === 'data') arrows.push({ from: box.id, to: target });
      }
      if (box.tier === 'edge') arrows.unshift({ from: INTERNET, to: box.id, label: box.type === DISTRIBUTION ? 'media' : 'HTTPS' });
      // Mastodon reaches SES through SMTP settings, not a reference.
      if (sendsMail(resources, resource)) for (const mail of ofType('AWS::SES::EmailIdentity')) arrows.push({ from: box.id, to: mail.id, label: 'SMTP' });
    }
  }
  // The us-east-1 certificate feeds CloudFront through the deployer.
  for (const certificate of ofType('AWS::CertificateManager::Certificate')) {
    for (const distribution of ofType(DISTRIBUTION)) arrows.push({ from: certificate.id, to: distribution.id, label: 'certificate' });
  }
  const other = new Map<string, number>();
  for (const line of estimate.lines) {
    if (tierOf.has(line.resource) || line.monthly === undefined) continue;
    other.set(line.component, Math.round(((other.get(line.component) ?? 0) + line.monthly) * 100) / 100);
  }
  return {
    title,
    boxes,
    arrows: arrows.filter((a, i) => arrows.findIndex((b) => b.from === a.from && b.to === a.to) === i),
    other: [...other].map(([label, monthly]) => ({ label, monthly })).sort((a, b) => (a.label < b.label ? -1 : 1)),
    total: estimate.priced ? `${money(estimate.total)} a month${estimate.incomplete ? ' at least' : ''} (${estimate.region} prices of ${estimate.date})` : `cost unknown: no prices for ${estimate.region}`,
  };
}
