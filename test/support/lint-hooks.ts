import { spawn, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { templatesToLint } from './build.js';

/** One cfn-lint process, its findings (stdout and stderr) and exit status. */
function lint(files: string[]): Promise<{ status: number | null; findings: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('cfn-lint', ['--', ...files], { stdio: ['ignore', 'pipe', 'pipe'] });
    let findings = '';
    child.stdout.on('data', (chunk) => (findings += chunk));
    child.stderr.on('data', (chunk) => (findings += chunk));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, findings }));
  });
}

/**
 * Every template any test produces is linted by cfn-lint at the end (cfn-lint takes seconds to
 * start), in one process per core: some 300 templates take minutes in one. Zero errors and zero
 * warnings: any output at all fails the run.
 */
export const mochaHooks = {
  beforeAll(): void {
    const probe = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
    if (probe.status !== 0) throw new Error('cfn-lint is not installed: every template the tests produce must pass it (pip install cfn-lint)');
  },
  async afterAll(this: Mocha.Context): Promise<void> {
    this.timeout(900_000);
    const files = [...templatesToLint];
    if (files.length === 0) throw new Error('no templates were produced, so nothing was linted');
    const processes = Math.max(1, Math.min(availableParallelism(), files.length));
    const shares = Array.from({ length: processes }, (_, i) => files.filter((_, index) => index % processes === i));
    const results = await Promise.all(shares.map(lint));
    const failed = results.filter((result) => result.status !== 0 || result.findings.trim() !== '');
    if (failed.length > 0) {
      throw new Error(`cfn-lint found problems in the templates the tests produced (exit ${failed.map((r) => r.status).join(', ')}):\n${failed.map((r) => r.findings.trim()).join('\n')}`);
    }
    process.stdout.write(`  cfn-lint: ${files.length} templates, no errors, no warnings\n`);
  },
};
