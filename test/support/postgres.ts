import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './moto.js';
import { tempDir } from './build.js';

/** A real PostgreSQL server of this machine, on 127.0.0.1 at a free port, for one suite. */
export interface Postgres {
  port: number;
  /** The folder of the server's client tools (psql, pg_dump, pg_restore), of the server's own version. */
  bin: string;
  /** A scratch folder of the suite, removed after it. */
  work: string;
  /** Runs SQL as the superuser `mastodon`, failing the test on an error; returns psql's unaligned output. */
  sql(statement: string, database?: string): string;
}

function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const version = existsSync(root) ? readdirSync(root).sort().at(-1) : undefined;
  if (!version) throw new Error('PostgreSQL server binaries are not installed (Debian package postgresql); .ci/run installs it');
  return join(root, version, 'bin');
}

// initdb refuses to run as root: the server then runs as the postgres user.
function asServerUser(command: string, args: string[]) {
  return process.getuid?.() === 0 ? spawnSync('runuser', ['-u', 'postgres', '--', command, ...args], { encoding: 'utf8' }) : spawnSync(command, args, { encoding: 'utf8' });
}

/** Starts a server before the suite (superuser `mastodon`, trust on 127.0.0.1) and stops it after. */
export function usePostgres(): Postgres {
  const postgres = { bin: '', port: 0, work: '' } as Postgres;
  let data = '';
  before(async function () {
    this.timeout(60_000);
    if (process.getuid?.() === 0 && spawnSync('which', ['runuser']).status !== 0) throw new Error('runuser is not installed (util-linux); .ci/run installs it');
    postgres.bin = postgresBin();
    postgres.port = await freePort();
    postgres.work = tempDir('mastodon-cfn-pg-');
    data = join(postgres.work, 'data');
    mkdirSync(data);
    chmodSync(postgres.work, 0o755);
    if (process.getuid?.() === 0) {
      const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
      const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
      chownSync(data, Number(uid.stdout), Number(gid.stdout));
    }
    const init = asServerUser(join(postgres.bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'mastodon']);
    if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
    const start = asServerUser(join(postgres.bin, 'pg_ctl'), ['-D', data, '-w', '-l', join(data, 'server.log'), '-o', `-p ${postgres.port} -k ${data} -c listen_addresses=127.0.0.1`, 'start']);
    if (start.status !== 0) throw new Error(`PostgreSQL did not start: ${start.stderr}${existsSync(join(data, 'server.log')) ? readFileSync(join(data, 'server.log'), 'utf8') : ''}`);
  });
  after(() => {
    if (data && existsSync(join(data, 'postmaster.pid'))) asServerUser(join(postgres.bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']);
    if (postgres.work) rmSync(postgres.work, { recursive: true, force: true });
  });
  postgres.sql = (statement, database = 'postgres') => {
    const result = spawnSync(join(postgres.bin, 'psql'), ['-X', '-A', '-t', '-h', '127.0.0.1', '-p', String(postgres.port), '-U', 'mastodon', '-d', database, '-v', 'ON_ERROR_STOP=1', '-c', statement], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`psql failed on ${statement}: ${result.stderr}`);
    return result.stdout.trim();
  };
  return postgres;
}
