import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerDefinition } from '../src/compiler/cfn.js';
import { buildConfig, minimalYaml } from './support/build.js';
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

describe('import and export of a database (real PostgreSQL, the compiled scripts)', function () {
  this.timeout(120_000);
  const postgres = usePostgres();
  const restore = () => transferContainer('ImportTaskDefinition', 'restore');

  /** Runs a compiled container's script as the RDS master user would: a role that is no superuser and owns only its database. */
  function runScript(container: Container, dumpFile: string, database: string, extra: Record<string, string> = {}) {
    expect(container.EntryPoint).to.deep.equal(['sh', '-c']);
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

  it('restores a dump of an older release as the master user, leaving out what only a superuser may change, with its owner the master user', () => {
    const dump = oldServer('old_a', ['20240101000000', '20241007071624']);
    newInstance('new_a');
    const result = runScript(restore(), dump, 'new_a');
    expect(result.output).to.include("The dump's newest migration is 20241007071624");
    expect(result.status, result.output).to.equal(0);
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
