import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatEstimate, type CostLine, type Estimate } from '../src/cost/estimate.js';
import { buildConfig, minimalYaml, referenceYaml, REPO_ROOT, runCli, tempDir } from './support/build.js';

/** The table as shipped, read as a user would: the hand computations below use nothing else. */
const table = JSON.parse(readFileSync(join(REPO_ROOT, 'src/cost/prices.json'), 'utf8'));
const frankfurt = table.regions['eu-central-1'];
const HOURS = 730;
const SPOT = 1 - 0.7;
const cents = (value: number) => Math.round(value * 100) / 100;
/** The totals the hand computations below come to, in eu-central-1: the README's table says the same. */
const TOTALS = { reference: 148.83, small: 67.37, large: 554.69 };

function monthly(estimate: Estimate, resource: string, itemStart: string): number | undefined {
  const found = estimate.lines.filter((l: CostLine) => l.resource === resource && l.item.startsWith(itemStart));
  if (found.length !== 1) throw new Error(`${found.length} lines for ${resource} "${itemStart}": ${estimate.lines.map((l) => `${l.resource} ${l.item}`).join('; ')}`);
  return found[0].monthly;
}

describe('cost: a monthly estimate from the compiled templates and the dated price table', () => {
  it('prices the reference config in eu-central-1 line by line, to the cent, as computed by hand from the table', () => {
    const { estimate } = buildConfig({ file: join(REPO_ROOT, 'mastodon.config.yaml') });
    const expected: [string, string, number][] = [
      ['DatabaseCluster', 'Aurora Serverless v2', cents(0.5 * HOURS * 0.14)],
      ['DatabaseCluster', 'Aurora storage', cents(20 * 0.11)],
      ['DatabaseCluster', 'Aurora I/O', cents(10 * 0.22)],
      ['Cache', 'ElastiCache valkey cache.t3.micro', cents(HOURS * 0.019 * 0.8)],
      ['LoadBalancer', 'Application Load Balancer', cents(HOURS * 0.027)],
      ['LoadBalancer', 'load balancer capacity units', cents(0.5 * HOURS * 0.008)],
      ['LoadBalancer', 'public IPv4 addresses', cents(2 * HOURS * 0.005)],
      // Size standard: two 1 vCPU / 2 GB web tasks (web and streaming), one 0.5 vCPU / 1 GB Sidekiq task, all on Spot as the config asks.
      ['WebService', 'Fargate Spot arm64 vCPU', cents(2 * 1 * HOURS * 0.03725 * SPOT)],
      ['WebService', 'Fargate Spot arm64 memory', cents(2 * 2 * HOURS * 0.00409 * SPOT)],
      ['WebService', 'public IPv4 address', cents(2 * HOURS * 0.005)],
      ['SidekiqAllService', 'Fargate Spot arm64 vCPU', cents(0.5 * HOURS * 0.03725 * SPOT)],
      ['SidekiqAllService', 'Fargate Spot arm64 memory', cents(1 * HOURS * 0.00409 * SPOT)],
      ['SidekiqAllService', 'public IPv4 address', cents(HOURS * 0.005)],
      ['ServicePostblogService', 'Fargate Spot x86_64 vCPU', cents(0.25 * HOURS * 0.04656 * SPOT)],
      ['ServicePostblogService', 'Fargate Spot x86_64 memory', cents(0.5 * HOURS * 0.00511 * SPOT)],
      ['ServicePostblogService', 'public IPv4 address', cents(HOURS * 0.005)],
      ['MediaBucket', 'S3 Standard storage', cents((30 + 14 * 5) * 0.0245)],
      ['MediaDistribution', 'CloudFront transfer', 0],
      ['MastodonLogGroup', 'CloudWatch Logs ingestion', cents(3 * 0.63)],
      ['ServicePostblogLogGroup', 'CloudWatch Logs ingestion', cents(3 * 0.63)],
      ['ServicePostblogTable', 'DynamoDB on-demand writes', cents(0.1 * 0.7625)],
      ['ServicePostblogTable', 'DynamoDB on-demand reads', cents(1 * 0.1525)],
      ['ServicePostblogTable', 'DynamoDB storage', cents(1 * 0.306)],
      ['ServicePostblogTable', 'DynamoDB point-in-time recovery', cents(1 * 0.2448)],
      ['MailIdentity', 'SES e-mails', cents(2 * 0.1)],
      ['ServicePostblogRepository', 'ECR image storage', cents(1 * 0.1)],
      // 7 queues of v4.5.2 and the one group serving them all: within CloudWatch's free 10.
      ['QueueLatencyMetrics', 'CloudWatch custom metrics', 0],
      ...['DatabaseCredentials', 'CacheAuthToken', 'SmtpCredentials', 'MastodonSecrets', 'CacheConnection', 'ServicePostblogMastodonToken'].map((id): [string, string, number] => [id, 'secret', 0.4]),
    ];
    // The table says what the hand computation assumed: the prices, and the usage of size standard.
    expect(table.usage.standard).to.deep.include({ loadBalancerCapacityUnits: 0.5, localMediaGb: 30, remoteMediaGbPerDay: 5, cloudFrontGbOut: 200, auroraStorageGb: 20, auroraIoMillions: 10, logsIngestedGb: 3, emailsPerMonth: 2000 });
    expect([frankfurt.auroraServerlessV2AcuHour, frankfurt.loadBalancerHour, frankfurt.fargate.arm64.vcpuHour, frankfurt.elastiCacheNodeHour.valkey['cache.t3.micro'], table.fargateSpotDiscount]).to.deep.equal([0.14, 0.027, 0.03725, 0.0152, 0.7]);
    for (const [resource, item, value] of expected) expect(monthly(estimate, resource, item), `${resource} ${item}`).to.equal(value);
    expect(estimate.lines).to.have.length(expected.length);
    expect(estimate.total).to.equal(cents(expected.reduce((sum, [, , value]) => sum + value, 0)));
    expect(estimate.total).to.equal(TOTALS.reference);
    expect([estimate.region, estimate.date, estimate.incomplete]).to.deep.equal(['eu-central-1', table.date, false]);
  });

  it('prices size small in eu-central-1: RDS db.t4g.micro with gp3, cache.t4g.micro valkey, a 0.5 vCPU / 2 GB ARM Spot task', () => {
    const { estimate } = buildConfig({ yaml: minimalYaml('provider: { region: eu-central-1 }\nsize: small\n') });
    const expected: [string, string, number][] = [
      ['PostgresInstance', 'RDS for PostgreSQL db.t4g.micro, single-AZ', cents(HOURS * 0.019)],
      ['PostgresInstance', 'gp3 storage', cents(20 * 0.137)],
      ['Cache', 'ElastiCache valkey cache.t4g.micro', cents(HOURS * 0.018 * 0.8)],
      ['LoadBalancer', 'Application Load Balancer', cents(HOURS * 0.027)],
      ['LoadBalancer', 'load balancer capacity units', cents(0.1 * HOURS * 0.008)],
      ['LoadBalancer', 'public IPv4 addresses', cents(2 * HOURS * 0.005)],
      ['MastodonService', 'Fargate Spot arm64 vCPU', cents(0.5 * HOURS * 0.03725 * SPOT)],
      ['MastodonService', 'Fargate Spot arm64 memory', cents(2 * HOURS * 0.00409 * SPOT)],
      ['MastodonService', 'public IPv4 address', cents(HOURS * 0.005)],
      ['MediaBucket', 'S3 Standard storage', cents((6 + 14 * 1) * 0.0245)],
      ['MediaDistribution', 'CloudFront transfer', 0],
      ['MastodonLogGroup', 'CloudWatch Logs ingestion', cents(1 * 0.63)],
      ['MailIdentity', 'SES e-mails', cents(0.2 * 0.1)],
      ['QueueLatencyMetrics', 'CloudWatch custom metrics', 0],
      ...['DatabaseCredentials', 'CacheAuthToken', 'SmtpCredentials', 'MastodonSecrets', 'CacheConnection'].map((id): [string, string, number] => [id, 'secret', 0.4]),
    ];
    expect([frankfurt.rdsPostgresInstanceHour['db.t4g.micro'], frankfurt.rdsGp3GbMonth, frankfurt.elastiCacheNodeHour.valkey['cache.t4g.micro']]).to.deep.equal([0.019, 0.137, 0.0144]);
    for (const [resource, item, value] of expected) expect(monthly(estimate, resource, item), `${resource} ${item}`).to.equal(value);
    expect(estimate.lines).to.have.length(expected.length);
    expect(estimate.total).to.equal(cents(expected.reduce((sum, [, , value]) => sum + value, 0)));
    expect(estimate.total).to.equal(TOTALS.small);
  });

  it('prices size large in eu-central-1: autoscaled services at their minimum, one web and one streaming task on on-demand, the usage of a large instance', () => {
    const { estimate } = buildConfig({ yaml: minimalYaml('provider: { region: eu-central-1 }\nsize: large\n') });
    const fargate = (id: string, kind: 'on-demand' | 'Spot', tasks: number, vcpu: number, gb: number): [string, string, number][] => {
      const discount = kind === 'Spot' ? SPOT : 1;
      return [
        [id, `Fargate ${kind} arm64 vCPU`, cents(tasks * vcpu * HOURS * Number((0.03725 * discount).toFixed(8)))],
        [id, `Fargate ${kind} arm64 memory`, cents(tasks * gb * HOURS * Number((0.00409 * discount).toFixed(8)))],
      ];
    };
    const expected: [string, string, number][] = [
      ['DatabaseCluster', 'Aurora Serverless v2', cents(0.5 * HOURS * 0.14)],
      ['DatabaseCluster', 'Aurora storage', cents(100 * 0.11)],
      ['DatabaseCluster', 'Aurora I/O', cents(200 * 0.22)],
      ['Cache', 'ElastiCache valkey cache.t4g.small', cents(HOURS * 0.0288)],
      ['LoadBalancer', 'Application Load Balancer', cents(HOURS * 0.027)],
      ['LoadBalancer', 'load balancer capacity units', cents(4 * HOURS * 0.008)],
      ['LoadBalancer', 'public IPv4 addresses', cents(2 * HOURS * 0.005)],
      // web: 2 tasks of 2 vCPU / 4 GB (autoscaled 2 to 6), one on on-demand; streaming: 2 of 0.5 vCPU / 1 GB, one on on-demand.
      ...fargate('WebService', 'on-demand', 1, 2, 4),
      ...fargate('WebService', 'Spot', 1, 2, 4),
      ['WebService', 'public IPv4 address', cents(2 * HOURS * 0.005)],
      ...fargate('StreamingService', 'on-demand', 1, 0.5, 1),
      ...fargate('StreamingService', 'Spot', 1, 0.5, 1),
      ['StreamingService', 'public IPv4 address', cents(2 * HOURS * 0.005)],
      // Sidekiq: the scheduler's one task of 0.5 vCPU / 1 GB, and the other queues' (autoscaled from 1 to 4) of 1 vCPU / 2 GB, on Spot.
      ...fargate('SidekiqSchedulerService', 'Spot', 1, 0.5, 1),
      ['SidekiqSchedulerService', 'public IPv4 address', cents(HOURS * 0.005)],
      // main keeps one task on on-demand Fargate: push, ingress and pull delivery never stop with a Spot interruption.
      ...fargate('SidekiqMainService', 'on-demand', 1, 1, 2),
      ['SidekiqMainService', 'public IPv4 address', cents(HOURS * 0.005)],
      ['MediaBucket', 'S3 Standard storage', cents((300 + 14 * 50) * 0.0245)],
      ['MediaDistribution', 'CloudFront transfer', cents((3000 - 1024) * 0.085)],
      ['MastodonLogGroup', 'CloudWatch Logs ingestion', cents(20 * 0.63)],
      ['MailIdentity', 'SES e-mails', cents(20 * 0.1)],
      // 7 queues and 2 groups, each with its latency and its processes: one metric beyond the free 10. 2 alarms for each
      // target-tracking policy (web, streaming) and Sidekiq's 2: within the free 10.
      ['QueueLatencyMetrics', 'CloudWatch custom metrics', 0.3],
      ['Alarms', 'CloudWatch alarm metrics', 0],
      ...['DatabaseCredentials', 'CacheAuthToken', 'SmtpCredentials', 'MastodonSecrets', 'CacheConnection'].map((id): [string, string, number] => [id, 'secret', 0.4]),
    ];
    expect(table.usage.large).to.deep.include({ loadBalancerCapacityUnits: 4, localMediaGb: 300, remoteMediaGbPerDay: 50, cloudFrontGbOut: 3000, auroraStorageGb: 100, auroraIoMillions: 200, logsIngestedGb: 20, emailsPerMonth: 20000 });
    for (const [resource, item, value] of expected) expect(monthly(estimate, resource, item), `${resource} ${item}`).to.equal(value);
    expect(estimate.lines).to.have.length(expected.length);
    expect(estimate.total).to.equal(cents(expected.reduce((sum, [, , value]) => sum + value, 0)));
    expect(estimate.total).to.equal(TOTALS.large);
    expect(monthly(estimate, 'WebService', 'Fargate on-demand arm64 vCPU')).to.be.greaterThan(0);
    expect(estimate.lines.find((l) => l.resource === 'WebService')!.item).to.include('its autoscaling minimum (up to 6)');
    expect(estimate.assumptions).to.include('autoscaled services at their minimum count, Aurora at its minimum capacity: a busy hour costs more');
  });

  it('prices the bucket as local media plus the remote media mastodon.retention keeps: 14 days by default, a growing year when kept forever', () => {
    const bucket = (retention: string) => {
      const { estimate } = buildConfig({ yaml: minimalYaml(`provider: { region: eu-central-1 }\n${retention}`) });
      return { monthly: monthly(estimate, 'MediaBucket', 'S3 Standard storage'), assumption: estimate.assumptions.find((a) => a.startsWith('media:')) };
    };
    const { localMediaGb, remoteMediaGbPerDay } = table.usage.standard;
    expect(bucket('')).to.deep.equal({ monthly: cents((localMediaGb + 14 * remoteMediaGbPerDay) * 0.0245), assumption: `media: ${localMediaGb + 14 * remoteMediaGbPerDay} GB in S3 (${localMediaGb} GB of local media and ${remoteMediaGbPerDay} GB a day of remote media, kept 14 days), 200 GB a month through CloudFront; logs: 3 GB ingested per log group` });
    expect(bucket('mastodon: { retention: { mediaCacheDays: 60 } }\n').monthly).to.equal(cents((localMediaGb + 60 * remoteMediaGbPerDay) * 0.0245));
    const forever = bucket('mastodon: { retention: { mediaCacheDays: 0 } }\n');
    expect(forever.monthly).to.equal(cents((localMediaGb + 365 * remoteMediaGbPerDay) * 0.0245));
    expect(forever.assumption).to.include(`kept forever: a year's worth, growing by ${30 * remoteMediaGbPerDay} GB a month`);
    // Longer than a year is priced as forever is: never more than keeping it forever.
    expect(bucket('mastodon: { retention: { mediaCacheDays: 1000 } }\n').monthly).to.equal(forever.monthly);
    expect(bucket('mastodon: { retention: { mediaCacheDays: 1 } }\n').assumption).to.include('remote media, kept 1 day)');
  });

  it('names the quantity, the unit price and the amount of every line, then the total with its date and the assumptions', () => {
    const { estimate } = buildConfig({ file: join(REPO_ROOT, 'mastodon.config.yaml') });
    const text = formatEstimate(estimate);
    const lines = text.split('\n');
    expect(lines[0]).to.equal(`Monthly cost estimate in eu-central-1 (USD, prices of ${table.date} from the price table shipped with mastodon-cfn):`);
    expect(lines).to.include.members([`  Total: $${TOTALS.reference.toFixed(2)} a month (estimate, eu-central-1 prices of ${table.date})`, 'Assumptions:']);
    for (const [i, l] of estimate.lines.entries()) {
      const row = lines[i + 1];
      expect(row, l.item).to.include(l.item);
      expect(row, l.item).to.match(new RegExp(`\\s+\\$${l.monthly!.toFixed(2)}$`));
    }
    // One of a unit reads in the singular, except in millions; a unit price shows its cents and every further digit it has.
    expect(text).to.match(/secret DatabaseCredentials\s+1 secret-month\s+× \$0\.40\s+\$0\.40\n/);
    expect(text).to.match(/Aurora I\/O \(assumed\)\s+10 million requests\s+× \$0\.22\s+\$2\.20\n/);
    expect(text).to.match(/DynamoDB on-demand reads \(assumed\)\s+1 million read units\s+× \$0\.1525\s+\$0\.15\n/);
    expect(text).to.match(/Fargate Spot arm64 vCPU \(2 tasks of WebService, 1 vCPU each\)\s+1460 vCPU-hours\s+× \$0\.011175\*\s+\$16\.32\n/);
    // Spot's price is derived from on-demand's, and Valkey's (in the shipped table) from Redis OSS's: both marked, with how.
    expect(text).to.match(/ElastiCache valkey cache\.t3\.micro\s+730 node-hours\s+× \$0\.0152\*\s+\$11\.10\n/);
    expect(lines).to.include.members(['  * derived, not read from AWS\'s prices: 70% below on-demand Fargate (Spot has no fixed price)', `  * derived, not read from AWS's prices: ${table.derived['elastiCacheNodeHour.valkey']}`]);
    expect(text).to.match(/Application Load Balancer\s+730 hours\s+× \$0\.027\s+\$19\.71\n/);
    expect(text).to.include(`usage of size standard: ${table.usage.standard.why}`);
    expect(text).to.match(/DynamoDB storage \(assumed\)\s+1 GB-month\s+× \$0\.306\s+\$0\.31\n/);
    expect(text).to.match(/SES e-mails \(assumed 2000\)\s+2 thousand e-mails\s+× \$0\.10\s+\$0\.20\n/);
    expect(text).to.include('Fargate Spot has no fixed price; AWS advertises up to 70% off on-demand, which the estimate assumes');
  });

  it('a region the table lacks: every price unknown, never guessed, and the build still works', () => {
    const yaml = minimalYaml('provider: { region: sa-east-1 }\n');
    const { estimate } = buildConfig({ yaml });
    expect(estimate.priced).to.equal(false);
    expect(estimate.lines.every((l) => l.unitPrice === undefined && l.monthly === undefined)).to.equal(true);
    const file = join(tempDir(), 'mastodon.config.yaml');
    writeFileSync(file, yaml);
    const built = runCli(['build', '--config', file, '--out', join(tempDir(), 'out')]);
    expect(built.status, built.stderr).to.equal(0);
    expect(built.stdout).to.include(`Estimated cost: unknown: the price table of ${table.date} has no prices for sa-east-1`);
    const cost = runCli(['cost', '--config', file]);
    expect(cost.status).to.equal(0);
    expect(cost.stdout).to.match(/secret DatabaseCredentials\s+1 secret-month\s+unknown\s+unknown\n/);
  });

  it("the README's table of each size's figures is what the estimate says, with the table's date", () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    expect(readme).to.include(`Estimates with the prices of ${table.date}`);
    const reference = referenceYaml();
    // The reference config made small or large: its Aurora capacities and cache node go, the size decides them.
    const resized = (size: string) =>
      reference
        .replace(/^domain: /m, `size: ${size}\ndomain: `)
        .replace(/^database:\n(  .*\n)+/m, '')
        .replace(/^cache:\n(  .*\n)+/m, '');
    const rows: [string, string][] = [
      ['the reference config (with the postblog service), size standard', reference],
      ['the reference config, size small (its `database` and `cache` lines removed: the size decides them)', resized('small')],
      ['the reference config, size large (the same)', resized('large')],
      ['only `service` and `domain` (no side service), size standard', minimalYaml()],
      ['only `service` and `domain`, size small', minimalYaml('size: small\n')],
      ['only `service` and `domain`, size large', minimalYaml('size: large\n')],
      ['only `service` and `domain` with `alerts: { email: … }`, size standard (14 alarm metrics, 10 free)', minimalYaml('alerts: { email: ops@example.com }\n')],
      ['only `service` and `domain` with `alerts: { email: … }`, size small', minimalYaml('size: small\nalerts: { email: ops@example.com }\n')],
    ];
    for (const [label, yaml] of rows) {
      const row = readme.split('\n').find((line) => line.startsWith(`| ${label} |`));
      expect(row, label).to.be.a('string');
      const [frankfurtTotal, virginiaTotal] = row!.split('|').slice(2, 4).map((cell) => cell.trim());
      expect(frankfurtTotal, `${label} in eu-central-1`).to.equal(`$${buildConfig({ yaml }, { region: 'eu-central-1' }).estimate.total.toFixed(2)}`);
      expect(virginiaTotal, `${label} in us-east-1`).to.equal(`$${buildConfig({ yaml }, { region: 'us-east-1' }).estimate.total.toFixed(2)}`);
    }
  });

  it('cost --size small is a usage error (size is the config\'s), not a size silently left out', () => {
    const result = runCli(['cost', '--size', 'small']);
    expect(result.status).to.equal(2);
    expect(result.stderr).to.include("unknown option '--size'");
    expect(result.stdout).to.equal('');
  });

  it('cost --json gives the lines as data, each with where its price is in the table; build prints the total', () => {
    const json = runCli(['cost', '--json']);
    expect(json.status, json.stderr).to.equal(0);
    const parsed = JSON.parse(json.stdout) as Estimate;
    expect(parsed.total).to.equal(TOTALS.reference);
    expect(parsed.lines.find((l) => l.resource === 'Cache')).to.deep.equal({ resource: 'Cache', component: 'cache', item: 'ElastiCache valkey cache.t3.micro', quantity: 730, unit: 'node-hours', price: ['elastiCacheNodeHour', 'valkey', 'cache.t3.micro'], unitPrice: 0.0152, monthly: 11.1, derived: table.derived['elastiCacheNodeHour.valkey'] });
    const built = runCli(['build', '--out', join(tempDir(), 'out')]);
    expect(built.stdout).to.include(`Estimated cost: $${TOTALS.reference.toFixed(2)} a month (estimate, eu-central-1 prices of ${table.date}) (mastodon-cfn cost itemises it)`);
  });
});
