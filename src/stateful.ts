/**
 * Resource types that hold data a user cannot get back from the template. The compiler gives
 * them policies that keep the data; the deployer refuses change sets that would replace or
 * delete one unless told to.
 */
/**
 * A database instance with no data of its own: an Aurora instance (its cluster's volume holds the
 * data) or an RDS read replica (a copy RDS keeps in step with its source). Removing one loses nothing.
 */
export function holdsNoDataOfItsOwn(resource: { Type?: string; Properties?: Record<string, unknown> } | undefined): boolean {
  return resource?.Type === 'AWS::RDS::DBInstance' && (resource.Properties?.DBClusterIdentifier !== undefined || resource.Properties?.SourceDBInstanceIdentifier !== undefined);
}

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
