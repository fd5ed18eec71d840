import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { layout, type Layout, type Point, type Rect } from '../src/diagram/layout.js';
import { toSvg } from '../src/diagram/render.js';
import { buildConfig, CLI, minimalYaml, referenceYaml, REPO_ROOT, runCli, tempDir } from './support/build.js';

const CHROMIUM = '/usr/bin/chromium';
const reference = () => buildConfig({ file: join(REPO_ROOT, 'mastodon.config.yaml') });

/** Three services, two with a table: more boxes in the compute and data columns than rows of the others. */
const SERVICES = 'services:\n  alpha: { image: a:1, port: 8001, host: a.example.com, table: true }\n  beta: { image: b:1, port: 8002, host: b.example.com }\n  gamma: { image: c:1, port: 8003, host: c.example.com, table: true }\n';
/** A bucket of the escape hatch that refers to the media bucket: an arrow between two boxes of the data column. */
const MIRROR = 'resources:\n  Resources:\n    MirrorBucket:\n      Type: AWS::S3::Bucket\n      Properties:\n        Tags: [{ Key: mirrors, Value: { Ref: MediaBucket } }]\n';

const segmentsOf = (points: Point[]) => points.slice(1).map((to, i) => [points[i], to] as const);
const inside = (value: number, low: number, high: number) => value > low && value < high;
/** Whether an axis-parallel segment has a point strictly inside the rectangle (running along its edge does not count). */
const throughInterior = ([a, b]: readonly [Point, Point], r: Rect) =>
  Math.min(a[0], b[0]) < r.x + r.width && Math.max(a[0], b[0]) > r.x && Math.min(a[1], b[1]) < r.y + r.height && Math.max(a[1], b[1]) > r.y;
const onSegment = ([x, y]: Point, [a, b]: readonly [Point, Point]) =>
  x >= Math.min(a[0], b[0]) && x <= Math.max(a[0], b[0]) && y >= Math.min(a[1], b[1]) && y <= Math.max(a[1], b[1]) && (a[0] === b[0] ? x === a[0] : y === a[1]);
const overlap = (a: Rect, b: Rect) => inside(a.x, b.x - a.width, b.x + b.width) && inside(a.y, b.y - a.height, b.y + b.height);

/** Every way the picture could be hard to read, as sentences (none for a good one). */
function geometryProblems(picture: Layout): string[] {
  const problems: string[] = [];
  const box = new Map(picture.boxes.map((b) => [b.id, b]));
  const labels = picture.routes.filter((r) => r.label).map((r) => ({ ...r.label!, of: `${r.from} -> ${r.to}` }));
  for (const route of picture.routes) {
    const name = `${route.from} -> ${route.to}`;
    const [from, to] = [box.get(route.from)!, box.get(route.to)!];
    const [first, last] = [route.points[0], route.points[route.points.length - 1]];
    if (!((first[0] === from.x || first[0] === from.x + from.width) && inside(first[1], from.y, from.y + from.height))) problems.push(`${name} does not start on a side of ${route.from}`);
    if (!(last[0] === to.x && inside(last[1], to.y, to.y + to.height))) problems.push(`${name} does not end on the left side of ${route.to}`);
    for (const segment of segmentsOf(route.points)) {
      const [a, b] = segment;
      if (a[0] !== b[0] && a[1] !== b[1]) problems.push(`${name} has a slanted segment ${a} to ${b}`);
      for (const other of picture.boxes) if (throughInterior(segment, other)) problems.push(`${name} runs under ${other.id} (${a} to ${b})`);
      for (const label of labels) if (label.of !== name && throughInterior(segment, label)) problems.push(`${name} runs under the label of ${label.of}`);
      for (const other of picture.routes.filter((r) => r !== route)) {
        for (const [c, d] of segmentsOf(other.points)) {
          const level = (p: Point, q: Point) => p[1] === q[1];
          if (level(a, b) !== level(c, d) || (level(a, b) ? a[1] !== c[1] : a[0] !== c[0])) continue;
          const axis = level(a, b) ? 0 : 1;
          if (Math.min(Math.max(a[axis], b[axis]), Math.max(c[axis], d[axis])) > Math.max(Math.min(a[axis], b[axis]), Math.min(c[axis], d[axis]))) problems.push(`${name} shares a stretch with ${other.from} -> ${other.to}`);
        }
      }
    }
    if (route.label) {
      if (!segmentsOf(route.points).some((segment) => onSegment(route.label!.anchor, segment))) problems.push(`the label of ${name} is not on its arrow`);
      const { x, y, width, height, anchor } = route.label;
      if (x + width / 2 !== anchor[0] || y + height / 2 !== anchor[1]) problems.push(`the label of ${name} is not centred on its anchor`);
      for (const other of picture.boxes) if (overlap(route.label, other)) problems.push(`the label of ${name} covers ${other.id}`);
    }
  }
  labels.forEach((a, i) => labels.slice(i + 1).forEach((b) => overlap(a, b) && problems.push(`the labels of ${a.of} and ${b.of} overlap`)));
  return problems;
}

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

  describe('routes every arrow around the boxes, with its label on it', () => {
    const configs: [string, () => ReturnType<typeof buildConfig>][] = [
      ['the reference config', reference],
      ['size small', () => buildConfig({ yaml: minimalYaml('size: small\n') })],
      ['size standard, no services', () => buildConfig({ yaml: minimalYaml() })],
      ['size large, with search and a read replica', () => buildConfig({ yaml: minimalYaml('size: large\nsearch: {}\ndatabase: { readReplica: true }\n') })],
      ['three services', () => buildConfig({ yaml: minimalYaml(SERVICES) })],
      ['size large with three services', () => buildConfig({ yaml: minimalYaml(`size: large\n${SERVICES}`) })],
      ['an arrow within the data column', () => buildConfig({ yaml: minimalYaml(MIRROR) })],
    ];
    for (const [name, built] of configs) {
      it(name, () => {
        const { architecture } = built();
        const picture = layout(architecture);
        expect(picture.routes).to.have.length(architecture.arrows.length);
        expect(picture.routes.filter((r) => r.label).map((r) => r.label!.text)).to.deep.equal(architecture.arrows.filter((a) => a.label).map((a) => a.label));
        expect(geometryProblems(picture)).to.deep.equal([]);
        // The SVG draws exactly these routes.
        const drawn = [...toSvg(architecture).matchAll(/<path class="arrow" data-from="([^"]+)" data-to="([^"]+)" d="M ([^"]+)"/g)].map(([, from, to, d]) => ({ from, to, points: d.split(' L ').map((p) => p.split(' ').map(Number)) }));
        expect(drawn).to.deep.equal(picture.routes.map(({ from, to, points }) => ({ from, to, points })));
      });
    }

    it('the checks above see an arrow under a box, a label off its arrow and labels on each other', () => {
      const picture = layout(reference().architecture);
      const [https, media] = [picture.routes[1], picture.routes[0]];
      const straight = { ...https, points: [https.points[0], [picture.boxes.find((b) => b.id === 'WebService')!.x, https.points[0][1]] as Point] };
      const moved = { ...media, label: { ...media.label!, anchor: [media.label!.anchor[0], media.label!.anchor[1] - 20] as Point, y: media.label!.y - 20 } };
      const stacked = { ...media, label: { ...https.label!, text: 'media' } };
      expect(geometryProblems({ ...picture, routes: [straight] })).to.include('Internet -> LoadBalancer runs under LoadBalancer (' + `${straight.points[0]} to ${straight.points[1]})`);
      expect(geometryProblems({ ...picture, routes: [moved] })).to.include('the label of Internet -> MediaDistribution is not on its arrow');
      expect(geometryProblems({ ...picture, routes: [https, stacked] })).to.include('the labels of Internet -> LoadBalancer and Internet -> MediaDistribution overlap');
    });
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

  describe('on a terminal (under util-linux script, which gives the CLI a real one)', () => {
    const onTerminal = (args: string, cwd: string) => {
      const quoted = [process.execPath, CLI].map((word) => `'${word}'`).join(' ');
      const result = spawnSync('script', ['-qec', `${quoted} ${args}`, '/dev/null'], { cwd, encoding: 'utf8' });
      if (result.error) throw new Error(`script (util-linux) is needed for these tests: ${result.error.message}`);
      return { status: result.status, output: result.stdout.replace(/\r\n/g, '\n') };
    };
    const folder = () => {
      const cwd = tempDir();
      writeFileSync(join(cwd, 'mastodon.config.yaml'), referenceYaml());
      return cwd;
    };

    it('writes the SVG to architecture.svg in the current folder and says so in one line; piped, it prints it', () => {
      const cwd = folder();
      const printed = runCli(['diagram'], { cwd });
      expect(printed.stdout).to.match(/^<svg /);
      expect(onTerminal('diagram', cwd)).to.deep.equal({ status: 0, output: 'Wrote architecture.svg (open it in a browser)\n' });
      expect(readFileSync(join(cwd, 'architecture.svg'), 'utf8')).to.equal(printed.stdout);
      // Its own picture it replaces.
      writeFileSync(join(cwd, 'architecture.svg'), printed.stdout.replace('</svg>', '<!-- older --></svg>'));
      expect(onTerminal('diagram', cwd).status).to.equal(0);
      expect(readFileSync(join(cwd, 'architecture.svg'), 'utf8')).to.equal(printed.stdout);
    });

    it('never replaces an architecture.svg it did not write, and names --out', () => {
      const cwd = folder();
      writeFileSync(join(cwd, 'architecture.svg'), '<svg>my own drawing</svg>\n');
      expect(onTerminal('diagram', cwd)).to.deep.equal({
        status: 1,
        output: 'architecture.svg already exists in this folder and mastodon-cfn did not write it: it is left as it is. Write the picture elsewhere with --out FILE, or print it into a file: mastodon-cfn diagram > FILE.\n',
      });
      expect(readFileSync(join(cwd, 'architecture.svg'), 'utf8')).to.equal('<svg>my own drawing</svg>\n');
    });

    it('prints Mermaid, which is text to paste, and writes no file', () => {
      const cwd = folder();
      const { status, output } = onTerminal('diagram --format mermaid', cwd);
      expect(status).to.equal(0);
      expect(output).to.equal(runCli(['diagram', '--format', 'mermaid'], { cwd }).stdout);
      expect(existsSync(join(cwd, 'architecture.svg'))).to.equal(false);
    });
  });

  describe('in a real headless Chromium', function () {
    /** The texts of the boxes that the browser sets wider or lower than their box. */
    const textOutsideBoxes = async (page: Page) => {
      const boxes = await page.locator('g.box').evaluateAll((groups) =>
        groups.map((group) => {
          // SVGRect objects do not cross into the test: copy their numbers.
          const plain = (r: DOMRect) => ({ x: r.x, y: r.y, width: r.width, height: r.height });
          const texts = [...group.querySelectorAll('text')].map((text) => ({ content: text.textContent, box: plain((text as SVGTextElement).getBBox()) }));
          return { id: group.getAttribute('data-id'), rect: plain((group.querySelector('rect') as SVGRectElement).getBBox()), texts };
        }),
      );
      const outside = boxes.flatMap((box) =>
        box.texts
          .filter((text) => !(text.box.width > 0 && text.box.x + text.box.width <= box.rect.x + box.rect.width && text.box.y + text.box.height <= box.rect.y + box.rect.height))
          .map((text) => `${box.id}: ${text.content}`),
      );
      return { boxes: boxes.length, outside };
    };
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
      expect(await textOutsideBoxes(page)).to.deep.equal({ boxes: 12, outside: [] });
      expect(await page.locator('path.arrow').count()).to.equal(14);
      // Each label as the browser sets it fits the white ground the layout gave it, which covers no box and no other label.
      const labels = await page.locator('g.label').evaluateAll((groups) =>
        groups.map((group) => {
          const plain = (r: DOMRect) => ({ x: r.x, y: r.y, width: r.width, height: r.height });
          return { of: group.getAttribute('data-from'), ground: plain((group.querySelector('rect') as SVGRectElement).getBBox()), text: plain((group.querySelector('text') as SVGTextElement).getBBox()) };
        }),
      );
      expect(labels.map((l) => l.of)).to.deep.equal(['Internet', 'Internet', 'SidekiqAllService', 'MediaCertificate']);
      for (const { of, ground, text } of labels) {
        expect(text.x, of!).to.be.at.least(ground.x);
        expect(text.x + text.width, of!).to.be.at.most(ground.x + ground.width);
      }
      expect(await page.locator('text', { hasText: 'Total: $148.83 a month' }).count()).to.equal(1);
      await page.close();
    });

    it('fits the longest title, size small\'s one Mastodon service, in its box', async () => {
      const file = join(tempDir(), 'small.svg');
      writeFileSync(file, toSvg(buildConfig({ yaml: minimalYaml('size: small\n') }).architecture));
      const page = await browser.newPage();
      await page.goto(`file://${file}`);
      expect(await page.locator('text', { hasText: 'Mastodon web + streaming + sidekiq' }).count()).to.equal(1);
      expect(await textOutsideBoxes(page)).to.deep.equal({ boxes: 9, outside: [] });
      await page.close();
    });
  });
});
