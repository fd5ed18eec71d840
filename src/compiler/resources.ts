import type { Resource } from './cfn.js';
import type { CompileStep } from './fragment.js';

/**
 * The escape hatch, as in the Serverless Framework: `resources.Resources`, `Outputs` and
 * `Conditions` are merged into the main stack as written. The merge rejects a logical id
 * that clashes with a generated one.
 */
export const compileUserResources: CompileStep = (config) => ({
  main: {
    Resources: config.resources.Resources as Record<string, Resource>,
    Outputs: config.resources.Outputs as Record<string, { Value: unknown }>,
    Conditions: config.resources.Conditions,
  },
});
