import { spawn, type ChildProcess } from 'node:child_process';
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { QUEUE_LATENCY, QUEUE_LATENCY_VARIABLES, queueLatencyScript } from '../src/mastodon/queueLatency.js';
import { runProcess, tempDir } from './support/build.js';
import { freePort } from './support/moto.js';

/** A real Redis on a free loopback port, for as long as the tests of this file run. */
function useRedis(): { url: () => string } {
  let server: ChildProcess | undefined;
  let port = 0;
  before(async function () {
    this.timeout(20_000);
    port = await freePort();
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      if ((await runProcess('redis-cli', ['-p', String(port), 'ping'], { env: { PATH: process.env.PATH } })).stdout.trim() === 'PONG') return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error('redis-server did not start (Debian package redis-server)');
  });
  after(() => server?.kill());
  return { url: () => `redis://127.0.0.1:${port}/0` };
}

/** Starts the reporter with Debian's Sidekiq, as the Mastodon image runs it with its bundle's; the lines it prints as they come. */
function startReporter(env: Record<string, string>) {
  const child = spawn('ruby', ['-e', queueLatencyScript()], { env: { PATH: process.env.PATH, HOME: process.env.HOME, [QUEUE_LATENCY_VARIABLES.stack]: 'social-prod', [QUEUE_LATENCY_VARIABLES.interval]: '1', ...env } });
  const out: string[] = [];
  const err: string[] = [];
  child.stdout.on('data', (chunk) => out.push(...String(chunk).split('\n').filter(Boolean)));
  child.stderr.on('data', (chunk) => err.push(...String(chunk).split('\n').filter(Boolean)));
  const until = async (done: () => boolean, seconds = 10) => {
    for (let i = 0; i < seconds * 10 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 100));
  };
  const stop = async () => {
    const started = Date.now();
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    return { code: await exited, seconds: (Date.now() - started) / 1000 };
  };
  return { out, err, until, stop, child };
}

describe('the queue-latency reporter against real Sidekiq and Redis', function () {
  this.timeout(60_000);
  const redis = useRedis();

  it("prints each queue's and each group's latency, from Sidekiq's own API, as CloudWatch embedded-metric-format lines, every interval", async () => {
    const now = Date.now() / 1000;
    // Sidekiq pushes new jobs on the left: the oldest waits at the right end, and the latency is its age.
    for (const [queue, age] of [['push', 100], ['push', 10], ['ingress', 42]] as const) {
      const job = JSON.stringify({ class: 'ActivityPub::DeliveryWorker', args: [], jid: `${queue}${age}`, queue, enqueued_at: now - age, created_at: now - age });
      await runProcess('redis-cli', ['-u', redis.url(), 'lpush', `queue:${queue}`, job], { env: { PATH: process.env.PATH } });
    }
    const reporter = startReporter({ REDIS_URL: redis.url(), [QUEUE_LATENCY_VARIABLES.groups]: JSON.stringify({ main: ['default', 'push'], scheduler: ['scheduler', 'ingress'] }) });
    // Two rounds of 4 queues and 2 groups (latency and processes).
    await reporter.until(() => reporter.out.length >= 16);
    const { code, seconds } = await reporter.stop();
    expect(reporter.err, reporter.err.join('\n')).to.deep.equal([]);
    expect(code).to.equal(0);
    // TERM stops it at once, not at the end of its sleep (ECS would wait 30 s, then kill it).
    expect(seconds).to.be.below(2);
    const lines = reporter.out.slice(0, 8).map((line) => JSON.parse(line)).filter((line) => !(QUEUE_LATENCY.processMetric in line));
    const value = (dimension: string, name: string) => lines.find((l) => l[dimension] === name)?.[dimension === 'Queue' ? QUEUE_LATENCY.queueMetric : QUEUE_LATENCY.groupMetric];
    expect(lines).to.have.length(6);
    for (const line of lines) {
      const dimension = 'Queue' in line ? 'Queue' : 'Group';
      const metric = dimension === 'Queue' ? QUEUE_LATENCY.queueMetric : QUEUE_LATENCY.groupMetric;
      // The specification's required members: a millisecond Timestamp, and directives whose dimensions and metrics are members of the line.
      expect(line._aws.CloudWatchMetrics).to.deep.equal([{ Namespace: QUEUE_LATENCY.namespace, Dimensions: [['Stack', dimension]], Metrics: [{ Name: metric, Unit: 'Seconds' }] }]);
      expect(line._aws.Timestamp).to.be.a('number').and.within(Date.now() - 60_000, Date.now());
      expect(line.Stack).to.equal('social-prod');
      expect(line[metric]).to.be.a('number');
    }
    expect(value('Queue', 'push')).to.be.within(100, 110);
    expect(value('Queue', 'ingress')).to.be.within(42, 52);
    expect([value('Queue', 'default'), value('Queue', 'scheduler')]).to.deep.equal([0, 0]);
    // A group's latency is its slowest queue's.
    expect(value('Group', 'main')).to.equal(value('Queue', 'push'));
    expect(value('Group', 'scheduler')).to.equal(value('Queue', 'ingress'));
  });

  it("counts each group's running Sidekiq processes from their heartbeats, and leaves out one told to stop", async () => {
    const boot = join(tempDir(), 'boot.rb');
    writeFileSync(boot, '# no jobs: a Sidekiq process that only beats\n');
    // A real Sidekiq serving the main group's queues (weighted, as the compiler starts them).
    const sidekiq = spawn('sidekiq', ['-r', boot, '-q', 'push,2', '-q', 'default,1', '-c', '1'], { env: { PATH: process.env.PATH, HOME: process.env.HOME, REDIS_URL: redis.url() }, stdio: 'ignore' });
    try {
      const reporter = startReporter({ REDIS_URL: redis.url(), [QUEUE_LATENCY_VARIABLES.groups]: JSON.stringify({ main: ['default', 'push'], scheduler: ['scheduler'] }) });
      const processes = (group: string) =>
        reporter.out
          .map((line) => JSON.parse(line))
          .filter((line) => QUEUE_LATENCY.processMetric in line && line.Group === group)
          .map((line) => line[QUEUE_LATENCY.processMetric]);
      // Sidekiq beats every 5 s, and at once when it starts.
      await reporter.until(() => processes('main').includes(1), 20);
      expect(processes('main')).to.include(1);
      const line = reporter.out.map((l) => JSON.parse(l)).find((l) => QUEUE_LATENCY.processMetric in l);
      expect(line._aws.CloudWatchMetrics).to.deep.equal([{ Namespace: QUEUE_LATENCY.namespace, Dimensions: [['Stack', 'Group']], Metrics: [{ Name: QUEUE_LATENCY.processMetric, Unit: 'Count' }] }]);
      expect(processes('scheduler').every((count) => count === 0)).to.equal(true);
      // TSTP is how a Sidekiq is told to stop taking jobs (ECS sends TERM; Sidekiq goes quiet first).
      sidekiq.kill('SIGTSTP');
      const seen = processes('main').length;
      await reporter.until(() => processes('main').slice(seen).includes(0), 20);
      expect(processes('main').slice(seen)).to.include(0);
      await reporter.stop();
    } finally {
      sidekiq.kill('SIGKILL');
    }
  });

  it('keeps running when Redis cannot be reached, saying so on stderr each round, and prints no metric it did not read', async () => {
    const reporter = startReporter({ REDIS_URL: `redis://127.0.0.1:${await freePort()}/0`, [QUEUE_LATENCY_VARIABLES.groups]: JSON.stringify({ all: ['default'] }) });
    await reporter.until(() => reporter.err.length >= 2);
    expect(reporter.child.exitCode).to.equal(null);
    const { code } = await reporter.stop();
    expect(code).to.equal(0);
    expect(reporter.out).to.deep.equal([]);
    expect(reporter.err[0]).to.match(/^queue latency not read: \S*(Connection|ECONNREFUSED|CannotConnect)\S*/i);
  });
});
