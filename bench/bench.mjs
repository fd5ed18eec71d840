// npm run bench: cold `mastodon-cfn build` of the shipped config, 10 runs; median wall time and peak memory.
// Each run is a fresh process, timed and measured (peak RSS of the child) by a small python3 wrapper,
// since node cannot read a child's resource usage.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const RUNS = 10;
const TARGET = { seconds: 0.2, megabytes: 100, overBareNode: 1.6 };

const measure = `
import resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
elapsed = time.perf_counter() - start
if code != 0: sys.exit(code)
print(elapsed, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
`;

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const out = mkdtempSync(join(tmpdir(), 'mastodon-cfn-bench-'));
const runs = [];
try {
  for (let i = 0; i < RUNS; i++) {
    const line = execFileSync('python3', ['-c', measure, process.execPath, join(root, 'bin/mastodon-cfn.cjs'), 'build', '--config', join(root, 'mastodon.config.yaml'), '--out', join(out, 'out')], { encoding: 'utf8' });
    const [seconds, kilobytes] = line.trim().split(' ').map(Number);
    runs.push({ seconds, megabytes: kilobytes / 1024 });
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}

const seconds = median(runs.map((r) => r.seconds));
// The floor: a Node process that does nothing, measured the same way, in the same run.
const bareRuns = [];
for (let i = 0; i < RUNS; i++) bareRuns.push(Number(execFileSync('python3', ['-c', measure, process.execPath, '-e', ''], { encoding: 'utf8' }).trim().split(' ')[0]));
const bare = median(bareRuns);
const peak = Math.max(...runs.map((r) => r.megabytes));
const verdict = (ok) => (ok ? 'within target' : 'OVER TARGET');
console.log(`mastodon-cfn build (reference config, ${RUNS} cold runs)`);
console.log(`  median wall time  ${seconds.toFixed(3)} s   target < ${TARGET.seconds} s   ${verdict(seconds < TARGET.seconds)}`);
console.log(`  peak memory       ${peak.toFixed(1)} MB   target < ${TARGET.megabytes} MB   ${verdict(peak < TARGET.megabytes)}`);
console.log(`  bare node start   ${bare.toFixed(3)} s   build is ${(seconds / bare).toFixed(2)}x that   target <= ${TARGET.overBareNode}x   ${verdict(seconds / bare <= TARGET.overBareNode)}`);

// Side by side with the Serverless Framework: `serverless package` of a one-function service
// (v3, the last version that runs without an account), against `mastodon-cfn build` of the whole
// reference config, alternating, 5 runs each. serverless is installed once into node_modules/.cache.
{
  const { existsSync, mkdirSync, writeFileSync } = await import('node:fs');
  const cache = join(root, 'node_modules/.cache/mastodon-cfn-bench');
  const serverless = join(cache, 'node_modules/.bin/serverless');
  if (!existsSync(serverless)) {
    mkdirSync(cache, { recursive: true });
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-save', '--prefix', cache, 'serverless@3.40.0'], { stdio: 'ignore' });
  }
  const service = mkdtempSync(join(tmpdir(), 'mastodon-cfn-bench-sls-'));
  writeFileSync(join(service, 'serverless.yml'), 'service: social\nframeworkVersion: "3"\nprovider:\n  name: aws\n  runtime: nodejs20.x\n  region: eu-central-1\nfunctions:\n  hello:\n    handler: handler.hello\n');
  writeFileSync(join(service, 'handler.js'), 'exports.hello = async () => ({ statusCode: 200 });\n');
  const quiet = { ...process.env, AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench', SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off', SLS_INTERACTIVE_SETUP_DISABLE: '1' };
  const time = (command, args, cwd) => {
    const start = performance.now();
    execFileSync(command, args, { cwd, env: quiet, stdio: 'ignore' });
    return (performance.now() - start) / 1000;
  };
  const ours = [];
  const theirs = [];
  try {
    for (let i = 0; i < 5; i++) {
      ours.push(time(process.execPath, [join(root, 'bin/mastodon-cfn.cjs'), 'build', '--config', join(root, 'mastodon.config.yaml'), '--out', join(service, 'ours')], root));
      theirs.push(time(serverless, ['package'], service));
    }
  } finally {
    rmSync(service, { recursive: true, force: true });
  }
  const ratio = median(theirs) / median(ours);
  console.log('side by side with the Serverless Framework (median of 5, alternating)');
  console.log(`  mastodon-cfn build (whole reference config)   ${median(ours).toFixed(3)} s`);
  console.log(`  serverless package (one function)             ${median(theirs).toFixed(3)} s   mastodon-cfn is ${ratio.toFixed(1)}x faster   target >= 15x   ${verdict(ratio >= 15)}`);
}

// Scale: checking stays linear in the size of the config. A config of 16,000 unknown keys (every
// one a problem) and the largest config accepted (512 KB of valid keys) are checked once each;
// a 5 MB file is refused before it is parsed. Target: each under 2 s.
{
  const { writeFileSync } = await import('node:fs');
  const dir = mkdtempSync(join(tmpdir(), 'mastodon-cfn-bench-scale-'));
  const head = 'service: social\ndomain: social.example.com\n';
  const configs = [
    ['16,000 unknown keys', `${head}mastodon:\n${Array.from({ length: 16_000 }, (_, i) => `  unknown${i}: 1\n`).join('')}`],
    ['512 KB of valid keys', `${head}custom:\n${Array.from({ length: 40_000 }, (_, i) => `  k${i}: ${i}\n`).join('').slice(0, 512 * 1024 - 100)}`],
    ['5 MB (refused)', `${head}custom:\n${Array.from({ length: 400_000 }, (_, i) => `  k${i}: ${i}\n`).join('')}`],
  ];
  console.log('config checking at scale (one cold run each; configs with problems exit 1, as they should)');
  try {
    for (const [label, text] of configs) {
      const file = join(dir, 'config.yaml');
      writeFileSync(file, text.replace(/\n[^\n]*$/, '\n'));
      const start = performance.now();
      const run = spawnSync(process.execPath, [join(root, 'bin/mastodon-cfn.cjs'), 'build', '--config', file, '--out', join(dir, 'out')], { stdio: 'ignore' });
      const seconds = (performance.now() - start) / 1000;
      if (run.status === 70 || run.status === null) throw new Error(`${label}: mastodon-cfn failed (${run.status ?? run.signal})`);
      console.log(`  ${label.padEnd(22)} ${seconds.toFixed(2)} s   exit ${run.status}   ${verdict(seconds < 2)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Deploy: the same moto-compatible package, deployed by mastodon-cfn and by `aws cloudformation deploy`, against moto_server.
// moto loads each service's backend on its first request (about a second): both tools deploy once untimed to warm it,
// then each deploys fresh stacks in turn, alternating, and the medians are compared.
const DEPLOY_RUNS = 5;
const { startMoto } = await import('../dist/test/support/moto.js');
const { twoRegionPackage } = await import('../dist/test/support/packages.js');
const { readFileSync } = await import('node:fs');
const moto = await startMoto();
try {
  const env = { ...process.env, ...moto.env };
  const timed = (command, args) => {
    const start = performance.now();
    execFileSync(command, args, { env, stdio: 'ignore' });
    return (performance.now() - start) / 1000;
  };
  const withMastodonCfn = (prefix) => timed(process.execPath, [join(root, 'bin/mastodon-cfn.cjs'), 'deploy', '--package', twoRegionPackage(prefix, { wired: false }), '--yes']);
  const withAwsCli = (prefix) => {
    const directory = twoRegionPackage(prefix, { wired: false });
    const { stacks } = JSON.parse(readFileSync(join(directory, 'manifest.json'), 'utf8'));
    return stacks.reduce(
      (seconds, stack) =>
        seconds + timed('aws', ['cloudformation', 'deploy', '--endpoint-url', moto.endpoint, '--region', stack.region, '--stack-name', stack.name, '--template-file', join(directory, stack.templateFile), '--no-fail-on-empty-changeset']),
      0,
    );
  };
  withMastodonCfn('bench-warm-ours');
  withAwsCli('bench-warm-awscli');
  const ours = [];
  const theirs = [];
  for (let i = 0; i < DEPLOY_RUNS; i++) {
    ours.push(withMastodonCfn(`bench-ours-${i}`));
    theirs.push(withAwsCli(`bench-awscli-${i}`));
  }
  const [oursSeconds, awsSeconds] = [median(ours), median(theirs)];
  console.log(`first deploy of a two-stack, two-region package to moto_server (median of ${DEPLOY_RUNS}, after one untimed warm-up each)`);
  console.log(`  mastodon-cfn deploy        ${oursSeconds.toFixed(2)} s`);
  console.log(`  aws cloudformation deploy  ${awsSeconds.toFixed(2)} s   ${verdict(oursSeconds <= awsSeconds)} (target: no slower than awscli)`);
} finally {
  await moto.stop();
}
