import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** A real CloudFormation / S3 / Secrets Manager API on a free loopback port: moto_server, started and stopped by the tests. */
export interface Moto {
  endpoint: string;
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * moto_server, with DynamoDB's guarantee that a single-item write is atomic: "Individual write
 * operations such as UpdateItem are atomic and always operate on the most recent version of the
 * item, regardless of concurrency" (Amazon DynamoDB Developer Guide, Best practices for handling
 * concurrent updates). moto_server 5 serves requests on threads and checks a write's condition
 * before storing the item without a lock (moto/dynamodb/models/table.py, Table.put_item), so two
 * concurrent `attribute_not_exists` puts can both succeed; one lock around its DynamoDB requests
 * gives back what DynamoDB promises.
 *
 * And termination protection, which moto 5.2 keeps from CreateStack but neither changes
 * (UpdateTerminationProtection is not implemented) nor enforces: as CloudFormation, it is set on a
 * stack, and a DeleteStack of a protected stack is refused with CloudFormation's ValidationError
 * ("Stack [name] cannot be deleted while TerminationProtection is enabled", API reference, DeleteStack).
 */
const MOTO_SERVER = `
import sys, threading
from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import CloudFormationBackend
from moto.cloudformation.responses import CloudFormationResponse
from moto.core.responses import ActionResult
from moto.dynamodb.responses import DynamoHandler
from moto.server import main
one_at_a_time = threading.Lock()
call_action = DynamoHandler.call_action
def atomic(self):
    with one_at_a_time:
        return call_action(self)
DynamoHandler.call_action = atomic

def update_termination_protection(self):
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    stack.enable_termination_protection = self._get_param("EnableTerminationProtection") in (True, "true")
    return ActionResult({"StackId": stack.stack_id})
CloudFormationResponse.update_termination_protection = update_termination_protection
delete_stack = CloudFormationBackend.delete_stack
def protected_delete(self, name_or_stack_id):
    stack = next((s for s in self.stacks.values() if name_or_stack_id in (s.name, s.stack_id) and s.status != "DELETE_COMPLETE"), None)
    if stack is not None and stack.enable_termination_protection:
        raise ValidationError(name_or_stack_id, message=f"Stack [{name_or_stack_id}] cannot be deleted while TerminationProtection is enabled")
    return delete_stack(self, name_or_stack_id)
CloudFormationBackend.delete_stack = protected_delete
sys.exit(main())
`;

export async function startMoto(): Promise<Moto> {
  const port = await freePort();
  // The interpreter pip installed moto[server] into (the moto_server script is a thin wrapper of moto.server.main).
  const child: ChildProcess = spawn('python3', ['-c', MOTO_SERVER, '-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += String(chunk)));
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited (${child.exitCode}): ${stderr}`);
    try {
      await fetch(`${endpoint}/moto-api/`);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`moto_server did not answer on ${endpoint} within 30 s: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return {
    endpoint,
    env: { AWS_ENDPOINT_URL: endpoint, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_SESSION_TOKEN: 'testing', AWS_EC2_METADATA_DISABLED: 'true', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' },
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/**
 * moto_server for the tests of one `describe`: started before them (or before each, for a clean
 * account every test), with the AWS SDK's environment pointed at it, and stopped after.
 */
export function useMoto(scope: 'suite' | 'each' = 'suite'): Moto {
  let running: Moto | undefined;
  const saved: Record<string, string | undefined> = {};
  (scope === 'each' ? beforeEach : before)(async () => {
    running = await startMoto();
    for (const [key, value] of Object.entries(running.env)) {
      saved[key] = process.env[key];
      process.env[key] = value;
    }
  });
  (scope === 'each' ? afterEach : after)(async () => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await running?.stop();
    running = undefined;
  });
  const current = () => {
    if (!running) throw new Error('moto_server runs only while the tests of its describe run');
    return running;
  };
  return {
    get endpoint() {
      return current().endpoint;
    },
    get env() {
      return current().env;
    },
    stop: () => current().stop(),
  };
}
