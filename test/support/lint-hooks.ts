import { spawnSync } from 'node:child_process';
import { templatesToLint } from './build.js';

/**
 * Every template any test produces is linted by cfn-lint, in one call at the end (cfn-lint
 * takes seconds to start). Zero errors and zero warnings: any output at all fails the run.
 */
export const mochaHooks = {
  beforeAll(): void {
    const probe = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
    if (probe.status !== 0) throw new Error('cfn-lint is not installed: every template the tests produce must pass it (pip install cfn-lint)');
  },
  afterAll(this: Mocha.Context): void {
    this.timeout(300_000);
    const files = [...templatesToLint];
    if (files.length === 0) throw new Error('no templates were produced, so nothing was linted');
    const result = spawnSync('cfn-lint', ['--', ...files], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    const findings = `${result.stdout}${result.stderr}`.trim();
    if (result.status !== 0 || findings !== '') {
      throw new Error(`cfn-lint found problems in the templates the tests produced (exit ${result.status}):\n${findings}`);
    }
    process.stdout.write(`  cfn-lint: ${files.length} templates, no errors, no warnings\n`);
  },
};
