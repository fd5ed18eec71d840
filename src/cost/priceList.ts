import { GetProductsCommand, type Filter } from '@aws-sdk/client-pricing';
import type { AwsClient } from '../deployer/aws.js';
import { PRICES, type PriceTable, type RegionPrices } from './estimate.js';

/**
 * Today's on-demand prices for one region from AWS's Price List Query API (GetProducts), in place
 * of the table shipped with mastodon-cfn (`cost --prices-from-aws`). Only the prices an estimate's
 * lines use are asked for. Each is one product: the region, the attributes below, and a usage type named
 * as below after the region's prefix (EUC1-LoadBalancerUsage in eu-central-1, LoadBalancerUsage or
 * USE1-… in us-east-1, EU-… in eu-west-1). A price no product gives, or that several products give
 * differently, is unknown, with the reason, never taken from elsewhere.
 *
 * Product families, attributes and usage types are those of AWS's price list files; infracost's
 * resource definitions (internal/resources/aws) filter on the same ones.
 */

interface PriceLookup {
  /** Where the price goes in RegionPrices. */
  path: string[];
  /** What is priced, in words, for the notes. */
  what: string;
  service: string;
  usageType: string;
  attributes?: Record<string, string>;
  /** A global service (CloudFront, Route 53): its products have no region. */
  global?: boolean;
  /** The table's unit is this many of AWS's (a million requests, a thousand e-mails). */
  per?: number;
}

/**
 * The edge locations CloudFront bills from, by the prefix of its usage types, for viewers near the
 * region: the estimate's assumption, since the price depends on where the viewers are.
 */
function cloudFrontEdge(region: string): string {
  const edges: [RegExp, string][] = [
    [/^us-/, 'US'],
    [/^ca-/, 'CA'],
    [/^(eu|il)-/, 'EU'],
    [/^ap-northeast-[13]$/, 'JP'],
    [/^ap-southeast-[24]$/, 'AU'],
    [/^ap-south-/, 'IN'],
    [/^sa-/, 'SA'],
    [/^me-/, 'ME'],
    [/^af-/, 'ZA'],
  ];
  return edges.find(([pattern]) => pattern.test(region))?.[1] ?? 'AP';
}

const FARGATE_USAGE = { x86_64: { vcpuHour: 'Fargate-vCPU-Hours:perCPU', gbHour: 'Fargate-GB-Hours' }, arm64: { vcpuHour: 'Fargate-ARM-vCPU-Hours:perCPU', gbHour: 'Fargate-ARM-GB-Hours' } } as const;
type Architecture = keyof typeof FARGATE_USAGE;
type FargateRate = keyof (typeof FARGATE_USAGE)[Architecture];
type CacheEngine = 'redis' | 'valkey';

const AURORA_POSTGRES = { databaseEngine: 'Aurora PostgreSQL' };
const RDS_POSTGRES = { databaseEngine: 'PostgreSQL', deploymentOption: 'Single-AZ' };
const APPLICATION_LOAD_BALANCER = { productFamily: 'Load Balancer-Application' };

/** Each price of a region's table as a Price List lookup. */
const LOOKUPS = {
  auroraServerlessV2AcuHour: () => ({ path: ['auroraServerlessV2AcuHour'], what: 'Aurora Serverless v2 ACU-hour', service: 'AmazonRDS', usageType: 'Aurora:ServerlessV2Usage', attributes: { productFamily: 'ServerlessV2', ...AURORA_POSTGRES } }),
  auroraStorageGbMonth: () => ({ path: ['auroraStorageGbMonth'], what: 'Aurora storage', service: 'AmazonRDS', usageType: 'Aurora:StorageUsage', attributes: AURORA_POSTGRES }),
  auroraIoPerMillion: () => ({ path: ['auroraIoPerMillion'], what: 'Aurora I/O', service: 'AmazonRDS', usageType: 'Aurora:StorageIOUsage', per: 1e6 }),
  rdsPostgresInstanceHour: (instanceClass: string) => ({
    path: ['rdsPostgresInstanceHour', instanceClass],
    what: `RDS for PostgreSQL ${instanceClass}`,
    service: 'AmazonRDS',
    usageType: `InstanceUsage:${instanceClass}`,
    attributes: { productFamily: 'Database Instance', instanceType: instanceClass, ...RDS_POSTGRES },
  }),
  rdsGp3GbMonth: () => ({ path: ['rdsGp3GbMonth'], what: 'RDS gp3 storage', service: 'AmazonRDS', usageType: 'RDS:GP3-Storage', attributes: { volumeType: 'General Purpose-GP3', ...RDS_POSTGRES } }),
  elastiCacheNodeHour: (engine: CacheEngine, nodeType: string) => ({
    path: ['elastiCacheNodeHour', engine, nodeType],
    what: `ElastiCache ${engine} ${nodeType}`,
    service: 'AmazonElastiCache',
    usageType: `NodeUsage:${nodeType}`,
    attributes: { productFamily: 'Cache Instance', instanceType: nodeType, cacheEngine: engine === 'valkey' ? 'Valkey' : 'Redis' },
  }),
  loadBalancerHour: () => ({ path: ['loadBalancerHour'], what: 'Application Load Balancer hour', service: 'AWSELB', usageType: 'LoadBalancerUsage', attributes: APPLICATION_LOAD_BALANCER }),
  loadBalancerCapacityUnitHour: () => ({ path: ['loadBalancerCapacityUnitHour'], what: 'Application Load Balancer LCU-hour', service: 'AWSELB', usageType: 'LCUUsage', attributes: APPLICATION_LOAD_BALANCER }),
  fargate: (architecture: Architecture, rate: FargateRate) => ({
    path: ['fargate', architecture, rate],
    what: `Fargate ${architecture} ${rate === 'vcpuHour' ? 'vCPU-hour' : 'GB-hour'}`,
    service: 'AmazonECS',
    usageType: FARGATE_USAGE[architecture][rate],
    attributes: { productFamily: 'Compute' },
  }),
  publicIpv4Hour: () => ({ path: ['publicIpv4Hour'], what: 'public IPv4 address in use', service: 'AmazonVPC', usageType: 'PublicIPv4:InUseAddress' }),
  secretMonth: () => ({ path: ['secretMonth'], what: 'Secrets Manager secret', service: 'AWSSecretsManager', usageType: 'AWSSecretsManager-Secrets' }),
  s3StandardGbMonth: () => ({ path: ['s3StandardGbMonth'], what: 'S3 Standard storage', service: 'AmazonS3', usageType: 'TimedStorage-ByteHrs', attributes: { volumeType: 'Standard' } }),
  cloudFrontGbBeyondFreeTier: (region: string) => {
    const edge = cloudFrontEdge(region);
    return { path: ['cloudFrontGbBeyondFreeTier'], what: `CloudFront transfer out from ${edge} edges`, service: 'AmazonCloudFront', usageType: `${edge}-DataTransfer-Out-Bytes`, global: true };
  },
  logsIngestionGb: () => ({ path: ['logsIngestionGb'], what: 'CloudWatch Logs ingestion', service: 'AmazonCloudWatch', usageType: 'DataProcessing-Bytes', attributes: { productFamily: 'Data Payload' } }),
  dynamoDbWriteMillion: () => ({ path: ['dynamoDbWriteMillion'], what: 'DynamoDB on-demand writes', service: 'AmazonDynamoDB', usageType: 'WriteRequestUnits', per: 1e6 }),
  dynamoDbReadMillion: () => ({ path: ['dynamoDbReadMillion'], what: 'DynamoDB on-demand reads', service: 'AmazonDynamoDB', usageType: 'ReadRequestUnits', per: 1e6 }),
  dynamoDbGbMonth: () => ({ path: ['dynamoDbGbMonth'], what: 'DynamoDB storage', service: 'AmazonDynamoDB', usageType: 'TimedStorage-ByteHrs', attributes: { volumeType: 'Amazon DynamoDB - Indexed DataStore' } }),
  dynamoDbBackupGbMonth: () => ({ path: ['dynamoDbBackupGbMonth'], what: 'DynamoDB point-in-time recovery', service: 'AmazonDynamoDB', usageType: 'TimedPITRStorage-ByteHrs' }),
  route53HostedZoneMonth: () => ({ path: ['route53HostedZoneMonth'], what: 'Route 53 hosted zone', service: 'AmazonRoute53', usageType: 'HostedZone', attributes: { productFamily: 'DNS Zone' }, global: true }),
  sesThousandEmails: () => ({ path: ['sesThousandEmails'], what: 'SES outbound e-mail', service: 'AmazonSES', usageType: 'Recipients', per: 1000 }),
  ecrStorageGbMonth: () => ({ path: ['ecrStorageGbMonth'], what: 'ECR private repository storage', service: 'AmazonECR', usageType: 'TimedStorage-ByteHrs' }),
  openSearchInstanceHour: (instanceType: string) => ({
    path: ['openSearchInstanceHour', instanceType],
    what: `OpenSearch ${instanceType}`,
    service: 'AmazonES',
    usageType: `ESInstance:${instanceType.replace(/\.search$/, '')}`,
    attributes: { productFamily: 'Amazon OpenSearch Service Instance', instanceType },
  }),
  cloudWatchMetricMonth: () => ({ path: ['cloudWatchMetricMonth'], what: 'CloudWatch custom metric', service: 'AmazonCloudWatch', usageType: 'CW:MetricMonitorUsage', attributes: { productFamily: 'Metric' } }),
  cloudWatchAlarmMonth: () => ({ path: ['cloudWatchAlarmMonth'], what: 'CloudWatch alarm', service: 'AmazonCloudWatch', usageType: 'CW:AlarmMonitorUsage', attributes: { productFamily: 'Alarm' } }),
  openSearchGp3GbMonth: () => ({ path: ['openSearchGp3GbMonth'], what: 'OpenSearch gp3 storage', service: 'AmazonES', usageType: 'ES:GP3-Storage', attributes: { productFamily: 'Amazon OpenSearch Service Volume' } }),
} satisfies Record<keyof RegionPrices, (...args: any[]) => PriceLookup>;

/** The lookup of the price at `path` in a region's prices (see CostLine.price), or undefined for a path no price is kept at. */
export function lookupAt(path: string[], region: string): PriceLookup | undefined {
  const [key, ...rest] = path;
  switch (key) {
    case 'rdsPostgresInstanceHour':
      return rest.length === 1 ? LOOKUPS.rdsPostgresInstanceHour(rest[0]) : undefined;
    case 'openSearchInstanceHour':
      return rest.length === 1 ? LOOKUPS.openSearchInstanceHour(rest[0]) : undefined;
    case 'elastiCacheNodeHour':
      return rest.length === 2 && (rest[0] === 'redis' || rest[0] === 'valkey') ? LOOKUPS.elastiCacheNodeHour(rest[0], rest[1]) : undefined;
    case 'fargate':
      return rest.length === 2 && rest[0] in FARGATE_USAGE && rest[1] in FARGATE_USAGE.x86_64 ? LOOKUPS.fargate(rest[0] as Architecture, rest[1] as FargateRate) : undefined;
    case 'cloudFrontGbBeyondFreeTier':
      return LOOKUPS.cloudFrontGbBeyondFreeTier(region);
    default:
      return key in LOOKUPS && rest.length === 0 ? (LOOKUPS[key as keyof typeof LOOKUPS] as () => PriceLookup)() : undefined;
  }
}

/** The lookups of the given paths, each once. */
export function lookupsAt(paths: string[][], region: string): PriceLookup[] {
  const lookups = new Map<string, PriceLookup>();
  for (const path of paths) {
    const lookup = lookupAt(path, region);
    if (lookup) lookups.set(JSON.stringify(lookup.path), lookup);
  }
  return [...lookups.values()];
}

/** The path of every price a region's table holds, instance classes and node types included. */
export function pricePaths(prices: object, prefix: string[] = []): string[][] {
  return Object.entries(prices).flatMap(([key, value]) => (value && typeof value === 'object' ? pricePaths(value, [...prefix, key]) : [[...prefix, key]]));
}

interface PriceDimension {
  beginRange?: string;
  pricePerUnit?: { USD?: string };
}

/** One entry of GetProducts' PriceList, a JSON string in the documented aws_v1 format. */
interface PriceListProduct {
  product?: { productFamily?: string; attributes?: Record<string, string> };
  terms?: { OnDemand?: Record<string, { priceDimensions?: Record<string, PriceDimension> }> };
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The product's usage type is the wanted one, after at most the region's prefix (three letters and a digit, or EU). */
const usageTypePattern = (usageType: string) => new RegExp(`^(?:[A-Z]{3}\\d-|EU-)?${escapeRegExp(usageType)}$`);

/** The on-demand price of a product: its first paid tier (a free tier comes first at price 0). */
function onDemandPrice(entry: PriceListProduct): number | undefined {
  const dimensions = Object.values(entry.terms?.OnDemand ?? {}).flatMap((term) => Object.values(term.priceDimensions ?? {}));
  const prices = dimensions
    .sort((a, b) => Number(a.beginRange ?? 0) - Number(b.beginRange ?? 0))
    .map((dimension) => Number(dimension.pricePerUnit?.USD))
    .filter((price) => Number.isFinite(price));
  return prices.find((price) => price > 0) ?? prices[0];
}

/** What GetProducts says the lookup's price is: one price, or why there is none. */
function priceOf(lookup: PriceLookup, priceList: string[]): { price?: number; problem?: string } {
  const pattern = usageTypePattern(lookup.usageType);
  const found = new Set<number>();
  for (const text of priceList) {
    const entry = JSON.parse(text) as PriceListProduct;
    const attributes: Record<string, string | undefined> = { ...entry.product?.attributes, productFamily: entry.product?.productFamily };
    if (!pattern.test(attributes.usagetype ?? '')) continue;
    if (Object.entries(lookup.attributes ?? {}).some(([key, value]) => attributes[key] !== value)) continue;
    const price = onDemandPrice(entry);
    if (price !== undefined) found.add(price);
  }
  if (found.size === 0) return { problem: `no on-demand price for ${lookup.usageType}` };
  if (found.size > 1) return { problem: `${found.size} different prices for ${lookup.usageType} (${[...found].join(', ')})` };
  // toPrecision: $0.0000001 an I/O is $0.1 a million, not 0.09999999999999999.
  return { price: Number(([...found][0] * (lookup.per ?? 1)).toPrecision(12)) };
}

/** Every page of GetProducts for one lookup. */
async function products(client: AwsClient, lookup: PriceLookup, region: string): Promise<string[]> {
  const filters: Filter[] = [
    ...(lookup.global ? [] : [{ Type: 'TERM_MATCH' as const, Field: 'regionCode', Value: region }]),
    // CONTAINS keeps the answer small; the usage type's exact name is checked in priceOf.
    { Type: 'CONTAINS' as const, Field: 'usagetype', Value: lookup.usageType },
    ...Object.entries(lookup.attributes ?? {}).map(([Field, Value]) => ({ Type: 'TERM_MATCH' as const, Field, Value })),
  ];
  const list: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.send(new GetProductsCommand({ ServiceCode: lookup.service, Filters: filters, FormatVersion: 'aws_v1', MaxResults: 100, NextToken: nextToken }));
    list.push(...(page.PriceList ?? []));
    nextToken = page.NextToken;
  } while (nextToken);
  return list;
}

function setPath(target: Record<string, any>, path: string[], value: number): void {
  let node = target;
  for (const key of path.slice(0, -1)) node = node[key] ??= {};
  node[path.at(-1)!] = value;
}

/** GetProducts is throttled per account: a few calls at a time. */
const CONCURRENT_CALLS = 4;

/** Today's prices of the lookups in one region, and what AWS could not price. */
export async function pricesFromAws(client: AwsClient, region: string, lookups: PriceLookup[]): Promise<{ prices: RegionPrices; notes: string[] }> {
  const prices: RegionPrices = {};
  const notes: string[] = [];
  const answers = new Array<{ price?: number; problem?: string }>(lookups.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < lookups.length; i = next++) answers[i] = priceOf(lookups[i], await products(client, lookups[i], region));
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENT_CALLS, lookups.length) }, worker));
  for (const [i, lookup] of lookups.entries()) {
    const { price, problem } = answers[i];
    if (price === undefined) notes.push(`${lookup.what}: AWS's Price List has ${problem} in ${lookup.global ? 'its global products' : region}`);
    else setPath(prices as Record<string, any>, lookup.path, price);
  }
  return { prices, notes };
}

/**
 * A price table whose one region holds today's prices from the Price List API for the given paths
 * (an estimate's lines'); usage assumptions and the Fargate Spot discount stay the shipped table's.
 */
export async function priceTableFromAws(client: AwsClient, region: string, paths: string[][], today = new Date()): Promise<PriceTable> {
  const { prices, notes } = await pricesFromAws(client, region, lookupsAt(paths, region));
  // Every price is the Price List's own: the shipped table's derived ones are not.
  return { ...PRICES, derived: {}, date: today.toISOString().slice(0, 10), source: "AWS's Price List API", notes, regions: { [region]: prices } };
}
