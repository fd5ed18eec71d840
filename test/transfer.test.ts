import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeTasksCommand, RunTaskCommand } from '@aws-sdk/client-ecs';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { CreateSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mkdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseS3Folder } from '../src/aws/s3.js';
import type { ContainerDefinition } from '../src/compiler/cfn.js';
import { artifactsBucket } from '../src/compiler/naming.js';
import { sdkClients } from '../src/deployer/aws.js';
import type { DeployerContext } from '../src/deployer/commands.js';
import { inMemoryPackage } from '../src/deployer/manifest.js';
import { mediaSource } from '../src/deployer/media.js';
import { listFolder, uploadFile } from '../src/deployer/objects.js';
import { recordingReporter } from '../src/deployer/terminal.js';
import { checkDump, exportInstance, importInstance } from '../src/deployer/transfer.js';
import { readMastodonSecrets } from '../src/mastodon/envFile.js';
import { API_CALL_LOG, buildConfig, failure, minimalYaml, runCli } from './support/build.js';
import { CloudWatchLogsStandIn } from './support/cloudWatchLogs.js';
import { EcsStandIn, type Machine, type TemplateTaskDefinition } from './support/ecsStandIn.js';
import { FakeCloudFormation } from './support/fakeCloudFormation.js';
import { fakeClients } from './support/fakes.js';
import { useMoto } from './support/moto.js';
import { usePostgres } from './support/postgres.js';

type Container = ContainerDefinition & { Name: string; Command: string[]; Environment: { Name: string; Value: unknown }[] };

/** A container of the compiled import or export task, as ECS would start it. */
function transferContainer(taskDefinition: 'ImportTaskDefinition' | 'ExportTaskDefinition', name: string, yaml = minimalYaml()): Container {
  const resource = buildConfig({ yaml }).resources()[taskDefinition] as { Properties: { ContainerDefinitions: Container[] } };
  const container = resource.Properties.ContainerDefinitions.find((c) => c.Name === name);
  if (!container) throw new Error(`${taskDefinition} has no container ${name}`);
  return container;
}

/** The container's own variables that are plain strings (the rest name AWS resources, which the test's machine replaces). */
function plainEnvironment(container: Container): Record<string, string> {
  return Object.fromEntries(container.Environment.filter((e) => typeof e.Value === 'string').map((e) => [e.Name, e.Value as string]));
}

describe('moving an instance in and out (real PostgreSQL)', function () {
  this.timeout(120_000);
  const postgres = usePostgres();
  const restore = () => transferContainer('ImportTaskDefinition', 'restore');

  /** Runs a compiled container's script as the RDS master user would: a role that is no superuser and owns only its database. */
  function runScript(container: Container, dumpFile: string, database: string, extra: Record<string, string> = {}) {
    expect(container.EntryPoint).to.deep.equal(['sh', '-c']);
    // As the fetch container leaves it when it has fetched the dump.
    if (container.Name === 'restore') writeFileSync(`${dumpFile}.fetched`, '');
    const result = spawnSync('sh', ['-c', container.Command[0]], {
      encoding: 'utf8',
      env: { PATH: `${postgres.bin}:${process.env.PATH}`, ...plainEnvironment(container), PGHOST: '127.0.0.1', PGPORT: String(postgres.port), PGUSER: 'master', PGDATABASE: database, PGSSLMODE: 'disable', DUMP_FILE: dumpFile, ...extra },
    });
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  }

  /** A database as an old Mastodon server leaves it, made by its superuser: an extension with its comment, a view, a function, and posts. */
  function oldServer(name: string, migrations: string[], posts = 3): string {
    postgres.sql(`CREATE DATABASE ${name}`);
    const sql = (statement: string) => postgres.sql(statement, name);
    sql('CREATE EXTENSION pg_trgm');
    sql("COMMENT ON EXTENSION pg_trgm IS 'text similarity'");
    sql('CREATE TABLE schema_migrations (version varchar PRIMARY KEY)');
    if (migrations.length) sql(`INSERT INTO schema_migrations VALUES ${migrations.map((m) => `('${m}')`).join(', ')}`);
    sql('CREATE TABLE accounts (id bigserial PRIMARY KEY, username varchar NOT NULL, domain varchar)');
    sql('CREATE TABLE statuses (id bigserial PRIMARY KEY, account_id bigint REFERENCES accounts, uri varchar, local boolean, text text)');
    sql('CREATE INDEX statuses_text_trgm ON statuses USING gin (text gin_trgm_ops)');
    sql("CREATE FUNCTION timestamp_id(table_name text) RETURNS bigint LANGUAGE sql AS 'SELECT 1::bigint'");
    sql('CREATE VIEW local_statuses AS SELECT * FROM statuses WHERE local');
    sql("INSERT INTO accounts (username, domain) VALUES ('alice', NULL), ('bob', 'remote.example')");
    for (let i = 0; i < posts; i++) sql(`INSERT INTO statuses (account_id, local, text) VALUES (1, true, 'post ${i}')`);
    sql("INSERT INTO statuses (account_id, uri, local, text) VALUES (2, 'https://remote.example/1', false, 'remote')");
    const file = join(postgres.work, `${name}.dump`);
    const dump = spawnSync(join(postgres.bin, 'pg_dump'), ['-h', '127.0.0.1', '-p', String(postgres.port), '-U', 'mastodon', '--format=custom', `--file=${file}`, name], { encoding: 'utf8' });
    if (dump.status !== 0) throw new Error(`pg_dump failed: ${dump.stderr}`);
    return file;
  }

  /** The new instance's empty database, owned by its master user (no superuser), with the extensions RDS lets it create. */
  function newInstance(name: string): void {
    postgres.sql(`CREATE DATABASE ${name} OWNER master`);
  }

  const count = (database: string, table: string) => Number(postgres.sql(`SELECT count(*) FROM ${table}`, database));

  before(() => {
    postgres.sql('CREATE ROLE master LOGIN NOSUPERUSER');
  });

  describe('the compiled import and export scripts', () => {
    it('restores a dump of an older release as the master user, leaving out what only a superuser may change, with its owner the master user', () => {
      const dump = oldServer('old_a', ['20240101000000', '20241007071624']);
      newInstance('new_a');
      const result = runScript(restore(), dump, 'new_a');
      expect(result.output).to.include("The dump's newest migration is 20241007071624");
      expect(result.status, result.output).to.equal(0);
      // Nothing but its own lines: no warning about what the master user may not analyze.
      expect(result.output).to.not.include('WARNING');
      expect(count('new_a', 'statuses')).to.equal(4);
      expect(count('new_a', 'local_statuses')).to.equal(3);
      expect(postgres.sql("SELECT tableowner FROM pg_tables WHERE tablename = 'statuses'", 'new_a')).to.equal('master');
      expect(postgres.sql("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'", 'new_a')).to.equal('1');
      // The sequence goes on after the dump's rows.
      postgres.sql("INSERT INTO statuses (account_id, local, text) VALUES (1, true, 'after')", 'new_a');
      expect(postgres.sql("SELECT id FROM statuses WHERE text = 'after'", 'new_a')).to.equal('5');
    });

    it('refuses a dump of a newer Mastodon than the pinned release, saying which migration, before touching the database', () => {
      const dump = oldServer('old_newer', ['20241007071624', '20991231000000']);
      newInstance('new_newer');
      postgres.sql('CREATE TABLE kept (id int)', 'new_newer');
      const container = restore();
      const result = runScript(container, dump, 'new_newer');
      expect(result.status).to.equal(1);
      expect(result.output).to.include(`the dump is of a newer Mastodon than ${plainEnvironment(container).MASTODON_VERSION}: its newest migration is 20991231000000`);
      expect(postgres.sql("SELECT count(*) FROM pg_tables WHERE tablename = 'kept'", 'new_newer')).to.equal('1');
    });

    it('refuses what is not a dump of a Mastodon database, and a file that is no dump at all', () => {
      const dump = oldServer('old_none', []);
      newInstance('new_none');
      expect(runScript(restore(), dump, 'new_none').output).to.include('the dump has no rows in schema_migrations: it is not a dump of a Mastodon database');
      const text = join(postgres.work, 'plain.sql');
      writeFileSync(text, 'CREATE TABLE x (id int);\n');
      const plain = runScript(restore(), text, 'new_none');
      expect(plain.status).to.equal(1);
      expect(plain.output).to.include('pg_restore cannot read the dump: is it whole, and made with pg_dump --format=custom');
    });

    it('refuses to replace a database with local posts unless the data loss is allowed, and then replaces all of it, tables the dump lacks too', () => {
      const first = oldServer('old_b', ['20241007071624'], 2);
      newInstance('new_b');
      expect(runScript(restore(), first, 'new_b').status).to.equal(0);
      // As the migrations of a newer release would have made it: as the master user.
      postgres.sql('SET ROLE master; CREATE TABLE newer_release_table (id int)', 'new_b');
      const second = oldServer('old_c', ['20241007071624'], 7);
      const refused = runScript(restore(), second, 'new_b');
      expect(refused.status).to.equal(1);
      expect(refused.output).to.include('the database already holds 2 local posts, which the import would replace');
      expect(count('new_b', 'statuses')).to.equal(3);

      const allowed = runScript(restore(), second, 'new_b', { ALLOW_DATA_LOSS: 'true' });
      expect(allowed.status, allowed.output).to.equal(0);
      expect(count('new_b', 'statuses')).to.equal(8);
      expect(postgres.sql("SELECT count(*) FROM pg_tables WHERE tablename = 'newer_release_table'", 'new_b')).to.equal('0');
    });

    it('leaves the database as it was when the dump is cut short, or when a statement of it fails halfway', () => {
      const whole = oldServer('old_d', ['20241007071624'], 200);
      const broken = join(postgres.work, 'broken.dump');
      writeFileSync(broken, readFileSync(whole));
      truncateSync(broken, Math.floor(statSync(whole).size * 0.8));
      newInstance('new_d');
      postgres.sql('SET ROLE master; CREATE TABLE before_import (id int)', 'new_d');
      const cut = runScript(restore(), broken, 'new_d');
      expect(cut.status).to.equal(1);
      expect(cut.output).to.include('pg_restore cannot read the dump: is it whole, and made with pg_dump --format=custom');

      // An extension only a superuser may create: the restore fails after it dropped and made tables, in its one transaction.
      postgres.sql('CREATE EXTENSION pg_buffercache', 'old_d');
      const dump = join(postgres.work, 'untrusted.dump');
      expect(spawnSync(join(postgres.bin, 'pg_dump'), ['-h', '127.0.0.1', '-p', String(postgres.port), '-U', 'mastodon', '--format=custom', `--file=${dump}`, 'old_d']).status).to.equal(0);
      const failed = runScript(restore(), dump, 'new_d');
      expect(failed.status).to.equal(1);
      expect(failed.output).to.include('permission denied to create extension "pg_buffercache"');
      expect(failed.output).to.include('the restore failed and was rolled back: the database is as it was before');
      expect(postgres.sql("SELECT string_agg(tablename, ',') FROM pg_tables WHERE schemaname = 'public'", 'new_d')).to.equal('before_import');
    });

    it("export's dump is one import restores: the same posts on the other side", () => {
      const dump = oldServer('old_e', ['20241007071624'], 5);
      newInstance('live_e');
      expect(runScript(restore(), dump, 'live_e').status).to.equal(0);
      const exported = join(postgres.work, 'exported.dump');
      const dumped = runScript(transferContainer('ExportTaskDefinition', 'dump'), exported, 'live_e');
      expect(dumped.status, dumped.output).to.equal(0);
      expect(dumped.output).to.match(/Dumped live_e: \d+ bytes/);
      newInstance('elsewhere_e');
      expect(runScript(restore(), exported, 'elsewhere_e').status).to.equal(0);
      expect(postgres.sql('SELECT string_agg(text, \',\' ORDER BY id) FROM statuses', 'elsewhere_e')).to.equal(postgres.sql('SELECT string_agg(text, \',\' ORDER BY id) FROM statuses', 'live_e'));
    });
  });

  describe('mastodon-cfn import and export (moto S3 and Secrets Manager, the tasks run here by an ECS stand-in)', () => {
    const moto = useMoto();
    // The deployer's calls are logged as the CLI's are: policy-hooks checks that `mastodon-cfn policy` allows each.
    before(() => (process.env.MASTODON_CFN_API_LOG = API_CALL_LOG));
    after(() => delete process.env.MASTODON_CFN_API_LOG);
    const ACCOUNT = '123456789012';
    const built = () => buildConfig({ yaml: minimalYaml('mastodon:\n  mode: maintenance\n') });
    const secrets = new Map<string, string>();
    const arnOf = (family: string) => `arn:aws:ecs:us-east-1:${ACCOUNT}:task-definition/${family}:1`;

    /** An instance deployed in maintenance mode: its stacks' outputs (CloudFormation faked), its media bucket and kept secret in moto, its database here. */
    async function deployedInstance(database: string, mode = 'maintenance') {
      const build = built();
      const real = sdkClients();
      const region = build.stacks.find((s) => s.role === 'main')!.region;
      const main = build.names.stackName('main');
      const mediaBucket = `${main}-media-${database}`.replace(/_/g, '-');
      // Deployed once for each database: later calls are later runs of the tool against the same instance.
      if (!secrets.has(database)) {
        // What the stacks made, made by the test's own clients: the deployer's calls alone are logged for the policy check.
        await new S3Client({ region, forcePathStyle: true }).send(new CreateBucketCommand({ Bucket: mediaBucket }));
        const created = await new SecretsManagerClient({ region }).send(new CreateSecretCommand({ Name: `mastodon-cfn/${main}/mastodon-${database}`, SecretString: JSON.stringify({ SECRET_KEY_BASE: 'generated', OTP_SECRET: 'generated', VAPID_PRIVATE_KEY: 'generated', VAPID_PUBLIC_KEY: 'generated' }) }));
        secrets.set(database, created.ARN!);
      }
      const secret = { ARN: secrets.get(database) };
      const resources = build.resources();
      const definitions = Object.fromEntries(
        (['ImportTaskDefinition', 'ExportTaskDefinition', 'PostDeploymentMigrationTaskDefinition'] as const).map((id) => [arnOf(id), (resources[id] as unknown as { Properties: TemplateTaskDefinition }).Properties]),
      );
      const logGroup = build.names.logGroup('mastodon');
      const cfn = new FakeCloudFormation();
      cfn.stacks.set(main, {
        status: 'UPDATE_COMPLETE',
        outputs: {
          ClusterName: main, TaskSubnets: 'subnet-1,subnet-2', TaskSecurityGroup: 'sg-1', MastodonLogGroup: logGroup, MastodonMode: mode, MediaBucket: mediaBucket,
          ImportTaskDefinition: arnOf('ImportTaskDefinition'), ExportTaskDefinition: arnOf('ExportTaskDefinition'), PostDeploymentMigrationTaskDefinition: arnOf('PostDeploymentMigrationTaskDefinition'),
        },
      });
      cfn.stacks.set(build.names.stackName('secrets'), { status: 'UPDATE_COMPLETE', outputs: { MastodonSecretsArn: secret.ARN! } });
      const logs = new CloudWatchLogsStandIn();
      logs.createGroup(logGroup);
      const migrations: Record<string, string>[] = [];
      const parameters: Record<string, string> = { MastodonSecretsArn: secret.ARN!, 'AWS::Region': region, 'AWS::AccountId': ACCOUNT, 'AWS::Partition': 'aws', MastodonLogGroup: logGroup, MediaBucket: mediaBucket };
      const resolve = (value: unknown): string => {
        if (typeof value === 'string') return value;
        const fn = value as Record<string, any>;
        if ('Ref' in fn) return parameters[fn.Ref] ?? `placeholder:${fn.Ref}`;
        if ('Fn::GetAtt' in fn) return `placeholder:${fn['Fn::GetAtt'].join('.')}`;
        if ('Fn::Sub' in fn) return (fn['Fn::Sub'] as string).replace(/\$\{([^}]+)\}/g, (_, name: string) => parameters[name] ?? `placeholder:${name}`);
        if ('Fn::Join' in fn) return (fn['Fn::Join'][1] as unknown[]).map(resolve).join(fn['Fn::Join'][0]);
        throw new Error(`the test cannot resolve ${JSON.stringify(value)}`);
      };
      const machine: Machine = {
        resolve,
        secret: async (valueFrom) => {
          if (valueFrom.startsWith('placeholder:')) return 'unused';
          const [, arn, key] = /^(arn:aws:secretsmanager:[^:]+:\d+:secret:[^:]+):([^:]*)::$/.exec(valueFrom)!;
          const { SecretString } = await real.secretsManager(region).send(new GetSecretValueCommand({ SecretId: arn }));
          return (JSON.parse(SecretString!) as Record<string, string>)[key] ?? '';
        },
        environment: {
          ...moto.env,
          PATH: `${postgres.bin}:${process.env.PATH}`, PGHOST: '127.0.0.1', PGPORT: String(postgres.port), PGUSER: 'master', PGDATABASE: database, PGSSLMODE: 'disable', PGPASSWORD: '',
        },
        programs: {
          // Rails cannot run here: the stand-in of `rails db:migrate` checks what it would need, and records what it was given.
          migrate: async (environment) => {
            migrations.push(environment);
            const newest = postgres.sql('SELECT max(version) FROM schema_migrations', database);
            return { exitCode: 0, output: `migrated from ${newest}` };
          },
        },
      };
      const ecs = new EcsStandIn(definitions, machine, logs);
      const reporter = recordingReporter();
      const context: DeployerContext = {
        clients: fakeClients({ cloudFormation: () => cfn, ecs: () => ecs, logs: () => logs, s3: real.s3, sts: real.sts, secretsManager: real.secretsManager }),
        reporter,
        confirm: async () => true,
        polling: { initialMs: 1, maxMs: 5 },
      };
      const transferObjects = async () => listFolder(real.s3(region), { bucket: artifactsBucket(ACCOUNT, region), prefix: build.names.transferPrefix });
      return { build, pkg: inMemoryPackage(build.files), context, reporter, ecs, real, region, mediaBucket, secret: secret.ARN!, migrations, transferObjects };
    }

    function mediaFolder(): string {
      const root = join(postgres.work, `system-${Date.now()}`);
      const files: Record<string, string> = { 'accounts/avatars/000/000/001/original/alice.png': 'png bytes', 'media_attachments/files/000/000/001/original/cat.mp4': 'mp4 bytes', 'cache/preview_cards/images/000/000/002/original/card.jpg': 'jpg' };
      for (const [key, content] of Object.entries(files)) {
        mkdirSync(join(root, dirname(key)), { recursive: true });
        writeFileSync(join(root, key), content);
      }
      return root;
    }

    function envFile(): string {
      const file = join(postgres.work, `env-${Date.now()}`);
      writeFileSync(file, ['# Generated with mastodon:setup', 'LOCAL_DOMAIN=old.example', 'SECRET_KEY_BASE=old-secret-key-base', 'OTP_SECRET="old-otp"', 'VAPID_PRIVATE_KEY=old-private', 'VAPID_PUBLIC_KEY=old-public', 'ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY=old-primary', 'DB_PASS=not-taken', ''].join('\n'));
      return file;
    }

    it("restores the dump, carries the old server's keys into the kept secret before the migrations, copies the media, and leaves no dump behind", async () => {
      const dump = oldServer('old_import', ['20240101000000', '20241007071624'], 4);
      newInstance('imported');
      const instance = await deployedInstance('imported');
      await importInstance(instance.pkg, instance.context, { dump: checkDump(dump), media: mediaSource(mediaFolder()), secrets: readMastodonSecrets(envFile()), allowDataLoss: false });

      expect(count('imported', 'statuses')).to.equal(5);
      const lines = instance.reporter.lines.join('\n');
      expect(lines).to.include("restore: The dump's newest migration is 20241007071624");
      expect(lines).to.include('Media: 3 files copied');
      const run = instance.ecs.called('RunTask')[0].input;
      expect(run.overrides.containerOverrides.map((o: { name: string }) => o.name)).to.deep.equal(['fetch', 'restore']);
      expect(await instance.transferObjects()).to.have.property('size', 0);

      const { SecretString } = await instance.real.secretsManager(instance.region).send(new GetSecretValueCommand({ SecretId: instance.secret }));
      expect(JSON.parse(SecretString!)).to.deep.equal({ SECRET_KEY_BASE: 'old-secret-key-base', OTP_SECRET: 'old-otp', VAPID_PRIVATE_KEY: 'old-private', VAPID_PUBLIC_KEY: 'old-public', ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY: 'old-primary' });
      expect(lines).to.not.include('old-secret-key-base');
      // The migrations ran after the restore, with the old server's keys (OTP_SECRET: its two-factor secrets are carried over by a post-deployment migration).
      expect(instance.migrations).to.have.length(1);
      expect(instance.migrations[0]).to.include({ SECRET_KEY_BASE: 'old-secret-key-base', OTP_SECRET: 'old-otp' });

      const avatar = await instance.real.s3(instance.region).send(new HeadObjectCommand({ Bucket: instance.mediaBucket, Key: 'accounts/avatars/000/000/001/original/alice.png' }));
      expect(avatar).to.include({ ContentType: 'image/png', CacheControl: 'public, max-age=315576000, immutable' });
      // The media alone again, with the instance serving by now: what is there already is not sent again, and nothing else runs.
      const again = await deployedInstance('imported', 'production');
      await importInstance(again.pkg, again.context, { media: mediaSource(mediaFolder()), allowDataLoss: false });
      expect(again.reporter.lines.join('\n')).to.include('Media: 0 files copied (0.0 MiB), 3 already there');
      expect(again.ecs.calls).to.deep.equal([]);
    });

    it('refuses unless the instance is deployed in maintenance mode, before sending anything', async () => {
      const dump = oldServer('old_running', ['20241007071624']);
      const instance = await deployedInstance('running', 'production');
      const error = await failure(importInstance(instance.pkg, instance.context, { dump: checkDump(dump), allowDataLoss: false }));
      expect(error.message).to.equal(`${instance.build.names.stackName('main')} runs in production mode: an import of a database or of keys replaces what the running instance uses, so nothing may use it meanwhile. Set mastodon.mode: maintenance, deploy, and import again.`);
      expect(instance.ecs.calls).to.deep.equal([]);
      expect(await instance.transferObjects()).to.have.property('size', 0);
    });

    it("prints the restore's refusal of a newer Mastodon's dump, runs no migration, and deletes the uploaded dump", async () => {
      const dump = oldServer('old_future', ['20241007071624', '20991231000000']);
      newInstance('future');
      const instance = await deployedInstance('future');
      const error = await failure(importInstance(instance.pkg, instance.context, { dump: checkDump(dump), allowDataLoss: false }));
      expect(error.message).to.match(/^The restore of the dump \(pg_restore\) failed: restore exited with code 1 \(Essential container in task exited\)\. Its output is above/);
      expect(instance.reporter.lines.join('\n')).to.include('restore: mastodon-cfn import: the dump is of a newer Mastodon than v4.5.2: its newest migration is 20991231000000');
      expect(instance.migrations).to.deep.equal([]);
      expect(await instance.transferObjects()).to.have.property('size', 0);
    });

    it('keeps the uploaded dump, and says how to delete it, when it loses track of a task that may still read it', async () => {
      const dump = oldServer('old_lost', ['20241007071624']);
      newInstance('lost');
      const instance = await deployedInstance('lost');
      const expired = Object.assign(new Error('The security token included in the request is expired'), { name: 'ExpiredTokenException' });
      const ecs = { send: (command: object) => (command instanceof DescribeTasksCommand ? Promise.reject(expired) : instance.ecs.send(command)) };
      const context = { ...instance.context, clients: { ...instance.context.clients, ecs: () => ecs } };
      expect(await failure<Error>(importInstance(instance.pkg, context, { dump: checkDump(dump), allowDataLoss: false }))).to.equal(expired);
      const kept = [...(await instance.transferObjects()).keys()];
      expect(kept).to.have.length(1);
      expect(instance.reporter.lines.join('\n')).to.include(`while the task may still use it: once the task has stopped, delete it with aws s3 rm s3://${artifactsBucket(ACCOUNT, instance.region)}/${instance.build.names.transferPrefix}${kept[0]}`);
      await instance.ecs.settled();
      // As the user then does.
      await new S3Client({ region: instance.region, forcePathStyle: true }).send(new DeleteObjectCommand({ Bucket: artifactsBucket(ACCOUNT, instance.region), Key: `${instance.build.names.transferPrefix}${kept[0]}` }));
    });

    it('a fetch that fails ends the import task with the restore saying so, instead of leaving it waiting', async () => {
      newInstance('unfetched');
      const instance = await deployedInstance('unfetched');
      const key = `${instance.build.names.transferPrefix}import-never-uploaded.dump`;
      const environment = [{ name: 'DUMP_KEY', value: key }];
      const started = await instance.ecs.send(
        new RunTaskCommand({ cluster: 'c', taskDefinition: arnOf('ImportTaskDefinition'), networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-1'] } }, overrides: { containerOverrides: [{ name: 'fetch', environment }, { name: 'restore', environment }] } }),
      );
      await instance.ecs.settled();
      const [task] = (await instance.ecs.send(new DescribeTasksCommand({ cluster: 'c', tasks: [started.tasks[0].taskArn] }))).tasks;
      expect(task.lastStatus).to.equal('STOPPED');
      expect(task.containers.map((c: { name: string; exitCode?: number }) => [c.name, c.exitCode !== 0])).to.deep.equal([['fetch', true], ['restore', true]]);
      const logs = instance.context.clients.logs('us-east-1');
      const id = started.tasks[0].taskArn.split('/').at(-1);
      const { events } = await logs.send(new GetLogEventsCommand({ logGroupName: instance.build.names.logGroup('mastodon'), logStreamName: `restore/restore/${id}`, startFromHead: true }));
      expect(events.map((e: { message: string }) => e.message).join('\n')).to.include("the dump was not fetched from the transfer folder: the fetch container's output says why");
    });

    it('refuses what is no custom-format dump, a media folder that is not public/system, and an .env.production without SECRET_KEY_BASE, before any AWS call', () => {
      const plain = join(postgres.work, 'plain-dump.sql');
      writeFileSync(plain, '-- PostgreSQL database dump\n');
      expect(() => checkDump(plain)).to.throw("is not a dump in pg_dump's custom format");
      expect(() => mediaSource(postgres.work)).to.throw('holds none of accounts, media_attachments');
      const noKey = join(postgres.work, 'no-key.env');
      writeFileSync(noKey, 'LOCAL_DOMAIN=old.example\nOTP_SECRET=x\n');
      expect(() => readMastodonSecrets(noKey)).to.throw('has no SECRET_KEY_BASE');
      const broken = join(postgres.work, 'broken.env');
      writeFileSync(broken, 'SECRET_KEY_BASE=x\nthis is not a line of dotenv\n');
      expect(() => readMastodonSecrets(broken)).to.throw(`${broken}:2:1: not KEY=value`);
      const unclosed = join(postgres.work, 'unclosed.env');
      writeFileSync(unclosed, 'SECRET_KEY_BASE="abc\n');
      expect(() => readMastodonSecrets(unclosed)).to.throw(`${unclosed}:1:17: the value of SECRET_KEY_BASE opens a quote it does not close`);
      // The usual slips with --media: the folder above public/system, or one inside it.
      const live = join(postgres.work, 'live', 'public');
      mkdirSync(join(live, 'system', 'accounts'), { recursive: true });
      expect(() => mediaSource(live)).to.throw(`did you mean ${join(live, 'system')}?`);
      expect(() => mediaSource(join(live, 'system', 'accounts'))).to.throw(`did you mean ${join(live, 'system')}?`);
      expect(mediaSource(`S3://bucket/folder`)).to.deep.equal({ kind: 's3', location: { bucket: 'bucket', prefix: 'folder/' } });
    });

    it('the CLI refuses bad transfer options with exit code 2 and the option named, before it builds or calls AWS', () => {
      const plain = join(postgres.work, 'cli-plain.sql');
      writeFileSync(plain, 'CREATE TABLE x (id int);\n');
      const keyless = join(postgres.work, 'keyless.env');
      writeFileSync(keyless, 'LOCAL_DOMAIN=old.example\n');
      const cases: [string[], string][] = [
        [['import'], 'import takes --dump, --media or --env-production'],
        [['import', '--dump', plain], `--dump ${plain} is not a dump in pg_dump's custom format`],
        [['import', '--media', 's3://Bad_Bucket/'], '--media takes s3://<bucket>/<folder>/'],
        // (Node 20 itself reads --env-file wherever it stands: a missing or unreadable one it refuses, exit code 9, before the tool runs.)
        [['import', '--env-file', keyless], `${keyless} has no SECRET_KEY_BASE`],
        [['import', '--env-production', join(postgres.work, 'missing.env')], `--env-production ${join(postgres.work, 'missing.env')}: `],
        [['import', '--env-production', keyless, '--env-file', keyless], 'give --env-production or --env-file, not both'],
        [['import', '--media', postgres.work], `--media ${postgres.work} holds none of accounts`],
        [['export', '--to', 'my-bucket'], '--to takes s3://<bucket>/<folder>/'],
        [['policy', '--transfer-bucket', 's3://x'], "--transfer-bucket takes a bucket's name"],
      ];
      for (const [args, message] of cases) {
        const result = runCli([...args, '--config', join(postgres.work, 'no-config-needed.yaml')], { env: { AWS_ENDPOINT_URL: 'http://127.0.0.1:9' } });
        expect(result.status, `${args.join(' ')}: ${result.stderr}`).to.equal(2);
        expect(result.stderr, args.join(' ')).to.include(message);
        expect(result.stderr).to.not.match(/\n\s+at /);
      }
    });

    it('export writes a dump import restores and the media into an empty folder, and refuses a folder with anything in it', async () => {
      const dump = oldServer('old_export', ['20241007071624'], 6);
      newInstance('exported');
      const instance = await deployedInstance('exported');
      await importInstance(instance.pkg, instance.context, { dump: checkDump(dump), media: mediaSource(mediaFolder()), allowDataLoss: false });
      const s3 = instance.real.s3(instance.region);
      await new S3Client({ region: instance.region, forcePathStyle: true }).send(new CreateBucketCommand({ Bucket: 'leaving' }));
      const exporting = await deployedInstance('exported');
      await exportInstance(exporting.pkg, exporting.context, { to: parseS3Folder('s3://leaving/2026/', '--to'), media: true });
      const there = await listFolder(s3, { bucket: 'leaving', prefix: '2026/' });
      expect([...there.keys()].sort()).to.deep.equal(['mastodon.dump', 'media/accounts/avatars/000/000/001/original/alice.png', 'media/cache/preview_cards/images/000/000/002/original/card.jpg', 'media/media_attachments/files/000/000/001/original/cat.mp4']);
      expect(await exporting.transferObjects()).to.have.property('size', 0);
      expect(exporting.reporter.lines.join('\n')).to.include('aws secretsmanager get-secret-value');

      const local = join(postgres.work, 'exported-again.dump');
      const { Body } = await s3.send(new GetObjectCommand({ Bucket: 'leaving', Key: '2026/mastodon.dump' }));
      writeFileSync(local, Buffer.from(await Body!.transformToByteArray()));
      newInstance('arrived');
      expect(runScript(restore(), local, 'arrived').status).to.equal(0);
      expect(count('arrived', 'statuses')).to.equal(7);

      // And in again, media from S3 this time, copied inside S3.
      newInstance('arrived_too');
      const arriving = await deployedInstance('arrived_too');
      await importInstance(arriving.pkg, arriving.context, { dump: checkDump(local), media: mediaSource('s3://leaving/2026/media/'), allowDataLoss: false });
      expect(count('arrived_too', 'statuses')).to.equal(7);
      expect([...(await listFolder(s3, { bucket: arriving.mediaBucket, prefix: '' })).keys()].sort()).to.deep.equal([...there.keys()].filter((key) => key.startsWith('media/')).map((key) => key.slice(6)).sort());
      const copied = await s3.send(new HeadObjectCommand({ Bucket: arriving.mediaBucket, Key: 'accounts/avatars/000/000/001/original/alice.png' }));
      expect(copied).to.include({ ContentType: 'image/png', CacheControl: 'public, max-age=315576000, immutable' });

      const refused = await failure(exportInstance(exporting.pkg, exporting.context, { to: parseS3Folder('s3://leaving/2026', '--to'), media: false }));
      expect(refused.message).to.equal('s3://leaving/2026/ already holds objects: export writes only into an empty folder, so that it overwrites nothing. Name another folder.');
    });

    it('uploads a dump larger than one request in parts, and leaves no unfinished upload when a part fails', async () => {
      const region = 'us-east-1';
      const s3 = sdkClients().s3(region);
      await new S3Client({ region, forcePathStyle: true }).send(new CreateBucketCommand({ Bucket: 'parts' }));
      const big = join(postgres.work, 'big.dump');
      writeFileSync(big, 'PGDMP');
      truncateSync(big, 70 * 1024 ** 2);
      await uploadFile(s3, { Bucket: 'parts', Key: 'big.dump' }, big, statSync(big).size);
      expect((await s3.send(new HeadObjectCommand({ Bucket: 'parts', Key: 'big.dump' }))).ContentLength).to.equal(70 * 1024 ** 2);
      // The connection breaks during the second part: the upload is aborted, its parts not kept (and billed) by S3.
      let parts = 0;
      const breaking = { send: (command: object) => (command instanceof UploadPartCommand && ++parts === 2 ? Promise.reject(new Error('socket hang up')) : s3.send(command)) };
      expect((await failure<Error>(uploadFile(breaking, { Bucket: 'parts', Key: 'broken.dump' }, big, statSync(big).size))).message).to.equal('socket hang up');
      const { Uploads } = await new S3Client({ region, forcePathStyle: true }).send(new ListMultipartUploadsCommand({ Bucket: 'parts' }));
      expect(Uploads ?? []).to.deep.equal([]);
    });

    it('the ECS stand-in refuses what ECS refuses: a dependency on an essential container, an override of a container the task lacks', async () => {
      const build = built();
      const definition = structuredClone((build.resources().ImportTaskDefinition as unknown as { Properties: TemplateTaskDefinition }).Properties);
      const machine: Machine = { resolve: String, secret: async () => '', environment: {} };
      const essential = structuredClone(definition);
      essential.ContainerDefinitions[0].Essential = true;
      expect(() => new EcsStandIn({ x: essential }, machine, new CloudWatchLogsStandIn())).to.throw('COMPLETE cannot be the condition on the essential container fetch');
      const ecs = new EcsStandIn({ x: definition }, machine, new CloudWatchLogsStandIn());
      const network = { awsvpcConfiguration: { subnets: ['subnet-1'] } };
      expect((await failure<Error>(ecs.send(new RunTaskCommand({ taskDefinition: 'x', cluster: 'c', networkConfiguration: network, overrides: { containerOverrides: [{ name: 'migrate' }] } })))).message).to.equal('Override for container named migrate is not a container in the TaskDefinition.');
      expect((await failure<Error>(ecs.send(new RunTaskCommand({ taskDefinition: 'x', cluster: 'c' })))).message).to.equal("Network Configuration must be provided when networkMode 'awsvpc' is specified.");
    });
  });
});
