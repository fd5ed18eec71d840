import prices from './prices.json' with { type: 'json' };
import { money, plural, quantity, unitPrice } from '../format.js';
import { references } from '../references.js';
import { OutputIds } from '../compiler/naming.js';

/**
 * A monthly estimate read from the compiled templates (not from the config): what CloudFormation
 * would create is what is priced. Prices come from the dated table shipped with the package
 * (prices.json), or from AWS's Price List API on request, and usage from the table's stated
 * assumptions; a price the table lacks is unknown, never guessed.
 */

/** One region's on-demand USD prices. A price left out is unknown. */
export interface RegionPrices {
  auroraServerlessV2AcuHour?: number;
  auroraStorageGbMonth?: number;
  auroraIoPerMillion?: number;
  /** By instance class. */
  rdsPostgresInstanceHour?: Record<string, number | undefined>;
  rdsGp3GbMonth?: number;
  /** By engine, then node type. */
  elastiCacheNodeHour?: Partial<Record<'redis' | 'valkey', Record<string, number | undefined>>>;
  loadBalancerHour?: number;
  loadBalancerCapacityUnitHour?: number;
  fargate?: Partial<Record<'x86_64' | 'arm64', { vcpuHour?: number; gbHour?: number }>>;
  publicIpv4Hour?: number;
  secretMonth?: number;
  s3StandardGbMonth?: number;
  cloudFrontGbBeyondFreeTier?: number;
  logsIngestionGb?: number;
  dynamoDbWriteMillion?: number;
  dynamoDbReadMillion?: number;
  dynamoDbGbMonth?: number;
  dynamoDbBackupGbMonth?: number;
  route53HostedZoneMonth?: number;
  sesThousandEmails?: number;
  ecrStorageGbMonth?: number;
  /** By instance type. */
  openSearchInstanceHour?: Record<string, number | undefined>;
  openSearchGp3GbMonth?: number;
  /** A custom metric, and an alarm, each a month (standard resolution, the first tier). */
  cloudWatchMetricMonth?: number;
  cloudWatchAlarmMonth?: number;
}

/** What a size is priced for (prices.json `usage`), and why. */
export type Usage = Omit<(typeof prices)['usage']['standard'], 'why'> & { why: string };
export type PricedSize = 'small' | 'standard' | 'large';

export type PriceTable = Omit<typeof prices, 'regions' | '$comment' | 'usage' | 'derived'> & {
  usage: Record<PricedSize, Usage>;
  /** Prices the table derived rather than read, by the dotted start of their path, with how. */
  derived?: Record<string, string>;
  regions: Record<string, RegionPrices | undefined>;
  /** Where the prices come from, when not from the table shipped with mastodon-cfn. */
  source?: string;
  /** What the source could not price, and why. */
  notes?: string[];
};
export const PRICES: PriceTable = prices;

export interface CostLine {
  /** The box of the architecture it belongs to: the logical id of the resource that costs. */
  resource: string;
  component: 'database' | 'cache' | 'load balancer' | 'compute' | 'network' | 'media' | 'secrets' | 'logs' | 'mail' | 'dns' | 'service' | 'images' | 'search' | 'monitoring' | 'other';
  item: string;
  quantity: number;
  unit: string;
  /** Where its price is in a region's prices, e.g. ['fargate', 'arm64', 'vcpuHour'] (empty: none is kept). */
  price: string[];
  /** Undefined: the table has no price for it. */
  unitPrice?: number;
  /** Rounded to the cent; undefined when the price is unknown. */
  monthly?: number;
  /** How the unit price was derived, when it was not read from AWS's prices. */
  derived?: string;
}

export interface Estimate {
  region: string;
  date: string;
  /** Where the prices come from: the shipped table, or AWS's Price List API. */
  source: string;
  currency: string;
  lines: CostLine[];
  /** The sum of the known lines, in cents' precision. */
  total: number;
  /** Whether some line has no price (the total is then a lower bound). */
  incomplete: boolean;
  /** Whether the table has prices for the region at all. */
  priced: boolean;
  assumptions: string[];
  /** Prices the source could not give, and why. */
  priceNotes: string[];
  /** The size the usage assumptions are those of (the main stack's Size output). */
  size: PricedSize;
}

/** The source of the prices in prices.json. */
export const SHIPPED_SOURCE = 'the price table shipped with mastodon-cfn';

interface TemplateResource {
  Type: string;
  Properties?: Record<string, any>;
}

export interface PricedStack {
  name: string;
  region: string;
  template: { Resources?: Record<string, TemplateResource>; Outputs?: Record<string, { Value?: unknown }> };
}

/** The size a build was made for: the main stack's Size output, or the Profile output of a stack deployed before sizes. */
export function sizeOf(stacks: PricedStack[]): PricedSize {
  for (const stack of stacks) {
    const value = stack.template.Outputs?.Size?.Value ?? stack.template.Outputs?.Profile?.Value;
    if (value === 'small' || value === 'standard' || value === 'large') return value;
  }
  return 'standard';
}

/** Days of remote media the main stack keeps (its MediaCacheDays output; 0 keeps forever, as does a stack built before retention). */
export function mediaCacheDaysOf(stacks: PricedStack[]): number {
  for (const stack of stacks) {
    const days = Number(stack.template.Outputs?.[OutputIds.MediaCacheDays]?.Value);
    if (Number.isInteger(days) && days >= 0) return days;
  }
  return 0;
}

/**
 * The estimate prices the bucket of an instance a year old: remote media kept longer than a year, or
 * forever, is priced at a year's worth, and the bucket goes on growing past that.
 */
const PRICED_CACHE_DAYS = 365;

/** The bucket's size: the local media plus the remote media of the days the cache keeps. */
function mediaStorage(usage: Usage, cacheDays: number): { gb: number; assumption: string } {
  const days = cacheDays > 0 ? Math.min(cacheDays, PRICED_CACHE_DAYS) : PRICED_CACHE_DAYS;
  const growing = `a year's worth, growing by ${cents(usage.remoteMediaGbPerDay * 30)} GB a month`;
  const kept = cacheDays === 0 ? `kept forever: ${growing}` : cacheDays > PRICED_CACHE_DAYS ? `kept ${cacheDays} days: ${growing}` : `kept ${plural(cacheDays, 'day')}`;
  return { gb: usage.localMediaGb + usage.remoteMediaGbPerDay * days, assumption: `${usage.localMediaGb} GB of local media and ${usage.remoteMediaGbPerDay} GB a day of remote media, ${kept}` };
}

/** Rounded to the cent. */
export const cents = (value: number) => Math.round(value * 100) / 100;

/** A unit price and where it is in a region's prices. */
interface Price {
  path: string[];
  unitPrice?: number;
  derived?: string;
}

/** The price at `path` in `p`, if there is one. */
function priceAt(p: RegionPrices | undefined, path: string[]): Price {
  let node: unknown = p;
  for (const key of path) node = node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
  return { path, unitPrice: typeof node === 'number' ? node : undefined };
}

function line(resource: string, component: CostLine['component'], item: string, quantity: number, unit: string, { path, unitPrice, derived }: Price): CostLine {
  return { resource, component, item, quantity, unit, price: path, unitPrice, monthly: unitPrice === undefined ? undefined : cents(quantity * unitPrice), ...(derived ? { derived } : {}) };
}

/** The price, marked as derived when the table says it derived it. */
function derivedAt(price: Price, table: PriceTable): Price {
  const dotted = price.path.join('.');
  const how = Object.entries(table.derived ?? {}).find(([start]) => dotted === start || dotted.startsWith(`${start}.`))?.[1];
  return how && price.unitPrice !== undefined ? { ...price, derived: how } : price;
}

/** The logical id a `{ Ref }` points at, or undefined for a literal. */
const refOf = (value: unknown) => (value && typeof value === 'object' && 'Ref' in value ? String((value as { Ref: unknown }).Ref) : undefined);

/**
 * Resource types that cost nothing by themselves (AWS's pricing pages: "There is no additional
 * charge for creating and using a VPC", for its subnets, route tables, internet gateways and
 * security groups; IAM "is offered at no additional charge"; public ACM certificates are free; "There
 * is no additional charge for Amazon ECS" on Fargate; SNS topics, and e-mail deliveries within the
 * free tier): what they bring is billed through the resources they serve, or not at all. Any other
 * type the estimate does not price is listed with an unknown price.
 */
const UNBILLED_TYPES: ReadonlySet<string> = new Set([
  'AWS::EC2::VPC', 'AWS::EC2::Subnet', 'AWS::EC2::RouteTable', 'AWS::EC2::Route', 'AWS::EC2::SubnetRouteTableAssociation', 'AWS::EC2::InternetGateway', 'AWS::EC2::VPCGatewayAttachment',
  'AWS::EC2::SecurityGroup', 'AWS::EC2::SecurityGroupIngress', 'AWS::EC2::SecurityGroupEgress',
  'AWS::IAM::Role', 'AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy', 'AWS::IAM::User', 'AWS::IAM::AccessKey', 'AWS::IAM::InstanceProfile',
  'AWS::CertificateManager::Certificate', 'AWS::ECS::Cluster', 'AWS::ECS::ClusterCapacityProviderAssociations',
  'AWS::ElasticLoadBalancingV2::Listener', 'AWS::ElasticLoadBalancingV2::ListenerCertificate', 'AWS::ElasticLoadBalancingV2::ListenerRule', 'AWS::ElasticLoadBalancingV2::TargetGroup',
  'AWS::CloudFront::OriginAccessControl', 'AWS::CloudFront::ResponseHeadersPolicy', 'AWS::CloudFront::CachePolicy', 'AWS::CloudFront::OriginRequestPolicy',
  'AWS::RDS::DBSubnetGroup', 'AWS::RDS::DBParameterGroup', 'AWS::RDS::DBClusterParameterGroup', 'AWS::ElastiCache::SubnetGroup', 'AWS::ElastiCache::ParameterGroup',
  'AWS::S3::BucketPolicy', 'AWS::SNS::Topic', 'AWS::SNS::Subscription', 'AWS::SNS::TopicPolicy', 'AWS::ApplicationAutoScaling::ScalableTarget',
  'AWS::CloudFormation::WaitConditionHandle', 'AWS::CloudFormation::WaitCondition',
  // AWS WAF bills web ACLs, rules and requests ("AWS WAF pricing"), not associations.
  'AWS::WAFv2::WebACLAssociation',
]);
/** Types whose cost is counted with others: a task definition through its service, alarms and scaling policies as alarm metrics, record sets through the hosted zone. */
const PRICED_ELSEWHERE: ReadonlySet<string> = new Set(['AWS::ECS::TaskDefinition', 'AWS::CloudWatch::Alarm', 'AWS::ApplicationAutoScaling::ScalingPolicy', 'AWS::Route53::RecordSet']);

/** One stack's billable resources, priced in `p` (undefined: a region the table lacks). */
function stackLines(stack: PricedStack, p: RegionPrices | undefined, table: PriceTable, usage: Usage, mediaGb: number): CostLine[] {
  const resources = stack.template.Resources ?? {};
  const hours = table.hoursPerMonth;
  const at = (...path: string[]) => derivedAt(priceAt(p, path), table);
  const lines: CostLine[] = [];
  for (const [id, resource] of Object.entries(resources)) {
    const props = resource.Properties ?? {};
    switch (resource.Type) {
      case 'AWS::RDS::DBCluster': {
        const minimum = props.ServerlessV2ScalingConfiguration?.MinCapacity;
        // Each Serverless v2 instance of the cluster (the writer, and a reader) bills its own ACUs.
        const instances = Object.values(resources).filter((r) => r.Type === 'AWS::RDS::DBInstance' && r.Properties?.DBInstanceClass === 'db.serverless' && refOf(r.Properties?.DBClusterIdentifier) === id).length;
        const each = instances > 1 ? ` (${instances} instances)` : '';
        if (typeof minimum === 'number') lines.push(line(id, 'database', `Aurora Serverless v2 at its minimum capacity${each}`, cents(minimum * hours * Math.max(1, instances)), 'ACU-hours', at('auroraServerlessV2AcuHour')));
        lines.push(line(id, 'database', 'Aurora storage (assumed)', usage.auroraStorageGb, 'GB-months', at('auroraStorageGbMonth')));
        lines.push(line(id, 'database', 'Aurora I/O (assumed)', usage.auroraIoMillions, 'million requests', at('auroraIoPerMillion')));
        break;
      }
      case 'AWS::RDS::DBInstance': {
        // An Aurora Serverless instance is priced through its cluster's ACUs.
        if (props.DBInstanceClass === 'db.serverless') break;
        // A read replica is priced as an instance of its own, with storage as large as its source's.
        const source = resources[refOf(props.SourceDBInstanceIdentifier) ?? '']?.Properties;
        const replica = source ? ' read replica' : '';
        lines.push(line(id, 'database', `RDS for PostgreSQL ${props.DBInstanceClass}${replica}${props.MultiAZ ? ' Multi-AZ' : ', single-AZ'}`, hours * (props.MultiAZ ? 2 : 1), 'instance-hours', at('rdsPostgresInstanceHour', props.DBInstanceClass)));
        const storage = props.AllocatedStorage ?? source?.AllocatedStorage;
        if (typeof storage === 'string' || typeof storage === 'number') {
          lines.push(line(id, 'database', `${props.StorageType ?? 'gp2'} storage`, Number(storage), 'GB-months', props.StorageType === 'gp3' ? at('rdsGp3GbMonth') : { path: [] }));
        }
        break;
      }
      case 'AWS::ElastiCache::ReplicationGroup': {
        const engine = props.Engine === 'valkey' ? 'valkey' : 'redis';
        const count = Number(props.NumCacheClusters ?? 1);
        lines.push(line(id, 'cache', `ElastiCache ${engine} ${props.CacheNodeType}`, count * hours, 'node-hours', at('elastiCacheNodeHour', engine, props.CacheNodeType)));
        break;
      }
      case 'AWS::ElasticLoadBalancingV2::LoadBalancer': {
        lines.push(line(id, 'load balancer', 'Application Load Balancer', hours, 'hours', at('loadBalancerHour')));
        lines.push(line(id, 'load balancer', 'load balancer capacity units (assumed)', usage.loadBalancerCapacityUnits * hours, 'LCU-hours', at('loadBalancerCapacityUnitHour')));
        // An internet-facing load balancer has a public IPv4 address in each of its subnets.
        if (props.Scheme !== 'internal') lines.push(line(id, 'network', 'public IPv4 addresses of the load balancer', (props.Subnets?.length ?? 2) * hours, 'address-hours', at('publicIpv4Hour')));
        break;
      }
      case 'AWS::ECS::Service':
        lines.push(...serviceLines(id, props, resources, p, table));
        break;
      case 'AWS::SecretsManager::Secret':
        lines.push(line(id, 'secrets', `secret ${id}`, 1, 'secret-months', at('secretMonth')));
        break;
      case 'AWS::S3::Bucket':
        lines.push(line(id, 'media', 'S3 Standard storage (assumed)', mediaGb, 'GB-months', at('s3StandardGbMonth')));
        break;
      case 'AWS::CloudFront::Distribution':
        // The always-free tier covers the first 1 TB a month.
        lines.push(line(id, 'media', `CloudFront transfer beyond the free ${usage.cloudFrontFreeTierGb} GB (assumed ${usage.cloudFrontGbOut} GB out)`, Math.max(0, usage.cloudFrontGbOut - usage.cloudFrontFreeTierGb), 'GB', at('cloudFrontGbBeyondFreeTier')));
        break;
      case 'AWS::Logs::LogGroup':
        lines.push(line(id, 'logs', `CloudWatch Logs ingestion into ${id} (assumed)`, usage.logsIngestedGb, 'GB', at('logsIngestionGb')));
        break;
      case 'AWS::DynamoDB::Table':
        lines.push(line(id, 'service', 'DynamoDB on-demand writes (assumed)', usage.dynamoDbWriteMillions, 'million write units', at('dynamoDbWriteMillion')));
        lines.push(line(id, 'service', 'DynamoDB on-demand reads (assumed)', usage.dynamoDbReadMillions, 'million read units', at('dynamoDbReadMillion')));
        lines.push(line(id, 'service', 'DynamoDB storage (assumed)', usage.dynamoDbStorageGb, 'GB-months', at('dynamoDbGbMonth')));
        if (props.PointInTimeRecoverySpecification?.PointInTimeRecoveryEnabled) lines.push(line(id, 'service', 'DynamoDB point-in-time recovery', usage.dynamoDbStorageGb, 'GB-months', at('dynamoDbBackupGbMonth')));
        break;
      case 'AWS::OpenSearchService::Domain': {
        const cluster = props.ClusterConfig ?? {};
        const nodes = Number(cluster.InstanceCount ?? 1);
        lines.push(line(id, 'search', `OpenSearch ${cluster.InstanceType} (${plural(nodes, 'node')})`, nodes * hours, 'instance-hours', at('openSearchInstanceHour', cluster.InstanceType)));
        lines.push(line(id, 'search', 'OpenSearch gp3 storage', nodes * Number(props.EBSOptions?.VolumeSize ?? 10), 'GB-months', at('openSearchGp3GbMonth')));
        break;
      }
      case 'AWS::ECR::Repository':
        lines.push(line(id, 'images', `ECR image storage (assumed ${usage.ecrStorageGb} GB)`, usage.ecrStorageGb, 'GB-months', at('ecrStorageGbMonth')));
        break;
      case 'AWS::SES::EmailIdentity':
        lines.push(line(id, 'mail', `SES e-mails (assumed ${usage.emailsPerMonth})`, usage.emailsPerMonth / 1000, 'thousand e-mails', at('sesThousandEmails')));
        break;
      default:
        // A type that `resources:` or a plugin brings, which may cost money: an unknown line, so that the total says "at least".
        if (!UNBILLED_TYPES.has(resource.Type) && !PRICED_ELSEWHERE.has(resource.Type)) lines.push(line(id, 'other', `${resource.Type} ${id} (a type mastodon-cfn has no price for)`, 1, 'resource-months', { path: [] }));
        break;
    }
  }
  return lines;
}


/** How many tasks a service runs: a fixed count, or an autoscaling range (its scalable target names the service). */
export interface TaskCount {
  /** What runs at least, and what the estimate prices. */
  count: number;
  /** The autoscaling maximum, when the service scales. */
  max?: number;
}

/**
 * How many tasks a service runs. A service that waits for its Mastodon token (`Fn::If` on the token's
 * condition, else 0) runs its count once the deploy has made the token; an autoscaled one has no
 * DesiredCount, and runs between its scalable target's MinCapacity and MaxCapacity.
 */
export function taskCount(id: string, resources: Record<string, TemplateResource>): TaskCount {
  const scaling = Object.values(resources).find((r) => r.Type === 'AWS::ApplicationAutoScaling::ScalableTarget' && references(r.Properties?.ResourceId).has(id))?.Properties;
  if (scaling) return { count: Number(scaling.MinCapacity), max: Number(scaling.MaxCapacity) };
  const desiredCount = resources[id]?.Properties?.DesiredCount;
  const branches = (desiredCount as { 'Fn::If'?: unknown[] } | undefined)?.['Fn::If'];
  return { count: Number(Array.isArray(branches) ? branches[1] : (desiredCount ?? 1)) };
}

/** A service of Mastodon's own processes (their container names no other service may take), rather than a side service. */
export function isMastodonService(definition: { ContainerDefinitions?: { Name: string }[] } | undefined): boolean {
  return (definition?.ContainerDefinitions ?? []).some((c) => (MASTODON_CONTAINERS as readonly string[]).includes(c.Name));
}
const MASTODON_CONTAINERS = ['web', 'streaming', 'sidekiq'] as const;

/** A Fargate service: its tasks' vCPU and memory hours on Spot or on-demand, and a public IPv4 address per task. */
function serviceLines(id: string, props: Record<string, any>, resources: Record<string, TemplateResource>, p: RegionPrices | undefined, table: PriceTable): CostLine[] {
  const definition = resources[refOf(props.TaskDefinition) ?? '']?.Properties;
  const { count, max } = taskCount(id, resources);
  if (!definition || count === 0) return [];
  const architecture = definition.RuntimePlatform?.CpuArchitecture === 'ARM64' ? 'arm64' : 'x86_64';
  const vcpu = Number(definition.Cpu) / 1024;
  const gb = Number(definition.Memory) / 1024;
  const component: CostLine['component'] = isMastodonService(definition) ? 'compute' : 'service';
  const strategy: { CapacityProvider: string; Base?: number }[] = props.CapacityProviderStrategy ?? [{ CapacityProvider: 'FARGATE' }];
  const onDemandBase = strategy.find((s) => s.CapacityProvider === 'FARGATE')?.Base ?? 0;
  const onSpot = strategy.some((s) => s.CapacityProvider === 'FARGATE_SPOT');
  const onDemandTasks = onSpot ? Math.min(count, onDemandBase) : count;
  const spotTasks = count - onDemandTasks;
  // Rounded to a hundred-millionth of a dollar: the unit price printed is the one multiplied.
  const spot = ({ path, unitPrice }: Price): Price =>
    unitPrice === undefined ? { path } : { path, unitPrice: Number((unitPrice * (1 - table.fargateSpotDiscount)).toFixed(8)), derived: `${Math.round(table.fargateSpotDiscount * 100)}% below on-demand Fargate (Spot has no fixed price)` };
  const tasksOf = (n: number) => `${plural(n, 'task')} of ${id}${max === undefined ? '' : `, its autoscaling minimum (up to ${max})`}`;
  const lines: CostLine[] = [];
  for (const [tasks, kind, price] of [
    [onDemandTasks, 'on-demand', (price: Price) => price],
    [spotTasks, 'Spot', spot],
  ] as const) {
    if (tasks === 0) continue;
    lines.push(line(id, component, `Fargate ${kind} ${architecture} vCPU (${tasksOf(tasks)}, ${vcpu} vCPU each)`, cents(tasks * vcpu * table.hoursPerMonth), 'vCPU-hours', price(priceAt(p, ['fargate', architecture, 'vcpuHour']))));
    lines.push(line(id, component, `Fargate ${kind} ${architecture} memory (${tasksOf(tasks)}, ${gb} GB each)`, cents(tasks * gb * table.hoursPerMonth), 'GB-hours', price(priceAt(p, ['fargate', architecture, 'gbHour']))));
  }
  if (props.NetworkConfiguration?.AwsvpcConfiguration?.AssignPublicIp === 'ENABLED') {
    lines.push(line(id, 'network', `public IPv4 address of each task of ${id}`, count * table.hoursPerMonth, 'address-hours', priceAt(p, ['publicIpv4Hour'])));
  }
  return lines;
}

/**
 * CloudWatch: the reporter's metrics (each queue's latency, and each group's latency and processes,
 * from its SIDEKIQ_GROUPS, however many tasks report them) and the alarms, priced by the metric
 * (CloudWatch pricing: an alarm on a metric-math expression costs one alarm metric per metric it
 * reads; each target-tracking policy makes two alarms), beyond CloudWatch's always-free tier.
 */
function monitoringLines(stacks: PricedStack[], p: RegionPrices | undefined, usage: Usage): CostLine[] {
  const resources = stacks.flatMap((stack) => Object.values(stack.template.Resources ?? {}));
  const reporter = resources
    .filter((r) => r.Type === 'AWS::ECS::TaskDefinition')
    .flatMap((r) => (r.Properties?.ContainerDefinitions ?? []) as { Name: string; Environment?: { Name: string; Value: unknown }[] }[])
    .find((c) => c.Name === 'metrics');
  const groups = reporter?.Environment?.find((e) => e.Name === 'SIDEKIQ_GROUPS')?.Value;
  const lines: CostLine[] = [];
  if (typeof groups === 'string') {
    const parsed = JSON.parse(groups) as Record<string, string[]>;
    const metrics = new Set(Object.values(parsed).flat()).size + 2 * Object.keys(parsed).length;
    lines.push(line('QueueLatencyMetrics', 'monitoring', `CloudWatch custom metrics of Sidekiq's queues and processes (${metrics}; the first ${usage.cloudWatchFreeMetrics} are free)`, Math.max(0, metrics - usage.cloudWatchFreeMetrics), 'metric-months', priceAt(p, ['cloudWatchMetricMonth'])));
  }
  const alarmMetrics = (r: { Properties?: { Metrics?: { MetricStat?: unknown }[] } }) => r.Properties?.Metrics?.filter((m) => m.MetricStat).length ?? 1;
  const alarms =
    resources.filter((r) => r.Type === 'AWS::CloudWatch::Alarm').reduce((sum, r) => sum + alarmMetrics(r), 0) +
    2 * resources.filter((r) => r.Type === 'AWS::ApplicationAutoScaling::ScalingPolicy' && r.Properties?.PolicyType === 'TargetTrackingScaling').length;
  if (alarms > 0) lines.push(line('Alarms', 'monitoring', `CloudWatch alarm metrics of the alerts and the autoscaling (${alarms}; the first ${usage.cloudWatchFreeAlarms} are free)`, Math.max(0, alarms - usage.cloudWatchFreeAlarms), 'alarm-months', priceAt(p, ['cloudWatchAlarmMonth'])));
  return lines;
}

/** The monthly estimate of a build's stacks, priced in the home region's prices. */
export function estimate(stacks: PricedStack[], homeRegion: string, table: PriceTable = PRICES): Estimate {
  const p = table.regions[homeRegion];
  const size = sizeOf(stacks);
  const u = table.usage[size];
  const media = mediaStorage(u, mediaCacheDaysOf(stacks));
  const lines = stacks.flatMap((stack) => stackLines(stack, p, table, u, media.gb));
  lines.push(...monitoringLines(stacks, p, u));
  const usesRoute53 = stacks.some((stack) => Object.values(stack.template.Resources ?? {}).some((r) => r.Type === 'AWS::Route53::RecordSet'));
  if (usesRoute53) lines.push(line('HostedZone', 'dns', 'Route 53 hosted zone (yours; its records for AWS aliases answer free)', 1, 'zone-months', priceAt(p, ['route53HostedZoneMonth'])));
  const known = lines.filter((l) => l.monthly !== undefined);
  const autoscaled = stacks.some((stack) => Object.values(stack.template.Resources ?? {}).some((r) => r.Type === 'AWS::ApplicationAutoScaling::ScalableTarget'));
  return {
    region: homeRegion,
    date: table.date,
    source: table.source ?? SHIPPED_SOURCE,
    currency: table.currency,
    lines,
    total: cents(known.reduce((sum, l) => sum + l.monthly!, 0)),
    incomplete: known.length < lines.length,
    priced: p !== undefined,
    size,
    assumptions: [
      `${table.hoursPerMonth} hours a month; on-demand prices of ${table.date}${p ? '' : `; the table has no prices for ${homeRegion}`}`,
      `usage of size ${size}: ${u.why}`,
      table.fargateSpotNote,
      ...(autoscaled ? ['autoscaled services at their minimum count, Aurora at its minimum capacity: a busy hour costs more'] : []),
      ...(lines.some((l) => l.price[0] === 'auroraStorageGbMonth') ? [`Aurora: ${u.auroraStorageGb} GB stored, ${u.auroraIoMillions} million I/O requests`] : []),
      `load balancer: ${u.loadBalancerCapacityUnits} LCU on average`,
      `media: ${media.gb} GB in S3 (${media.assumption}), ${u.cloudFrontGbOut} GB a month through CloudFront; logs: ${u.logsIngestedGb} GB ingested per log group`,
      `DynamoDB: ${u.dynamoDbWriteMillions} million writes, ${u.dynamoDbReadMillions} million reads, ${u.dynamoDbStorageGb} GB; SES: ${u.emailsPerMonth} e-mails; ECR: ${u.ecrStorageGb} GB of images per built service`,
      'not counted: data transfer to the internet from the load balancer (the first 100 GB a month are free), backups beyond the free allowance, taxes',
    ],
    priceNotes: table.notes ?? [],
  };
}

/** `$123.45 a month (prices of 2026-11-25, eu-central-1)`, or with "at least" when some price is unknown. */
export function formatTotal(estimate: Pick<Estimate, 'total' | 'incomplete' | 'region' | 'date'> & Partial<Pick<Estimate, 'priced'>>): string {
  if (estimate.priced === false) return `unknown: the price table of ${estimate.date} has no prices for ${estimate.region}`;
  return `${estimate.incomplete ? 'at least ' : ''}${money(estimate.total)} a month (estimate, ${estimate.region} prices of ${estimate.date})`;
}

/** The itemised estimate: every line with its quantity and unit price, then the total and the assumptions. */
export function formatEstimate(estimate: Estimate): string {
  const rows = estimate.lines.map((l) => [l.component, l.item, quantity(l.quantity, l.unit), l.unitPrice === undefined ? 'unknown' : `× ${unitPrice(l.unitPrice)}${l.derived ? '*' : ''}`, money(l.monthly)]);
  const derived = [...new Set(estimate.lines.flatMap((l) => (l.derived ? [l.derived] : [])))];
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i].length)));
  const body = rows.map((r) => `  ${r.slice(0, 4).map((cell, i) => cell.padEnd(widths[i])).join('  ')}  ${r[4].padStart(9)}`);
  return [
    `Monthly cost estimate in ${estimate.region} (${estimate.currency}, prices of ${estimate.date} from ${estimate.source}):`,
    ...body,
    `  Total: ${formatTotal(estimate)}`,
    ...(estimate.incomplete ? [`  Lines marked unknown have no price in ${estimate.source}: the total leaves them out.`] : []),
    ...derived.map((how) => `  * derived, not read from AWS's prices: ${how}`),
    ...(estimate.priceNotes.length > 0 ? ['Not priced:', ...estimate.priceNotes.map((note) => `  - ${note}`)] : []),
    'Assumptions:',
    ...estimate.assumptions.map((a) => `  - ${a}`),
  ].join('\n');
}
