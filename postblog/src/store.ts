import { ConditionalCheckFailedException, DeleteItemCommand, DescribeTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { HttpError } from './errors.js';

/** The one record per blog post URL, shared by every replica. */
export interface PostRecord {
  url: string;
  state: 'creating' | 'created';
  tootId?: string;
  tootUrl?: string;
  /** Another form of a post's URL (with a slash, before a redirect) points at the post's own key. */
  aliasOf?: string;
}

export interface PostStore {
  get(url: string): Promise<PostRecord | undefined>;
  /** Takes the right to create the post for `url`; false when another request holds it (or the post exists). */
  claim(url: string, owner: string, leaseMs: number): Promise<boolean>;
  /**
   * Records the post, unless the claim is no longer `owner`'s (its lease ran out and another request took it):
   * that request posts with the same idempotency key, so the same toot, and records it.
   */
  complete(url: string, owner: string, toot: { id: string; url: string }): Promise<void>;
  /** Gives a claim back after a failure, so that the next request can try again. */
  release(url: string, owner: string): Promise<void>;
  /** Records that `url` is another form of the post stored under `target`. */
  alias(url: string, target: string): Promise<void>;
  /** Whether the store answers and its table exists; throws the reason when not. */
  check(): Promise<void>;
}

/** The table's name and a cause for the log: DynamoDB's error, in one line. */
function unavailable(error: unknown, tableName: string): HttpError {
  const { name, message } = error as { name?: string; message?: string };
  const cause = name === 'ResourceNotFoundException' ? `table ${tableName} does not exist` : `${name ?? 'Error'}: ${message ?? ''}`.trim();
  return new HttpError(503, 'The comment store is unavailable; try again shortly', 5, `DynamoDB (${tableName}): ${cause}`);
}

/**
 * The store in DynamoDB (a table with string key `pk`, made by mastodon-cfn for the service).
 * A conditional write makes exactly one request, on any replica, the creator of a URL's post; a
 * claim expires after its lease so that a replica that died mid-way does not block the URL forever.
 */
/** A DynamoDB client whose every request gives up after `timeoutMs` (the SDK's default is to wait forever). */
export function dynamoClient(timeoutMs: number): DynamoDBClient {
  return new DynamoDBClient({ maxAttempts: 3, requestHandler: { connectionTimeout: timeoutMs, requestTimeout: timeoutMs } });
}

export function dynamoStore(tableName: string, client: DynamoDBClient): PostStore {
  const isConditionFailure = (error: unknown) => error instanceof ConditionalCheckFailedException || (error as { name?: string }).name === 'ConditionalCheckFailedException';
  // Every call: a lost condition is an answer; anything else means the store is unavailable.
  const send = async <T = unknown>(command: object): Promise<T> => {
    try {
      return (await client.send(command as never)) as T;
    } catch (error) {
      if (isConditionFailure(error)) throw error;
      throw unavailable(error, tableName);
    }
  };
  return {
    async get(url) {
      const { Item } = await send<{ Item?: Record<string, { S?: string }> }>(new GetItemCommand({ TableName: tableName, Key: { pk: { S: url } }, ConsistentRead: true }));
      if (!Item) return undefined;
      return { url, state: Item.state?.S === 'created' ? 'created' : 'creating', tootId: Item.tootId?.S, tootUrl: Item.tootUrl?.S, aliasOf: Item.aliasOf?.S };
    },
    async claim(url, owner, leaseMs) {
      const now = Date.now();
      try {
        await send(
          new PutItemCommand({
            TableName: tableName,
            Item: { pk: { S: url }, state: { S: 'creating' }, owner: { S: owner }, leaseUntil: { N: String(now + leaseMs) } },
            ConditionExpression: 'attribute_not_exists(pk) OR (#state = :creating AND leaseUntil < :now)',
            ExpressionAttributeNames: { '#state': 'state' },
            ExpressionAttributeValues: { ':creating': { S: 'creating' }, ':now': { N: String(now) } },
          }),
        );
        return true;
      } catch (error) {
        if (isConditionFailure(error)) return false;
        throw error;
      }
    },
    async complete(url, owner, toot) {
      try {
        await send(
          new UpdateItemCommand({
            TableName: tableName,
            Key: { pk: { S: url } },
            UpdateExpression: 'SET #state = :created, tootId = :id, tootUrl = :tootUrl, createdAt = :at REMOVE leaseUntil',
            ConditionExpression: '#owner = :owner',
            ExpressionAttributeNames: { '#state': 'state', '#owner': 'owner' },
            ExpressionAttributeValues: { ':created': { S: 'created' }, ':id': { S: toot.id }, ':tootUrl': { S: toot.url }, ':at': { S: new Date().toISOString() }, ':owner': { S: owner } },
          }),
        );
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
    },
    async release(url, owner) {
      try {
        await send(
          new DeleteItemCommand({
            TableName: tableName,
            Key: { pk: { S: url } },
            ConditionExpression: '#owner = :owner AND #state = :creating',
            ExpressionAttributeNames: { '#state': 'state', '#owner': 'owner' },
            ExpressionAttributeValues: { ':owner': { S: owner }, ':creating': { S: 'creating' } },
          }),
        );
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
    },
    async alias(url, target) {
      try {
        await send(new PutItemCommand({ TableName: tableName, Item: { pk: { S: url }, aliasOf: { S: target } }, ConditionExpression: 'attribute_not_exists(pk)' }));
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
    },
    async check() {
      await send(new DescribeTableCommand({ TableName: tableName }));
    },
  };
}
