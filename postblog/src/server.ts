import { createApp } from './app.js';
import { ConfigError, readConfig } from './config.js';
import { HttpError } from './errors.js';
import { mastodonPublisher } from './mastodon.js';
import { createResolver } from './resolver.js';
import { dynamoClient, dynamoStore } from './store.js';

const line = (entry: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(entry)}\n`);

try {
  const config = readConfig(process.env);
  const store = dynamoStore(config.tableName, dynamoClient(config.timeoutMs));
  // A missing table is a setting to fix, found at start-up; an unreachable DynamoDB may come back, and /status says so meanwhile.
  try {
    await store.check();
  } catch (error) {
    const detail = error instanceof HttpError ? error.detail : (error as Error).message;
    if (/does not exist/.test(detail ?? '')) {
      process.stderr.write(`postblog cannot start: ${detail} (TABLE_NAME)\n`);
      process.exit(1);
    }
    line({ level: 'warn', message: 'the store is unavailable at start-up', cause: detail });
  }
  const app = createApp({ version: config.version, resolve: createResolver(config, store, mastodonPublisher(config)), health: () => store.check(), log: line });
  const server = app.listen(config.port, () => {
    const { port } = server.address() as { port: number };
    line({ level: 'info', message: 'listening', port, version: config.version });
  });
  // ECS stops a task with SIGTERM: finish the requests under way, then leave.
  process.once('SIGTERM', () => server.close(() => process.exit(0)));
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
