import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';

import type { Config } from '../../src/config.js';
import { createApp } from '../../src/app.js';
import { mastodonPublisher } from '../../src/mastodon.js';
import { createResolver } from '../../src/resolver.js';
import { dynamoStore } from '../../src/store.js';

/** A DynamoDB client for the test's moto_server. */
export function motoDynamo(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
}

/** The postblog app as server.ts wires it, with its store on moto_server. */
export function appOnMoto(config: Config, endpoint: string, log: (entry: Record<string, unknown>) => void = () => undefined) {
  return createApp({ version: config.version, resolve: createResolver(config, dynamoStore(config.tableName, motoDynamo(endpoint)), mastodonPublisher(config)), log });
}

/** A table shaped like the one mastodon-cfn makes for a service (string key `pk`), on the test's moto_server. */
export async function createTable(endpoint: string): Promise<string> {
  const tableName = `postblog-${randomUUID()}`;
  await motoDynamo(endpoint).send(new CreateTableCommand({ TableName: tableName, BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] }));
  return tableName;
}
