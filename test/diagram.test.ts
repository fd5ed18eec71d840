import { expect } from 'chai';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { buildConfig, minimalYaml, REPO_ROOT, runCli, tempDir } from './support/build.js';

const CHROMIUM = '/usr/bin/chromium';
const reference = () => buildConfig({ file: join(REPO_ROOT, 'mastodon.config.yaml') });

describe('diagram: the architecture drawn from the compiled templates', () => {
  it('draws internet → CloudFront and the load balancer → tasks → database, cache, bucket, the us-east-1 certificate and the side service', () => {
    const { architecture } = reference();
    expect(architecture.boxes.map((b) => `${b.tier} ${b.id} ${b.title}`)).to.deep.equal([
      'internet Internet Internet',
      'internet MediaCertificate Certificate',
      'data DatabaseCluster Aurora PostgreSQL',
      'data Cache Valkey',
      'edge LoadBalancer Load balancer',
      'compute WebService Mastodon web + streaming',
      'compute SidekiqAllService Mastodon sidekiq (all queues)',
      'data MediaBucket S3 bucket',
      'edge MediaDistribution CloudFront',
      'data MailIdentity SES',
      'compute ServicePostblogService Service postblog',
      'data ServicePostblogTable DynamoDB',
    ]);
    expect(architecture.boxes.find((b) => b.id === 'MediaCertificate')).to.deep.include({ region: 'us-east-1', stack: 'social-prod-certificates' });
    expect(architecture.arrows.map((a) => `${a.from} -> ${a.to}`)).to.deep.equal([
      'Internet -> MediaDistribution',
      'Internet -> LoadBalancer',
      'LoadBalancer -> WebService',
      'WebService -> Cache',
      'WebService -> DatabaseCluster',
      'WebService -> MediaBucket',
      // Sidekiq sends the e-mails (the mailers queue).
      'SidekiqAllService -> Cache',
      'SidekiqAllService -> DatabaseCluster',
      'SidekiqAllService -> MediaBucket',
      'SidekiqAllService -> MailIdentity',
      'MediaDistribution -> MediaBucket',
      'LoadBalancer -> ServicePostblogService',
      'ServicePostblogService -> ServicePostblogTable',
      'MediaCertificate -> MediaDistribution',
    ]);
  });

  it('puts the monthly cost of each box on it, and what is not a box in a footnote: together they are the estimate', () => {
    const { architecture, estimate } = reference();
    const sumOf = (resource: string) => Math.round(estimate.lines.filter((l) => l.resource === resource).reduce((sum, l) => sum + l.monthly!, 0) * 100) / 100;
    for (const box of architecture.boxes.filter((b) => b.id !== 'Internet' && b.id !== 'MediaCertificate')) expect(box.monthly, box.id).to.equal(sumOf(box.id));
    expect(architecture.other).to.deep.equal([
      { label: 'images', monthly: 0.1 },
      { label: 'logs', monthly: 3.78 },
      // The queue-latency metrics, within CloudWatch's free tier.
      { label: 'monitoring', monthly: 0 },
      { label: 'secrets', monthly: 2.4 },
    ]);
    const drawn = [...architecture.boxes.map((b) => b.monthly ?? 0), ...architecture.other.map((o) => o.monthly)].reduce((a, b) => a + b, 0);
    expect(Math.round(drawn * 100) / 100).to.equal(estimate.total);
    expect(architecture.total).to.equal(`$148.83 a month (eu-central-1 prices of ${estimate.date})`);
  });

  it('draws size small with its PostgreSQL instance', () => {
    const { architecture } = buildConfig({ yaml: minimalYaml('size: small\n') });
    expect(architecture.boxes.find((b) => b.id === 'PostgresInstance')).to.deep.include({ title: 'PostgreSQL', details: ['RDS db.t4g.micro', '20 GB gp3'] });
    expect(architecture.arrows).to.deep.include({ from: 'MastodonService', to: 'PostgresInstance' });
    expect(architecture.boxes.find((b) => b.id === 'MastodonService')).to.deep.include({ title: 'Mastodon web + streaming + sidekiq', details: ['1 × 0.5 vCPU, 2 GB', 'Spot'] });
  });

  it("draws the services size large creates, each with its count or autoscaling range and where it runs", () => {
    const { architecture } = buildConfig({ yaml: minimalYaml('size: large\n') });
    const compute = architecture.boxes.filter((b) => b.tier === 'compute').map((b) => [b.id, b.title, ...b.details]);
    expect(compute).to.deep.equal([
      ['WebService', 'Mastodon web', '2 to 6 × 2 vCPU, 4 GB', 'autoscaled; 1 on-demand, rest Spot'],
      ['StreamingService', 'Mastodon streaming', '2 to 4 × 0.5 vCPU, 1 GB', 'autoscaled; 1 on-demand, rest Spot'],
      ['SidekiqSchedulerService', 'Mastodon sidekiq (scheduler)', '1 × 0.5 vCPU, 1 GB', 'Spot'],
      ['SidekiqMainService', 'Mastodon sidekiq (main)', '1 to 4 × 1 vCPU, 2 GB', 'autoscaled; 1 on-demand, rest Spot'],
    ]);
    expect(architecture.arrows).to.deep.include.members([
      { from: 'LoadBalancer', to: 'WebService' },
      { from: 'LoadBalancer', to: 'StreamingService' },
      { from: 'SidekiqMainService', to: 'MailIdentity', label: 'SMTP' },
    ]);
    expect(architecture.arrows).to.not.deep.include({ from: 'StreamingService', to: 'MailIdentity', label: 'SMTP' });
  });

  it('is the same, byte for byte, for the same config; build writes it as architecture.svg beside the templates', () => {
    const first = join(tempDir(), 'out');
    const second = join(tempDir(), 'out');
    expect(runCli(['build', '--out', first]).status).to.equal(0);
    expect(runCli(['build', '--out', second]).status).to.equal(0);
    expect(readFileSync(join(first, 'architecture.svg'), 'utf8')).to.equal(readFileSync(join(second, 'architecture.svg'), 'utf8'));
    const printed = runCli(['diagram']);
    expect(printed.stdout).to.equal(readFileSync(join(first, 'architecture.svg'), 'utf8'));
  });

  it('diagram --format mermaid gives the same boxes and arrows as a Mermaid flowchart', () => {
    const result = runCli(['diagram', '--format', 'mermaid']);
    expect(result.status, result.stderr).to.equal(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[1]).to.equal('flowchart LR');
    expect(lines).to.include('  DatabaseCluster["Aurora PostgreSQL<br/>Serverless v2, 0.5 to 1 ACU<br/>$55.50 a month"]');
    expect(lines).to.include('  Internet -->|HTTPS| LoadBalancer');
    expect(lines.filter((l) => l.includes('-->'))).to.have.length(14);
  });

  it('diagram --out replaces a picture it drew, and never a file it did not write', () => {
    const directory = tempDir();
    const mine = join(directory, 'arch.svg');
    expect(runCli(['diagram', '--out', mine]).status).to.equal(0);
    expect(runCli(['diagram', '--out', mine, '--format', 'mermaid']).status).to.equal(0);
    expect(readFileSync(mine, 'utf8')).to.match(/flowchart LR/);
    const theirs = join(directory, 'notes.md');
    writeFileSync(theirs, '# my notes\n');
    const refused = runCli(['diagram', '--out', theirs]);
    expect(refused.status).to.equal(1);
    expect(refused.stderr.trim()).to.equal(`${theirs} already exists and mastodon-cfn did not write it: it is left as it is. Choose another file, or move that one away.`);
    expect(readFileSync(theirs, 'utf8')).to.equal('# my notes\n');
  });

  describe('in a real headless Chromium', function () {
    let browser: Browser;
    before(async () => {
      if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (.ci/run does)`);
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
    });
    after(async () => browser?.close());

    it('renders every box with its text inside it, asks for nothing from the network and runs no script', async () => {
      const out = join(tempDir(), 'out');
      expect(runCli(['build', '--out', out]).status).to.equal(0);
      const file = join(out, 'architecture.svg');
      const page = await browser.newPage();
      const requests: string[] = [];
      page.on('request', (request) => requests.push(request.url()));
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(`file://${file}`);
      expect(requests).to.deep.equal([`file://${file}`]);
      expect(errors).to.deep.equal([]);
      expect(await page.locator('script').count()).to.equal(0);
      const boxes = await page.locator('g.box').evaluateAll((groups) =>
        groups.map((group) => {
          // SVGRect objects do not cross into the test: copy their numbers.
          const plain = (r: DOMRect) => ({ x: r.x, y: r.y, width: r.width, height: r.height });
          const texts = [...group.querySelectorAll('text')].map((text) => ({ content: text.textContent, box: plain((text as SVGTextElement).getBBox()) }));
          return { id: group.getAttribute('data-id'), rect: plain((group.querySelector('rect') as SVGRectElement).getBBox()), texts };
        }),
      );
      expect(boxes).to.have.length(12);
      for (const box of boxes) {
        expect(box.rect.width, box.id!).to.be.above(0);
        for (const text of box.texts) {
          expect(text.box.width, `${box.id}: ${text.content}`).to.be.above(0);
          expect(text.box.x + text.box.width, `${box.id}: "${text.content}" fits in its box`).to.be.at.most(box.rect.x + box.rect.width);
          expect(text.box.y + text.box.height, `${box.id}: "${text.content}" fits in its box`).to.be.at.most(box.rect.y + box.rect.height);
        }
      }
      expect(await page.locator('path.arrow').count()).to.equal(14);
      expect(await page.locator('text', { hasText: 'Total: $148.83 a month' }).count()).to.equal(1);
      await page.close();
    });
  });
});
