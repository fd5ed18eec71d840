import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { allowsAction, iamActionOf } from '../../src/aws/iam.js';
import { inMemoryPackage } from '../../src/deployer/manifest.js';
import { deployerPolicy } from '../../src/policy.js';
import { API_CALL_LOG, buildConfig, minimalYaml, REPO_ROOT } from './build.js';

/** A config with every part that makes the deployer call AWS: its policy is the widest `policy` prints. */
export const EVERYTHING = minimalYaml(`size: large
search: {}
database: { readReplica: true }
alerts: { email: ops@example.com }
dns: { route53: true }
mastodon: { owner: { username: alice, email: alice@example.com } }
services:
  postblog: { build: ${join(REPO_ROOT, 'postblog')}, port: 8000, healthCheck: /status, host: comments.example.com, table: true, mastodon: { account: blog, scopes: [write:statuses] } }
`);

/**
 * Every AWS API call the CLI made against moto_server in this run (each logged by the deployer's
 * clients to MASTODON_CFN_API_LOG) must be allowed by the policy `mastodon-cfn policy` prints: a call
 * the policy forgets is a deploy that fails for a user who followed it.
 */
export const mochaHooks = {
  afterAll(): void {
    if (!existsSync(API_CALL_LOG)) throw new Error(`no AWS API call was logged to ${API_CALL_LOG}: the policy was not checked against what the deployer does`);
    const calls = new Set(readFileSync(API_CALL_LOG, 'utf8').trim().split('\n').map((line) => {
      const { service, operation } = JSON.parse(line) as { service: string; operation: string };
      return `${service} ${operation}`;
    }));
    rmSync(API_CALL_LOG, { force: true });
    // The transfer tests' own buckets are the user's: `policy --transfer-bucket` names them.
    const { policy } = deployerPolicy(inMemoryPackage(buildConfig({ yaml: EVERYTHING }).files), '*', ['leaving']);
    const missing = [...calls].sort().filter((call) => {
      const [service, operation] = [call.slice(0, call.lastIndexOf(' ')), call.slice(call.lastIndexOf(' ') + 1)];
      const action = iamActionOf(service, operation);
      return action !== undefined && !allowsAction(policy, action);
    });
    if (missing.length > 0) throw new Error(`mastodon-cfn policy does not allow these calls the deployer made: ${missing.join(', ')}`);
    process.stdout.write(`  policy: allows all ${calls.size} kinds of AWS API call the deployer made against moto_server\n`);
  },
};
