// npm run bench: cold `mastodon-cfn build` of the shipped config, 10 runs; median wall time and peak memory.
// Each run is a fresh process, timed and measured (peak RSS of the child) by a small python3 wrapper,
// since node cannot read a child's resource usage.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const RUNS = 10;
const TARGET = { seconds: 0.2, megabytes: 100 };

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
    const line = execFileSync('python3', ['-c', measure, process.execPath, join(root, 'bin/mastodon-cfn.js'), 'build', '--config', join(root, 'mastodon.config.yaml'), '--out', join(out, 'out')], { encoding: 'utf8' });
    const [seconds, kilobytes] = line.trim().split(' ').map(Number);
    runs.push({ seconds, megabytes: kilobytes / 1024 });
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}

const seconds = median(runs.map((r) => r.seconds));
const peak = Math.max(...runs.map((r) => r.megabytes));
const verdict = (ok) => (ok ? 'within target' : 'OVER TARGET');
console.log(`mastodon-cfn build (reference config, ${RUNS} cold runs)`);
console.log(`  median wall time  ${seconds.toFixed(3)} s   target < ${TARGET.seconds} s   ${verdict(seconds < TARGET.seconds)}`);
console.log(`  peak memory       ${peak.toFixed(1)} MB   target < ${TARGET.megabytes} MB   ${verdict(peak < TARGET.megabytes)}`);
