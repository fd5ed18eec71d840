import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Estimate } from '../src/cost/estimate.js';
import { lookupAt, pricePaths } from '../src/cost/priceList.js';
import { buildConfig, minimalYaml, REPO_ROOT, runCliAsync, runScriptAsync, tempDir } from './support/build.js';
import { type CatalogProduct, type PriceListStandIn, startPriceListStandIn } from './support/priceList.js';

const REGION = 'eu-central-1';
const inFrankfurt = (usagetype: string, attributes: Record<string, string> = {}) => ({ regionCode: REGION, location: 'EU (Frankfurt)', locationType: 'AWS Region', usagetype, ...attributes });

/**
 * Frankfurt's products as the Price List names them (EUC1- usage types), at prices that differ from
 * the shipped table so that the test sees where each price came from; and beside each, the products
 * a careless match would take instead.
 */
function frankfurtCatalog(): CatalogProduct[] {
  const auroraPostgres = { databaseEngine: 'Aurora PostgreSQL' };
  const postgresSingleAz = { databaseEngine: 'PostgreSQL', deploymentOption: 'Single-AZ', licenseModel: 'No license required' };
  const alb = 'Load Balancer-Application';
  return [
    { service: 'AmazonRDS', family: 'ServerlessV2', attributes: inFrankfurt('EUC1-Aurora:ServerlessV2Usage', auroraPostgres), price: 0.15 },
    { service: 'AmazonRDS', family: 'ServerlessV2', attributes: inFrankfurt('EUC1-Aurora:ServerlessV2IOOptimizedUsage', auroraPostgres), price: 0.2 },
    { service: 'AmazonRDS', family: 'ServerlessV2', attributes: inFrankfurt('EUC1-Aurora:ServerlessV2Usage', { databaseEngine: 'Aurora MySQL' }), price: 0.151 },
    { service: 'AmazonRDS', family: 'Database Storage', attributes: inFrankfurt('EUC1-Aurora:StorageUsage', auroraPostgres), price: 0.12, unit: 'GB-Mo' },
    { service: 'AmazonRDS', family: 'Database Storage', attributes: inFrankfurt('EUC1-Aurora:IO-OptimizedStorageUsage', auroraPostgres), price: 0.27, unit: 'GB-Mo' },
    { service: 'AmazonRDS', family: 'System Operation', attributes: inFrankfurt('EUC1-Aurora:StorageIOUsage', auroraPostgres), price: 0.00000024, unit: 'IOs' },
    { service: 'AmazonRDS', family: 'Database Instance', attributes: inFrankfurt('EUC1-InstanceUsage:db.t4g.micro', { instanceType: 'db.t4g.micro', ...postgresSingleAz }), price: 0.021 },
    { service: 'AmazonRDS', family: 'Database Instance', attributes: inFrankfurt('EUC1-InstanceUsage:db.t4g.micro', { instanceType: 'db.t4g.micro', ...postgresSingleAz, databaseEngine: 'MySQL' }), price: 0.02 },
    { service: 'AmazonRDS', family: 'Database Instance', attributes: inFrankfurt('EUC1-Multi-AZUsage:db.t4g.micro', { instanceType: 'db.t4g.micro', ...postgresSingleAz, deploymentOption: 'Multi-AZ' }), price: 0.042 },
    { service: 'AmazonRDS', family: 'Database Storage', attributes: inFrankfurt('EUC1-RDS:GP3-Storage', { volumeType: 'General Purpose-GP3', ...postgresSingleAz }), price: 0.15, unit: 'GB-Mo' },
    { service: 'AmazonRDS', family: 'Database Storage', attributes: inFrankfurt('EUC1-RDS:Multi-AZ-GP3-Storage', { volumeType: 'General Purpose-GP3', ...postgresSingleAz, deploymentOption: 'Multi-AZ' }), price: 0.3, unit: 'GB-Mo' },
    { service: 'AmazonRDS', family: 'Database Instance', attributes: inFrankfurt('EUC1-InstanceUsage:db.t4g.small', { instanceType: 'db.t4g.small', ...postgresSingleAz }), price: 0.041 },
    ...['cache.t3.micro', 'cache.t4g.micro', 'cache.t3.small', 'cache.t4g.small'].flatMap((node, i) => [
      { service: 'AmazonElastiCache', family: 'Cache Instance', attributes: inFrankfurt(`EUC1-NodeUsage:${node}`, { instanceType: node, cacheEngine: 'Valkey' }), price: 0.0164 - i * 0.0009 },
      { service: 'AmazonElastiCache', family: 'Cache Instance', attributes: inFrankfurt(`EUC1-NodeUsage:${node}`, { instanceType: node, cacheEngine: 'Redis' }), price: 0.0205 - i * 0.0011 },
    ]),
    { service: 'AWSELB', family: alb, attributes: inFrankfurt('EUC1-LoadBalancerUsage'), price: 0.028 },
    { service: 'AWSELB', family: alb, attributes: inFrankfurt('EUC1-TS-LoadBalancerUsage'), price: 0.0066 },
    { service: 'AWSELB', family: 'Load Balancer-Network', attributes: inFrankfurt('EUC1-LoadBalancerUsage'), price: 0.0252 },
    { service: 'AWSELB', family: alb, attributes: inFrankfurt('EUC1-LCUUsage'), price: 0.0085 },
    { service: 'AWSELB', family: alb, attributes: { regionCode: 'us-east-1', location: 'US East (N. Virginia)', usagetype: 'LoadBalancerUsage' }, price: 0.0225 },
    { service: 'AmazonECS', family: 'Compute', attributes: inFrankfurt('EUC1-Fargate-vCPU-Hours:perCPU'), price: 0.05 },
    { service: 'AmazonECS', family: 'Compute', attributes: inFrankfurt('EUC1-Fargate-GB-Hours'), price: 0.0055 },
    { service: 'AmazonECS', family: 'Compute', attributes: inFrankfurt('EUC1-Fargate-ARM-vCPU-Hours:perCPU'), price: 0.04 },
    { service: 'AmazonECS', family: 'Compute', attributes: inFrankfurt('EUC1-Fargate-ARM-GB-Hours'), price: 0.0044 },
    { service: 'AmazonECS', family: 'Compute', attributes: inFrankfurt('EUC1-Fargate-Windows-vCPU-Hours:perCPU'), price: 0.09 },
    { service: 'AmazonVPC', attributes: inFrankfurt('EUC1-PublicIPv4:InUseAddress'), price: 0.0055 },
    { service: 'AmazonVPC', attributes: inFrankfurt('EUC1-PublicIPv4:IdleAddress'), price: 0.0055 },
    { service: 'AWSSecretsManager', family: 'Secret', attributes: inFrankfurt('EUC1-AWSSecretsManager-Secrets'), price: 0.44, unit: 'Secrets' },
    { service: 'AmazonS3', family: 'Storage', attributes: inFrankfurt('EUC1-TimedStorage-ByteHrs', { volumeType: 'Standard' }), price: [[0, 0.0255], [51200, 0.0245], [512000, 0.0235]], unit: 'GB-Mo' },
    { service: 'AmazonCloudFront', family: 'Data Transfer', attributes: { usagetype: 'EU-DataTransfer-Out-Bytes', fromLocation: 'Europe' }, price: [[0, 0.09], [10240, 0.08]], unit: 'GB' },
    { service: 'AmazonCloudFront', family: 'Data Transfer', attributes: { usagetype: 'US-DataTransfer-Out-Bytes', fromLocation: 'United States' }, price: [[0, 0.085], [10240, 0.08]], unit: 'GB' },
    { service: 'AmazonCloudWatch', family: 'Data Payload', attributes: inFrankfurt('EUC1-DataProcessing-Bytes'), price: 0.66, unit: 'GB' },
    { service: 'AmazonCloudWatch', family: 'Metric', attributes: inFrankfurt('EUC1-CW:MetricMonitorUsage'), price: [[0, 0.3], [10000, 0.1], [240000, 0.05]], unit: 'Metrics' },
    { service: 'AmazonCloudWatch', family: 'Alarm', attributes: inFrankfurt('EUC1-CW:AlarmMonitorUsage'), price: 0.1, unit: 'Alarms' },
    { service: 'AmazonDynamoDB', family: 'Amazon DynamoDB PayPerRequest Throughput', attributes: inFrankfurt('EUC1-WriteRequestUnits'), price: 0.00000083, unit: 'WriteRequestUnits' },
    { service: 'AmazonDynamoDB', family: 'Amazon DynamoDB PayPerRequest Throughput', attributes: inFrankfurt('EUC1-ReplWriteRequestUnits'), price: 0.0000012, unit: 'ReplicatedWriteRequestUnits' },
    { service: 'AmazonDynamoDB', family: 'Amazon DynamoDB PayPerRequest Throughput', attributes: inFrankfurt('EUC1-ReadRequestUnits'), price: 0.000000166, unit: 'ReadRequestUnits' },
    { service: 'AmazonDynamoDB', family: 'Database Storage', attributes: inFrankfurt('EUC1-TimedStorage-ByteHrs', { volumeType: 'Amazon DynamoDB - Indexed DataStore' }), price: [[0, 0], [25, 0.33]], unit: 'GB-Mo' },
    { service: 'AmazonDynamoDB', family: 'Database Storage', attributes: inFrankfurt('EUC1-IA-TimedStorage-ByteHrs', { volumeType: 'Amazon DynamoDB - Indexed DataStore - IA' }), price: 0.13, unit: 'GB-Mo' },
    { service: 'AmazonDynamoDB', family: 'Storage Snapshot', attributes: inFrankfurt('EUC1-TimedPITRStorage-ByteHrs'), price: 0.27, unit: 'GB-Mo' },
    { service: 'AmazonSES', family: 'Sending Email', attributes: inFrankfurt('EUC1-Recipients'), price: 0.00011, unit: 'Count' },
    { service: 'AmazonSES', family: 'Sending Email', attributes: inFrankfurt('EUC1-Recipients-EC2'), price: 0, unit: 'Count' },
    { service: 'AmazonECR', family: 'EC2 Container Registry', attributes: inFrankfurt('EUC1-TimedStorage-ByteHrs'), price: 0.11, unit: 'GB-Mo' },
    { service: 'AmazonECR', family: 'EC2 Container Registry', attributes: inFrankfurt('EUC1-DataTransfer-Out-Bytes'), price: 0.09, unit: 'GB' },
    { service: 'AmazonRoute53', family: 'DNS Zone', attributes: { usagetype: 'HostedZone' }, price: [[0, 0.55], [25, 0.11]], unit: 'HostedZone' },
  ];
}

/** The unit price each line should carry with the catalog above (Spot: 70% off, as the shipped table assumes). */
const EXPECTED_UNIT_PRICES: [RegExp, number][] = [
  [/^Aurora Serverless v2/, 0.15],
  [/^Aurora storage/, 0.12],
  [/^Aurora I\/O/, 0.24],
  [/^RDS for PostgreSQL db\.t4g\.micro/, 0.021],
  [/^gp3 storage/, 0.15],
  [/^ElastiCache valkey cache\.t3\.micro/, 0.0164],
  [/^ElastiCache valkey cache\.t4g\.micro/, 0.0155],
  [/^Application Load Balancer/, 0.028],
  [/^load balancer capacity units/, 0.0085],
  [/^public IPv4/, 0.0055],
  [/^Fargate Spot arm64 vCPU/, 0.012],
  [/^Fargate Spot arm64 memory/, 0.00132],
  [/^Fargate Spot x86_64 vCPU/, 0.015],
  [/^Fargate Spot x86_64 memory/, 0.00165],
  [/^secret /, 0.44],
  [/^S3 Standard storage/, 0.0255],
  [/^CloudFront transfer/, 0.09],
  [/^CloudWatch Logs ingestion/, 0.66],
  [/^CloudWatch custom metrics/, 0.3],
  [/^CloudWatch alarms/, 0.1],
  [/^DynamoDB on-demand writes/, 0.83],
  [/^DynamoDB on-demand reads/, 0.166],
  [/^DynamoDB storage/, 0.33],
  [/^DynamoDB point-in-time recovery/, 0.27],
  [/^SES e-mails/, 0.11],
  [/^Route 53 hosted zone/, 0.55],
  [/^ECR image storage/, 0.11],
];

const shippedDate: string = JSON.parse(readFileSync(join(REPO_ROOT, 'src/cost/prices.json'), 'utf8')).date;
const today = () => new Date().toISOString().slice(0, 10);
const awsEnv = (standIn: PriceListStandIn) => ({ AWS_ENDPOINT_URL: standIn.url, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_SESSION_TOKEN: '', AWS_PROFILE: '' });

describe('cost --prices-from-aws: today\'s prices from the Price List Query API (GetProducts, against a stand-in of its documented protocol)', function () {
  this.timeout(60_000);
  let standIn: PriceListStandIn | undefined;
  afterEach(async () => {
    await standIn?.close();
    standIn = undefined;
  });

  async function costJson(args: string[], catalog = frankfurtCatalog(), cwd = REPO_ROOT, pageSize?: number): Promise<Estimate> {
    standIn = await startPriceListStandIn(catalog, { pageSize });
    const result = await runCliAsync(['cost', '--prices-from-aws', '--json', ...args], { cwd, env: awsEnv(standIn) });
    expect(result.stderr).to.equal('');
    expect(result.status).to.equal(0);
    return JSON.parse(result.stdout) as Estimate;
  }

  function expectEveryLinePricedFromAws(estimate: Estimate): void {
    for (const line of estimate.lines) {
      const expected = EXPECTED_UNIT_PRICES.find(([pattern]) => pattern.test(line.item));
      expect(expected, `an expected price for "${line.item}"`).to.not.equal(undefined);
      expect(line.unitPrice, line.item).to.be.closeTo(expected![1], 1e-9);
      expect(line.monthly, line.item).to.equal(Math.round(line.quantity * line.unitPrice! * 100) / 100);
    }
    expect(estimate.total).to.equal(Math.round(estimate.lines.reduce((sum, l) => sum + l.monthly!, 0) * 100) / 100);
  }

  it('prices every line of the reference config with the region\'s on-demand price, not a decoy, a reserved term or another region\'s', async () => {
    const estimate = await costJson(['-c', join(REPO_ROOT, 'mastodon.config.yaml')]);
    expect(estimate.source).to.equal("AWS's Price List API");
    expect(estimate.date).to.equal(today());
    expect(estimate.priceNotes).to.deep.equal([]);
    expect(estimate.incomplete).to.equal(false);
    expectEveryLinePricedFromAws(estimate);
    expect(estimate.lines.map((l) => l.item)).to.include.members(['Aurora Serverless v2 at its minimum capacity', 'ElastiCache valkey cache.t3.micro']);
  });

  it('asks only for the region\'s products (global ones for CloudFront and Route 53) and the prices the templates need, signed for us-east-1, following every page', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'mastodon.config.yaml'), minimalYaml('size: small\ndns: { route53: true }\nprovider:\n  region: eu-central-1\n'));
    const estimate = await costJson([], frankfurtCatalog(), dir, 1);
    expectEveryLinePricedFromAws(estimate);
    const requests = standIn!.requests;
    const asked = (service: string) => requests.filter((r) => r.ServiceCode === service).flatMap((r) => r.Filters!.filter((f) => f.Field === 'usagetype').map((f) => f.Value));
    // size small runs RDS, not Aurora: no Aurora price is asked for.
    expect(asked('AmazonRDS')).to.have.members(['InstanceUsage:db.t4g.micro', 'RDS:GP3-Storage']);
    expect(asked('AmazonDynamoDB')).to.deep.equal([]);
    expect(asked('AmazonRoute53')).to.deep.equal(['HostedZone']);
    expect(estimate.lines.find((l) => l.item.startsWith('Route 53 hosted zone'))!.unitPrice).to.equal(0.55);
    for (const request of requests) {
      expect(request.MaxResults).to.be.within(1, 100);
      const region = request.Filters!.find((f) => f.Field === 'regionCode');
      if (request.ServiceCode === 'AmazonCloudFront' || request.ServiceCode === 'AmazonRoute53') expect(region).to.equal(undefined);
      else expect(region).to.deep.equal({ Type: 'TERM_MATCH', Field: 'regionCode', Value: REGION });
    }
    // Pages of one: LoadBalancerUsage contains in two of the load balancer's products (TS-LoadBalancerUsage), which take two pages.
    expect(requests.filter((r) => r.NextToken).map((r) => r.Filters!.find((f) => f.Field === 'usagetype')!.Value)).to.include('LoadBalancerUsage');
  });

  it('shows a price AWS does not list, or lists twice differently, as unknown with the reason, and the total as "at least"', async () => {
    const catalog = frankfurtCatalog().filter((p) => !p.attributes.usagetype.endsWith('Recipients'));
    catalog.push({ service: 'AWSSecretsManager', family: 'Secret', attributes: inFrankfurt('EUC1-AWSSecretsManager-Secrets'), price: 0.5, unit: 'Secrets' });
    const estimate = await costJson(['-c', join(REPO_ROOT, 'mastodon.config.yaml')], catalog);
    expect(estimate.incomplete).to.equal(true);
    expect(estimate.lines.filter((l) => l.item.startsWith('secret ')).every((l) => l.unitPrice === undefined && l.monthly === undefined)).to.equal(true);
    expect(estimate.lines.find((l) => l.item.startsWith('SES'))!.unitPrice).to.equal(undefined);
    expect(estimate.priceNotes).to.have.members([
      "Secrets Manager secret: AWS's Price List has 2 different prices for AWSSecretsManager-Secrets (0.44, 0.5) in eu-central-1",
      "SES outbound e-mail: AWS's Price List has no on-demand price for Recipients in eu-central-1",
    ]);
    const known = estimate.lines.filter((l) => l.monthly !== undefined);
    expect(estimate.total).to.equal(Math.round(known.reduce((sum, l) => sum + l.monthly!, 0) * 100) / 100);

    const text = await runCliAsync(['cost', '--prices-from-aws', '-c', join(REPO_ROOT, 'mastodon.config.yaml')], { env: awsEnv(standIn!) });
    expect(text.status).to.equal(0);
    expect(text.stdout).to.match(new RegExp(`^Monthly cost estimate in eu-central-1 \\(USD, prices of ${today()} from AWS's Price List API\\):`));
    expect(text.stdout).to.include(`  Total: at least $${estimate.total.toFixed(2)} a month`);
    expect(text.stdout).to.include("Not priced:\n  - Secrets Manager secret: AWS's Price List has 2 different prices");
  });

  it('refused by AWS (no pricing:GetProducts): exit 1, what failed and what to do, and that the shipped table still works', async () => {
    standIn = await startPriceListStandIn(frankfurtCatalog(), { deny: true });
    const result = await runCliAsync(['cost', '--prices-from-aws', '-c', join(REPO_ROOT, 'mastodon.config.yaml')], { env: awsEnv(standIn) });
    expect(result.status).to.equal(1);
    expect(result.stdout).to.equal('');
    expect(result.stderr).to.include('Pricing GetProducts in us-east-1 failed: the credentials in use are not allowed to do this (AccessDeniedException');
    expect(result.stderr).to.include(`Without --prices-from-aws, cost uses the price table shipped with mastodon-cfn (prices of ${shippedDate}).`);
    expect(result.stderr).to.not.match(/\n\s+at /);
  });

  it('has a Price List lookup for every price an estimate line names and every price the shipped table holds', () => {
    const paths = [buildConfig({ file: join(REPO_ROOT, 'mastodon.config.yaml') }), buildConfig({ yaml: minimalYaml('size: small\ndns: { route53: true }\n') })].flatMap(({ estimate }) => estimate.lines.map((l) => l.price));
    const shipped = JSON.parse(readFileSync(join(REPO_ROOT, 'src/cost/prices.json'), 'utf8'));
    for (const region of Object.keys(shipped.regions)) paths.push(...pricePaths(shipped.regions[region]));
    expect(paths.map((path) => path[0])).to.include.members(['route53HostedZoneMonth', 'rdsPostgresInstanceHour', 'auroraServerlessV2AcuHour']);
    for (const path of paths) expect(lookupAt(path, REGION), path.join(' ')).to.not.equal(undefined);
  });

  it('prices a region the shipped table does not have (ca-central-1, CAN1- usage types, viewers on Canadian edges)', async () => {
    const canada: CatalogProduct[] = frankfurtCatalog()
      .filter((p) => p.attributes.regionCode === REGION)
      .map((p) => ({ ...p, attributes: { ...p.attributes, regionCode: 'ca-central-1', location: 'Canada (Central)', usagetype: p.attributes.usagetype.replace(/^EUC1-/, 'CAN1-') } }));
    canada.push({ service: 'AmazonCloudFront', family: 'Data Transfer', attributes: { usagetype: 'CA-DataTransfer-Out-Bytes', fromLocation: 'Canada' }, price: [[0, 0.085]], unit: 'GB' });
    const estimate = await costJson(['-c', join(REPO_ROOT, 'mastodon.config.yaml'), '-r', 'ca-central-1'], canada);
    expect(estimate.region).to.equal('ca-central-1');
    expect(estimate.priced).to.equal(true);
    expect(estimate.priceNotes).to.deep.equal([]);
    expect(estimate.lines.find((l) => l.item.startsWith('CloudFront'))!.unitPrice).to.equal(0.085);
    expect(estimate.lines.find((l) => l.item === 'Application Load Balancer')!.unitPrice).to.equal(0.028);
  });

  it('without the flag, cost asks AWS nothing', async () => {
    standIn = await startPriceListStandIn(frankfurtCatalog());
    const result = await runCliAsync(['cost', '-c', join(REPO_ROOT, 'mastodon.config.yaml')], { env: awsEnv(standIn) });
    expect(result.status).to.equal(0);
    expect(result.stdout).to.include('from the price table shipped with mastodon-cfn');
    expect(standIn.requests).to.deep.equal([]);
  });
});

describe('npm run prices: the shipped table refreshed from the Price List Query API (against the stand-in)', function () {
  this.timeout(60_000);
  const shipped = JSON.parse(readFileSync(join(REPO_ROOT, 'src/cost/prices.json'), 'utf8'));

  async function refresh(catalog: CatalogProduct[], out: string) {
    const standIn = await startPriceListStandIn(catalog);
    try {
      return await runScriptAsync(join(REPO_ROOT, 'scripts/refresh-prices.mjs'), ['--region', REGION, '--out', out], { env: awsEnv(standIn) });
    } finally {
      await standIn.close();
    }
  }

  it('asks again for every price of the region, instance classes and node types included, and writes them with today\'s date', async () => {
    const out = join(tempDir(), 'prices.json');
    const result = await refresh(frankfurtCatalog(), out);
    expect(result.stderr).to.equal('');
    expect(result.status).to.equal(0);
    const written = JSON.parse(readFileSync(out, 'utf8'));
    expect(written.date).to.equal(today());
    const frankfurt = written.regions[REGION];
    // The same keys as before, every one refreshed.
    expect(JSON.stringify(Object.keys(frankfurt))).to.equal(JSON.stringify(Object.keys(shipped.regions[REGION])));
    expect(frankfurt.loadBalancerHour).to.equal(0.028);
    expect(frankfurt.rdsPostgresInstanceHour).to.deep.equal({ 'db.t4g.micro': 0.021, 'db.t4g.small': 0.041 });
    expect(frankfurt.elastiCacheNodeHour.valkey['cache.t4g.small']).to.be.closeTo(0.0164 - 3 * 0.0009, 1e-12);
    expect(frankfurt.fargate).to.deep.equal({ x86_64: { vcpuHour: 0.05, gbHour: 0.0055 }, arm64: { vcpuHour: 0.04, gbHour: 0.0044 } });
    expect(frankfurt.cloudFrontGbBeyondFreeTier).to.equal(0.09);
    expect(frankfurt.dynamoDbWriteMillion).to.equal(0.83);
    // Other regions and the usage assumptions stay as they were.
    expect(written.regions['us-east-1']).to.deep.equal(shipped.regions['us-east-1']);
    expect(written.usage).to.deep.equal(shipped.usage);
    expect(result.stdout).to.include(`eu-central-1 loadBalancerHour: ${shipped.regions[REGION].loadBalancerHour} → 0.028`);
  });

  it('writes nothing when AWS cannot give one of the prices, and lists which', async () => {
    const out = join(tempDir(), 'prices.json');
    const result = await refresh(frankfurtCatalog().filter((p) => !p.attributes.usagetype.includes('PITR')), out);
    expect(result.status).to.equal(1);
    expect(result.stderr).to.equal("Not refreshed, nothing written:\n  - DynamoDB point-in-time recovery: AWS's Price List has no on-demand price for TimedPITRStorage-ByteHrs in eu-central-1\n");
    expect(() => readFileSync(out)).to.throw(/ENOENT/);
  });
});
