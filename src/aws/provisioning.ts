import table from './provisioning.json' with { type: 'json' };

/**
 * What CloudFormation calls, with the deployer's credentials, to create, read, update and delete a
 * resource of each type the compiler emits: the permissions of the type's handlers in its registry
 * schema (provisioning.json says where each list comes from).
 */
const TYPES: Record<string, { actions: string[] }> = table.types;

export function knowsProvisioning(type: string): boolean {
  return type in TYPES;
}

/** The actions every one of these resource types needs, in order; types without an entry (from `resources:`) add none. */
export function provisioningActions(types: string[]): string[] {
  // IAM service prefixes are case-insensitive; one schema writes "S3:GetBucketWebsite".
  const normal = (action: string) => action.replace(/^[^:]+/, (service) => service.toLowerCase());
  return [...new Set(types.flatMap((type) => (TYPES[type]?.actions ?? []).map(normal)))].sort();
}
