import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { expect } from 'chai';
import { startMoto, type Moto } from '../../test/support/moto.js';
import { startBlog, type Blog } from './support/blog.js';
import { dynamoStore } from '../src/store.js';
import { createTable, motoDynamo } from './support/dynamo.js';
import { startMastodon, type MastodonStandIn } from './support/mastodon.js';
import { testEnvironment } from './support/environment.js';

interface Replica {
  process: ChildProcess;
  port: number;
  /** Everything the replica logged so far (one JSON object a line). */
  output(): string;
}

/** Starts one postblog process and returns the port it listens on. */
async function startReplica(environment: Record<string, string>): Promise<Replica> {
  const child = spawn(process.execPath, [join(import.meta.dirname, '../src/server.js')], { env: { ...process.env, ...environment }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let output = '';
    // Keep reading: the replica logs every request, and a closed pipe would stop it.
    child.stdout!.on('data', (chunk) => {
      output += String(chunk);
      const line = output.split('\n').find((l) => l.includes('"listening"'));
      if (line) resolve({ process: child, port: (JSON.parse(line) as { port: number }).port, output: () => output });
    });
    child.once('exit', () => reject(new Error(`postblog exited before listening: ${output}`)));
  });
}

describe('postblog: exactly one Mastodon post per blog URL, under concurrent first requests', function () {
  let moto: Moto;
  let mastodon: MastodonStandIn;
  let blog: Blog;
  const replicas: Replica[] = [];

  before(async () => {
    [moto, mastodon, blog] = await Promise.all([startMoto(), startMastodon(), startBlog()]);
  });
  after(async () => {
    for (const { process: replica } of replicas) {
      replica.kill('SIGTERM');
      if (replica.exitCode === null) await once(replica, 'exit');
    }
    await Promise.all([moto?.stop(), mastodon?.close(), blog?.close()]);
  });

  it('of concurrent claims of one post, exactly one wins, as DynamoDB\'s atomic conditional write promises', async () => {
    const store = dynamoStore(await createTable(moto.endpoint), motoDynamo(moto.endpoint));
    const winners = await Promise.all(
      Array.from({ length: 25 }, async (_, post) => {
        const claims = await Promise.all(Array.from({ length: 12 }, (_, i) => store.claim(`https://blog.example/posts/${post}`, `owner-${i}`, 30_000)));
        return claims.filter(Boolean).length;
      }),
    );
    expect(winners).to.deep.equal(Array(25).fill(1));
  });

  it('50 simultaneous first requests to two processes create one post, and all get it', async () => {
    const environment = { ...testEnvironment(mastodon, blog, await createTable(moto.endpoint), moto), TIMEOUT_MS: '5000' };
    for (let i = 0; i < 2; i++) replicas.push(await startReplica(environment));
    const ports = replicas.map((replica) => replica.port);
    const url = `${blog.url}/posts/hello-world`;
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => fetch(`http://127.0.0.1:${ports[i % 2]}/?url=${encodeURIComponent(url)}`).then(async (r) => ({ status: r.status, body: await r.json() }))),
    );
    // A request that failed says why only in its replica's log: show those lines with the failure.
    const problems = replicas.flatMap((replica, i) => replica.output().split('\n').filter((line) => /"level":"(warn|error)"/.test(line)).map((line) => `replica ${i}: ${line}`));
    expect(answers.map((a) => a.status), problems.join('\n')).to.deep.equal(Array(50).fill(200));
    expect(new Set(answers.map((a) => a.body.toot_id)).size).to.equal(1);
    expect(mastodon.posts, 'POSTs that reached Mastodon').to.have.length(1);
    expect(mastodon.created).to.equal(1);
  });
});
