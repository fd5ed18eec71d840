/**
 * Resource types that hold data a user cannot get back from the template. The compiler gives
 * them policies that keep the data; the deployer refuses change sets that would replace or
 * delete one unless told to.
 */
export const STATEFUL_TYPES: ReadonlySet<string> = new Set([
  'AWS::RDS::DBCluster',
  'AWS::RDS::DBInstance',
  'AWS::ElastiCache::ReplicationGroup',
  'AWS::ElastiCache::CacheCluster',
  'AWS::S3::Bucket',
  'AWS::SecretsManager::Secret',
  'AWS::DynamoDB::Table',
  'AWS::EFS::FileSystem',
]);
