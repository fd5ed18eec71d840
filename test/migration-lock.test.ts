import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildConfig, REPO_ROOT } from './support/build.js';
import { mastodonStandIn, runRuby } from './support/mastodonStandIn.js';
import { usePostgres } from './support/postgres.js';

/**
 * The migration step of two Mastodon tasks starting at once, against a real PostgreSQL: the
 * command the compiler writes takes an advisory lock in Ruby's pg (as in the Mastodon image),
 * so the second migration only starts after the first ended. Rails itself cannot run here; a
 * `bundle` stand-in runs Ruby for real and, for `rails db:...`, records when the migration ran.
 */
describe('migrations of tasks starting at once (real PostgreSQL, real Ruby pg)', function () {
  this.timeout(120_000);
  const postgres = usePostgres();
  let work: string;
  let port: number;

  before(() => {
    for (const [tool, why] of [['ruby', 'Debian package ruby']] as const) {
      if (spawnSync('which', [tool]).status !== 0) throw new Error(`${tool} is not installed (${why}); .ci/run installs it`);
    }
    if (spawnSync('ruby', ['-rpg', '-e', '']).status !== 0) throw new Error('Ruby pg is not installed (Debian package ruby-pg); .ci/run installs it');
    ({ work, port } = postgres);
  });

  async function runTwoAtOnce(command: string[], extraEnv: Record<string, string> = {}, times = 2): Promise<{ log: string[]; codes: (number | null)[]; outputs: string[] }> {
    const bin = join(work, 'bin');
    mkdirSync(bin, { recursive: true });
    const logFile = join(work, `migrations-${Date.now()}.log`);
    const standIn = join(work, 'mastodon-4.5.rb');
    writeFileSync(standIn, mastodonStandIn('4.5'));
    // bundle exec ruby ...: real Ruby. bundle exec rails runner CODE: real Ruby with the models' stand-in.
    // bundle exec rails db:...: a migration of one second, recorded (failing when FAIL_MIGRATION is set).
    writeFileSync(
      join(bin, 'bundle'),
      `#!/bin/sh\n[ "$1" = exec ] && shift\nif [ "$1" = ruby ]; then shift; exec ruby "$@"; fi\nif [ "$2" = runner ]; then exec ruby -e "$(cat ${standIn})\n$3"; fi\necho "start $$ $(date +%s%N) $* skip=\${SKIP_POST_DEPLOYMENT_MIGRATIONS:-unset}" >> "${logFile}"\nsleep 1\necho "end $$ $(date +%s%N)" >> "${logFile}"\n[ -z "$FAIL_MIGRATION" ]\n`,
    );
    chmodSync(join(bin, 'bundle'), 0o755);
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, DB_HOST: '127.0.0.1', DB_PORT: String(port), DB_NAME: 'postgres', DB_USER: 'mastodon', DB_PASS: 'unused', DB_SSLMODE: 'disable', ...extraEnv };
    const run = () =>
      new Promise<{ code: number | null; output: string }>((resolve) => {
        const child = spawn(command[0], command.slice(1), { env, stdio: ['ignore', 'pipe', 'inherit'] });
        let output = '';
        child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.once('close', (code) => resolve({ code, output }));
      });
    const runs = await Promise.all(Array.from({ length: times }, run));
    return { log: readFileSync(logFile, 'utf8').trim().split('\n'), codes: runs.map((r) => r.code), outputs: runs.map((r) => r.output) };
  }

  const migrateCommand = (id: 'WebTaskDefinition' | 'PostDeploymentMigrationTaskDefinition', version?: string) => {
    const main = (version ? buildConfig({ yaml: `service: social\ndomain: social.example.com\nmastodon: { version: ${version} }\n` }) : buildConfig({ file: join(REPO_ROOT, 'mastodon.config.yaml') })).resources();
    const container = (main[id].Properties.ContainerDefinitions as { Name: string; Command: string[]; Environment: { Name: string; Value: string }[] }[]).find((c) => c.Name === 'migrate')!;
    return { command: container.Command, environment: Object.fromEntries(container.Environment.map((e) => [e.Name, e.Value])) };
  };

  // 4.3's schema load marks only the migrations on the path as run: skipping db/post_migrate there would leave
  // them all for the deployer's db:migrate, which fails on the new schema (fixed upstream in v4.4.0, #34089).
  for (const version of ['v4.3.23', 'v4.5.2']) {
    it(`loads the schema of an empty database with the post-deployment migrations, and later migrates without them (${version})`, async () => {
      const { command, environment } = migrateCommand('WebTaskDefinition', version);
      expect(environment.SKIP_POST_DEPLOYMENT_MIGRATIONS).to.equal('true');
      const skip = { SKIP_POST_DEPLOYMENT_MIGRATIONS: environment.SKIP_POST_DEPLOYMENT_MIGRATIONS };
      const empty = await runTwoAtOnce(command, skip, 1);
      expect(empty.codes).to.deep.equal([0]);
      expect(empty.log[0]).to.match(/rails db:prepare skip=unset$/);

      postgres.sql('CREATE TABLE schema_migrations (version varchar PRIMARY KEY)');
      try {
        const migrated = await runTwoAtOnce(command, skip, 1);
        expect(migrated.codes).to.deep.equal([0]);
        expect(migrated.log[0]).to.match(/rails db:prepare skip=true$/);
      } finally {
        postgres.sql('DROP TABLE schema_migrations');
      }
    });
  }

  for (const [name, task] of [['migrate', 'db:prepare'], ['post-deployment migrate', 'db:migrate']] as const) {
    it(`the ${name} command lets only one task migrate at a time (rails ${task})`, async () => {
      const main = buildConfig({ file: join(REPO_ROOT, 'mastodon.config.yaml') }).resources();
      const definition = name === 'migrate' ? main.WebTaskDefinition : main.PostDeploymentMigrationTaskDefinition;
      const command = (definition.Properties.ContainerDefinitions as { Name: string; Command: string[] }[]).find((c) => c.Name === 'migrate')!.Command;
      const { log, codes } = await runTwoAtOnce(command);
      expect(codes).to.deep.equal([0, 0]);
      const events = log.map((line) => line.split(' '));
      // Both ran the Rails task, one after the other: start, end, start, end, never interleaved.
      expect(events.map((e) => e[0])).to.deep.equal(['start', 'end', 'start', 'end']);
      expect(events[0][1]).to.equal(events[1][1]);
      expect(events[2][1]).to.equal(events[3][1]);
      expect(log[0]).to.include(`rails ${task}`);
    });
  }

  describe('content retention after the post-deployment migrations (stand-in Setting, real Ruby)', () => {
    const postDeploymentCommand = (retention: string) => {
      const main = buildConfig({ yaml: `service: social\ndomain: social.example.com\nmastodon: { retention: ${retention} }\n` }).resources();
      return (main.PostDeploymentMigrationTaskDefinition.Properties.ContainerDefinitions as { Name: string; Command: string[] }[]).find((c) => c.Name === 'migrate')!.Command;
    };
    const settings = async (state: string) => {
      const read = await runRuby(`${mastodonStandIn('4.5')}\nrequire "json"\np = ContentRetentionPolicy.current\nputs JSON.generate({ stored: $db[:settings], media: p.media_cache_retention_period, content: p.content_cache_retention_period, backups: p.backups_retention_period })`, { STANDIN_STATE: state });
      expect(read.status, read.stderr).to.equal(0);
      return JSON.parse(read.stdout) as { stored: Record<string, unknown> | null; media: number | null; content: number | null; backups: number | null };
    };

    it('writes the configured days once migrated, puts back a value changed in the admin UI, and writes nothing when nothing differs', async () => {
      const state = join(work, `retention-${Date.now()}.state`);
      const command = postDeploymentCommand('{ mediaCacheDays: 30, userArchiveDays: 0 }');
      const first = await runTwoAtOnce(command, { STANDIN_STATE: state }, 1);
      expect(first.codes).to.deep.equal([0]);
      expect(first.log[0]).to.include('rails db:migrate');
      expect(first.outputs[0]).to.include('media_cache_retention_period set to 30 days (was nil)');
      expect(first.outputs[0]).to.include('backups_retention_period set to keep forever (was 7)');
      // content: 0 and no row: Mastodon already keeps forever, so nothing is written for it.
      expect(await settings(state)).to.deep.equal({ stored: { media_cache_retention_period: 30, backups_retention_period: null }, media: 30, content: null, backups: null });

      // An admin sets 3 days in Administration → Server settings: the next deploy's config wins.
      expect((await runRuby(`${mastodonStandIn('4.5')}\nSetting["media_cache_retention_period"] = 3`, { STANDIN_STATE: state })).status).to.equal(0);
      const second = await runTwoAtOnce(command, { STANDIN_STATE: state }, 1);
      expect(second.outputs[0].trim().split('\n')).to.deep.equal(['Content retention: media_cache_retention_period set to 30 days (was 3)']);
      const third = await runTwoAtOnce(command, { STANDIN_STATE: state }, 1);
      expect(third.codes).to.deep.equal([0]);
      expect(third.outputs[0]).to.equal('');
      expect((await settings(state)).media).to.equal(30);
    });

    it('leaves the settings alone and fails the task when the migrations fail', async () => {
      const state = join(work, `retention-failed-${Date.now()}.state`);
      const failed = await runTwoAtOnce(postDeploymentCommand('{ mediaCacheDays: 30 }'), { STANDIN_STATE: state, FAIL_MIGRATION: '1' }, 1);
      expect(failed.codes).to.deep.equal([1]);
      expect(failed.outputs[0]).to.equal('');
      expect(existsSync(state)).to.equal(false);
    });

    it('the stand-in refuses a setting the release does not read, and ContentRetentionPolicy ignores a value that is not an Integer', async () => {
      const unknown = await runRuby(`${mastodonStandIn('4.3')}\nSetting["media_retention_period"] = 14`, {});
      expect(unknown.status).to.not.equal(0);
      expect(unknown.stderr).to.include('media_retention_period is not a setting Mastodon v4.3.23 reads');
      const text = await runRuby(`${mastodonStandIn('4.3')}\nSetting["media_cache_retention_period"] = "14"; p ContentRetentionPolicy.current.media_cache_retention_period`, {});
      expect(text.stdout.trim()).to.equal('nil');
    });
  });
});
