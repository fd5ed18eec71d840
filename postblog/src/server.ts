import { createApp } from './app.js';
import { ConfigError, readConfig } from './config.js';
import { mastodonPublisher } from './mastodon.js';
import { createResolver } from './resolver.js';
import { dynamoClient, dynamoStore } from './store.js';

try {
  const config = readConfig(process.env);
  const app = createApp({ version: config.version, resolve: createResolver(config, dynamoStore(config.tableName, dynamoClient(config.timeoutMs)), mastodonPublisher(config)) });
  const server = app.listen(config.port, () => {
    const { port } = server.address() as { port: number };
    process.stdout.write(`${JSON.stringify({ level: 'info', message: 'listening', port, version: config.version })}\n`);
  });
  // ECS stops a task with SIGTERM: finish the requests under way, then leave.
  process.once('SIGTERM', () => server.close(() => process.exit(0)));
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
