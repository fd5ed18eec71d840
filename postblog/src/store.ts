import { ConditionalCheckFailedException, DeleteItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';

/** The one record per blog post URL, shared by every replica. */
export interface PostRecord {
  url: string;
  state: 'creating' | 'created';
  tootId?: string;
  tootUrl?: string;
}

export interface PostStore {
  get(url: string): Promise<PostRecord | undefined>;
  /** Takes the right to create the post for `url`; false when another request holds it (or the post exists). */
  claim(url: string, owner: string, leaseMs: number): Promise<boolean>;
  complete(url: string, owner: string, toot: { id: string; url: string }): Promise<void>;
  /** Gives a claim back after a failure, so that the next request can try again. */
  release(url: string, owner: string): Promise<void>;
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
  return {
    async get(url) {
      const { Item } = await client.send(new GetItemCommand({ TableName: tableName, Key: { pk: { S: url } }, ConsistentRead: true }));
      if (!Item) return undefined;
      return { url, state: Item.state?.S === 'created' ? 'created' : 'creating', tootId: Item.tootId?.S, tootUrl: Item.tootUrl?.S };
    },
    async claim(url, owner, leaseMs) {
      const now = Date.now();
      try {
        await client.send(
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
      await client.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: { pk: { S: url } },
          UpdateExpression: 'SET #state = :created, tootId = :id, tootUrl = :tootUrl, createdAt = :at REMOVE leaseUntil',
          ConditionExpression: '#owner = :owner',
          ExpressionAttributeNames: { '#state': 'state', '#owner': 'owner' },
          ExpressionAttributeValues: { ':created': { S: 'created' }, ':id': { S: toot.id }, ':tootUrl': { S: toot.url }, ':at': { S: new Date().toISOString() }, ':owner': { S: owner } },
        }),
      );
    },
    async release(url, owner) {
      try {
        await client.send(
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
  };
}
