import { expect } from 'chai';
import { OWNER_SCRIPT_VARIABLES } from '../src/compiler/compute.js';
import { IGNORED_NEXT_TO_REDIS_URL, MASTODON, MASTODON_SERIES, OWNED_MASTODON_VARIABLES, SIDEKIQ, STREAMING, WEB, type Reads } from '../src/mastodon/facts.js';
import { buildConfig, minimalYaml, problemsOf } from './support/build.js';

type Container = { Name: string; Image: string; Command: string[]; Environment: { Name: string; Value: unknown }[]; Secrets?: { Name: string; ValueFrom: unknown }[]; PortMappings?: { ContainerPort: number }[]; Memory?: number; MemoryReservation?: number };


const containersOf = (resources: Record<string, any>, id: string) => resources[id].Properties.ContainerDefinitions as Container[];
/** The task definitions of the Mastodon services (side services are Service<Name>Service), by logical id. */
const mastodonTaskDefinitions = (resources: Record<string, any>) =>
  Object.entries(resources)
    .filter(([id, r]) => r.Type === 'AWS::ECS::Service' && !id.startsWith('Service'))
    .map(([, r]) => r.Properties.TaskDefinition.Ref as string);
const names = (c: Container) => [...c.Environment.map((e) => e.Name), ...(c.Secrets ?? []).map((s) => s.Name)];
const environmentOf = (c: Container) => Object.fromEntries(c.Environment.map((e) => [e.Name, e.Value]));

/**
 * The compiled stack against what each supported series' processes read (src/mastodon/facts.ts),
 * built with the newest release of the series: a variable a process does not read is a wiring
 * mistake (it does nothing, or it was meant for another release), and a variable Mastodon ignores
 * next to REDIS_URL is a password that never arrives.
 */
describe('the compiled stack against each supported Mastodon series', () => {
  for (const series of MASTODON_SERIES) {
    const facts = MASTODON[series];
    describe(`${series} (built with ${facts.latest})`, () => {
      // Size large: every process in a task of its own, Sidekiq in two queue groups, the queue-latency reporter beside the scheduler;
      // with search and a read replica, whose settings each release must read too.
      const built = buildConfig({ yaml: minimalYaml(`size: large\nsearch: {}\ndatabase: { readReplica: true }\nmastodon: { version: ${facts.latest}, owner: { username: alice, email: alice@example.com } }\n`) });
      const main = built.resources();
      const tasks = mastodonTaskDefinitions(main).flatMap((id) => containersOf(main, id).map((c) => [`${id} ${c.Name}`, c] as [string, Container]));
      const task = tasks.map(([, c]) => c);
      const byName = (name: string) => task.find((c) => c.Name === name)!;
      const rails: [string, Container][] = [
        ...tasks.filter(([, c]) => c.Name !== 'streaming' && c.Name !== 'metrics'),
        ['PostDeploymentMigrationTaskDefinition migrate', containersOf(main, 'PostDeploymentMigrationTaskDefinition')[0]],
        ['OwnerAccountTaskDefinition owner', containersOf(main, 'OwnerAccountTaskDefinition')[0]],
      ];

      const expectReads = (where: string, container: Container, reads: Reads, own: readonly string[] = []) => {
        const unread = names(container).filter((name) => !(name in reads) && !own.includes(name));
        expect(unread, `${where} sets variables ${series} does not read`).to.deep.equal([]);
        const ignored = names(container).filter((name) => (IGNORED_NEXT_TO_REDIS_URL as readonly string[]).includes(name));
        expect(ignored, `${where} sets variables ignored next to REDIS_URL`).to.deep.equal([]);
        // The cache's token is inside REDIS_URL, so REDIS_URL is a secret, never a plain variable.
        expect(container.Secrets!.find((s) => s.Name === 'REDIS_URL')?.ValueFrom, where).to.deep.equal({ 'Fn::Join': ['', [{ Ref: 'CacheConnection' }, ':url::']] });
        expect(environmentOf(container), where).to.not.have.property('REDIS_URL');
      };

      it("sets on every Rails container only what that release's Rails reads, each owned by the compiler or a tuning default", () => {
        for (const [where, container] of rails) {
          expectReads(where, container, facts.rails, where.endsWith('owner') ? OWNER_SCRIPT_VARIABLES : []);
          const loose = names(container).filter((name) => !(OWNED_MASTODON_VARIABLES as readonly string[]).includes(name) && !['WEB_CONCURRENCY', 'MAX_THREADS', 'PERSISTENT_TIMEOUT', 'SIDEKIQ_CONCURRENCY', ...OWNER_SCRIPT_VARIABLES].includes(name));
          expect(loose, `${where}: variables a user value could change without the validator noticing`).to.deep.equal([]);
        }
        // OTP_SECRET exactly where the release reads it (4.3's production.rb fails to boot without it).
        for (const [where, container] of rails) expect(names(container).includes('OTP_SECRET'), where).to.equal('OTP_SECRET' in facts.rails);
      });

      it('gives streaming the cache password inside its REDIS_URL secret, and nothing it would ignore', () => {
        expectReads('streaming', byName('streaming'), facts.streaming);
        expect(byName('streaming').Secrets!.map((s) => s.Name).sort()).to.deep.equal(['DB_PASS', 'REDIS_URL']);
        // The one URL both read: rediss:// with the AUTH token, composed from the cache's own endpoint.
        const url = main.CacheConnection.Properties.SecretString['Fn::Sub'] as string;
        expect(url).to.equal('{"url":"rediss://:{{resolve:secretsmanager:${CacheAuthTokenArn}:SecretString:token}}@${Cache.PrimaryEndPoint.Address}:${Cache.PrimaryEndPoint.Port}"}');
        expect(JSON.stringify(main.MastodonExecutionRole)).to.include('"Ref":"CacheConnection"');
      });

      it("runs each process with Mastodon's commands, ports and health paths, from images of that release", () => {
        // Each under the wrapper that keeps serving while the load balancer takes a stopping task out (compute.ts).
        expect(byName('web').Command.slice(4)).to.deep.equal([...WEB.command]);
        expect(byName('streaming').Command.slice(4)).to.deep.equal([...STREAMING.command]);
        // Each group names its queues with their weights; together they serve every queue of the release once, the scheduler's in one process.
        const sidekiqs = task.filter((c) => c.Name === 'sidekiq');
        for (const sidekiq of sidekiqs) expect(sidekiq.Command.slice(0, SIDEKIQ.command.length)).to.deep.equal([...SIDEKIQ.command]);
        const queues = sidekiqs.flatMap((c) => c.Command.slice(SIDEKIQ.command.length).filter((_, i) => i % 2 === 1));
        expect(queues).to.have.members(facts.sidekiqQueues.map((q) => `${q.name},${q.weight}`));
        expect(main.SidekiqSchedulerService.Properties.DesiredCount).to.equal(1);
        for (const [process, facts] of [['web', WEB], ['streaming', STREAMING]] as const) {
          expect(byName(process).PortMappings).to.deep.equal([{ ContainerPort: facts.port, Protocol: 'tcp' }]);
          expect(environmentOf(byName(process))).to.include({ BIND: '0.0.0.0', PORT: String(facts.port) });
        }
        expect(main.WebTargetGroup.Properties).to.include({ Port: WEB.port, HealthCheckPath: WEB.healthPath });
        expect(main.StreamingTargetGroup.Properties).to.include({ Port: STREAMING.port, HealthCheckPath: STREAMING.healthPath });
        const attached = (id: string) => main[id].Properties.LoadBalancers.map((l: { ContainerName: string; ContainerPort: number }) => [l.ContainerName, l.ContainerPort]);
        expect([attached('WebService'), attached('StreamingService')]).to.deep.equal([[['web', WEB.port]], [['streaming', STREAMING.port]]]);
        for (const container of [...task, ...rails.map(([, c]) => c)]) expect(container.Image.endsWith(`:${facts.latest}`), container.Name).to.equal(true);
      });

      it("creates the owner with the attribute that release's User has", () => {
        const script = containersOf(main, 'OwnerAccountTaskDefinition')[0].Command[4];
        expect(script).to.include(`${facts.owner.bypassAttribute}: true`);
        const other = facts.owner.bypassAttribute === 'bypass_registration_checks' ? 'bypass_invite_request_check' : 'bypass_registration_checks';
        expect(script).to.not.include(other);
      });
    });
  }

  it('refuses at build time a release of a series the facts were not read for, naming the supported ones', () => {
    for (const version of ['v4.2.10', 'v4.6.0', 'v5.0.0']) {
      expect(problemsOf(`mastodon: { version: ${version} }\n`)).to.deep.equal([`mastodon.version: ${version} is not a release mastodon-cfn knows: it supports the 4.3.x, 4.4.x, 4.5.x series (up to v4.5.15 checked); choose one of them`]);
    }
  });
});

describe('memory and Puma for each size of task', () => {
  const processes = ['web', 'streaming', 'sidekiq', 'metrics'];
  /** Size small's one task, or at the other sizes the task definition named. */
  const taskOf = (yaml: string, id = 'MastodonTaskDefinition') => {
    const main = buildConfig({ yaml: minimalYaml(yaml) }).resources();
    const containers = containersOf(main, id);
    const get = (name: string) => containers.find((c) => c.Name === name)!;
    return { memory: Number(main[id].Properties.Memory), web: get('web'), sidekiq: get('sidekiq'), streaming: get('streaming'), running: containers.filter((c) => processes.includes(c.Name)) };
  };
  const small = (mastodon: string) => taskOf(`size: small\nmastodon: ${mastodon}\n`);
  const fitsTheTask = (task: ReturnType<typeof taskOf>) => {
    const reserved = task.running.reduce((sum, c) => sum + c.MemoryReservation!, 0);
    expect(reserved).to.be.at.most(task.memory);
    // Each may grow into what is free, never into what the others reserved.
    for (const c of task.running) expect(c.Memory, c.Name).to.equal(task.memory - (reserved - c.MemoryReservation!));
  };

  it('runs Puma in single mode with room to grow in size small\'s 0.5 vCPU / 2 GB task, beside Sidekiq, streaming and the queue-latency reporter', () => {
    const task = small('{}');
    fitsTheTask(task);
    // One process: Puma's single mode, without a preloaded master beside a lone worker.
    expect(environmentOf(task.web)).to.include({ WEB_CONCURRENCY: '0', MAX_THREADS: '5' });
    expect(task.running.map((c) => [c.Name, c.MemoryReservation])).to.deep.equal([['web', 320], ['streaming', 256], ['sidekiq', 512], ['metrics', 96]]);
    expect(task.web.Memory).to.be.greaterThan(1024);
    // Puma's settings are the web container's: sidekiq's threads are SIDEKIQ_CONCURRENCY.
    expect(environmentOf(task.sidekiq)).to.not.have.any.keys('WEB_CONCURRENCY', 'MAX_THREADS');
    expect(environmentOf(task.sidekiq)).to.include({ SIDEKIQ_CONCURRENCY: '5' });
  });

  it('gives a larger task one worker per vCPU, and a user value of WEB_CONCURRENCY wins and sizes the web reservation', () => {
    const large = small('{ cpu: 2048, memory: 8192 }');
    fitsTheTask(large);
    expect(environmentOf(large.web)).to.include({ WEB_CONCURRENCY: '2' });
    expect(large.web.MemoryReservation).to.equal(960);
    const tuned = small('{ cpu: 2048, memory: 8192, environment: { WEB_CONCURRENCY: 4, MAX_THREADS: 4 } }');
    fitsTheTask(tuned);
    expect(environmentOf(tuned.web)).to.include({ WEB_CONCURRENCY: '4', MAX_THREADS: '4' });
    expect(tuned.web.MemoryReservation).to.equal(1600);
  });

  it('shares each task of sizes standard and large between the processes it runs, and gives Sidekiq threads by its CPU', () => {
    const web = taskOf('mastodon: {}\n', 'WebTaskDefinition');
    fitsTheTask(web);
    expect(web.running.map((c) => c.Name)).to.deep.equal(['web', 'streaming', 'metrics']);
    const sidekiq = taskOf('mastodon: { sidekiq: { cpu: 1024, memory: 2048 } }\n', 'SidekiqAllTaskDefinition');
    fitsTheTask(sidekiq);
    expect(sidekiq.running.map((c) => c.Name)).to.deep.equal(['sidekiq']);
    expect(environmentOf(sidekiq.sidekiq)).to.include({ SIDEKIQ_CONCURRENCY: '10' });
    const large = taskOf('size: large\n', 'WebTaskDefinition');
    fitsTheTask(large);
    expect(large.running.map((c) => c.Name)).to.deep.equal(['web', 'metrics']);
    expect(environmentOf(large.web)).to.include({ WEB_CONCURRENCY: '2' });
  });

  it('refuses a task the processes cannot fit in, and a WEB_CONCURRENCY the memory cannot hold', () => {
    expect(problemsOf('size: small\nmastodon: { cpu: 512, memory: 1024 }\n')).to.deep.equal([
      "mastodon.memory: memory 1024 MiB cannot hold the task's processes, which need 1184 MiB together (web 320 MiB (320 per Puma process), streaming 256, sidekiq 512, metrics 96): use more memory",
    ]);
    expect(problemsOf('size: small\nmastodon: { environment: { WEB_CONCURRENCY: 4 } }\n')).to.deep.equal([
      "mastodon.environment.WEB_CONCURRENCY: memory 2048 MiB cannot hold the task's processes, which need 2464 MiB together (web 1600 MiB (WEB_CONCURRENCY 4: 320 per Puma process), streaming 256, sidekiq 512, metrics 96): lower WEB_CONCURRENCY or use more memory",
    ]);
    expect(problemsOf('mastodon: { web: { cpu: 256, memory: 512 } }\n')).to.deep.equal([
      "mastodon.web.memory: memory 512 MiB cannot hold the task's processes, which need 672 MiB together (web 320 MiB (320 per Puma process), streaming 256, metrics 96): use more memory",
    ]);
    expect(problemsOf('mastodon: { environment: { WEB_CONCURRENCY: lots } }\n')).to.deep.equal(['mastodon.environment.WEB_CONCURRENCY: WEB_CONCURRENCY must be a whole number of Puma workers from 0 (Puma\'s single mode) to 999; got "lots"']);
    expect(problemsOf('mastodon: { environment: { WEB_CONCURRENCY: 0 } }\n')).to.deep.equal([]);
  });
});
