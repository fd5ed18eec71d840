// Types for the validator that scripts/compile-schema.mjs generates (ajv standalone code).
export interface SchemaError {
  instancePath: string;
  schemaPath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
  propertyName?: string;
}
export declare const validate: ((data: unknown) => boolean) & { errors?: SchemaError[] | null };
