import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { DescribeStacksCommand, ListChangeSetsCommand } from '@aws-sdk/client-cloudformation';
import { expect } from 'chai';
import { sdkClients } from '../src/deployer/aws.js';
import { CLI, REPO_ROOT, runCli } from './support/build.js';
import { useMoto } from './support/moto.js';
import { writePackage } from './support/packages.js';

/** The CLI on a pseudo-terminal (Python's pty module), as a user runs it: `keys` are typed once `prompt` appears. */
function onTerminal(args: string[], env: Record<string, string>, prompt: RegExp, keys: string): Promise<{ status: number | null; output: string }> {
  const script = `
import os, pty, re, select, sys
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
out, typed = b'', False
while True:
    ready, _, _ = select.select([fd], [], [], 60)
    if not ready:
        break
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
    if not typed and re.search(os.environ['PROMPT'].encode(), out):
        os.write(fd, os.environ['KEYS'].encode())
        typed = True
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(status))
`;
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', script, process.execPath, CLI, ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env, PROMPT: prompt.source, KEYS: keys } });
    let output = '';
    child.stdout.on('data', (chunk) => (output += String(chunk)));
    child.stderr.on('data', (chunk) => (output += String(chunk)));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, output }));
  });
}

/** A stack of a topic and an output, which moto deploys. */
const topicPackage = (name: string, output = 'v1') =>
  writePackage([{ name, region: 'eu-central-1', dependsOn: [], template: { Resources: { Alerts: { Type: 'AWS::SNS::Topic' } }, Outputs: { Release: { Value: output } } } }]);

describe('change sets and Ctrl-C, through the CLI, against moto_server', function () {
  const moto = useMoto();
  const cfn = () => sdkClients().cloudFormation('eu-central-1');
  const status = async (name: string) => {
    try {
      return (await cfn().send(new DescribeStacksCommand({ StackName: name }))).Stacks[0].StackStatus as string;
    } catch {
      return 'NONE';
    }
  };
  // Change sets waiting to be executed (moto, unlike CloudFormation, also lists executed ones, and those of every stack).
  const waiting = async (name: string) =>
    ((await cfn().send(new ListChangeSetsCommand({ StackName: name }))).Summaries ?? []).filter((c: { StackName: string; ExecutionStatus: string }) => c.StackName === name && c.ExecutionStatus !== 'EXECUTE_COMPLETE');


  it('Ctrl-C at the [y/N] prompt of a first deploy: exit code 130, no change set and no empty stack left', async () => {
    const result = await onTerminal(['deploy', '--package', topicPackage('asked')], moto.env, /\[y\/N\] /, '\x03');
    expect(result.status, result.output).to.equal(130);
    expect(result.output).to.include('Interrupted: asked was not created; its change set was deleted.');
    expect(result.output).to.not.include('internal error');
    expect(await status('asked')).to.equal('NONE');
  });

  it('Ctrl-C at the [y/N] prompt of an update: exit code 130, the stack as it was, no change set left', async () => {
    expect(runCli(['deploy', '--package', topicPackage('kept'), '--yes'], { env: moto.env }).status).to.equal(0);
    const result = await onTerminal(['deploy', '--package', topicPackage('kept', 'v2')], moto.env, /\[y\/N\] /, '\x03');
    expect(result.status, result.output).to.equal(130);
    expect(result.output).to.include('Interrupted: kept was left as it was; its change set was deleted.');
    expect(await status('kept')).to.equal('CREATE_COMPLETE');
    expect(await waiting('kept')).to.deep.equal([]);
  });

  it('Ctrl-C at the [y/N] prompt of remove: exit code 130, nothing removed', async () => {
    const result = await onTerminal(['remove', '--package', topicPackage('kept')], moto.env, /\[y\/N\] /, '\x03');
    expect(result.status, result.output).to.equal(130);
    expect(result.output).to.include('Interrupted.');
    expect(result.output).to.not.include('internal error');
    expect(await status('kept')).to.equal('CREATE_COMPLETE');
  });

  it('SIGINT while the change set is described: exit code 130, the change set and the empty stack deleted', async () => {
    // A proxy to moto that holds each DescribeChangeSet for a moment, and says when the first one comes.
    let described: () => void = () => undefined;
    const describing = new Promise<void>((resolve) => (described = resolve));
    const proxy: Server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk) => chunks.push(chunk));
      request.on('end', async () => {
        const body = Buffer.concat(chunks);
        if (/Action=DescribeChangeSet/.test(body.toString())) {
          described();
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
        const answer = await fetch(`${moto.endpoint}${request.url}`, { method: request.method, headers: request.headers as Record<string, string>, body: request.method === 'GET' ? undefined : body });
        response.writeHead(answer.status, Object.fromEntries(answer.headers));
        response.end(Buffer.from(await answer.arrayBuffer()));
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const endpoint = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
      const child = spawn(process.execPath, [CLI, 'deploy', '--package', topicPackage('slow'), '--yes'], { cwd: REPO_ROOT, env: { ...process.env, ...moto.env, AWS_ENDPOINT_URL: endpoint } });
      let output = '';
      child.stdout.on('data', (chunk) => (output += String(chunk)));
      child.stderr.on('data', (chunk) => (output += String(chunk)));
      const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
      await describing;
      child.kill('SIGINT');
      expect(await exited, output).to.equal(130);
      expect(output).to.include('Interrupted: slow was not created; no change set is left behind.');
      expect(await status('slow')).to.equal('NONE');
    } finally {
      proxy.close();
    }
  });
});
