/** What a reference must name: a resource or a parameter (Ref, Fn::Sub), a resource (Fn::GetAtt, DependsOn), or a condition (Fn::If, Condition). */
export type ReferenceKind = 'value' | 'resource' | 'condition';

/**
 * Calls `found` with each name a value refers to: Ref, Fn::GetAtt, `${Name}` inside Fn::Sub
 * (not the Sub's own variables, its second argument's keys, nor `${!Literal}`) and Fn::If's condition.
 */
function eachReference(value: unknown, found: (name: string, kind: ReferenceKind) => void): void {
  if (Array.isArray(value)) {
    for (const item of value) eachReference(item, found);
    return;
  }
  if (!value || typeof value !== 'object') return;
  for (const [key, inner] of Object.entries(value)) {
    if (key === 'Ref' && typeof inner === 'string') found(inner, 'value');
    else if (key === 'Fn::GetAtt') found(Array.isArray(inner) ? String(inner[0]) : String(inner).split('.')[0], 'resource');
    else if (key === 'Fn::If' && Array.isArray(inner) && typeof inner[0] === 'string') found(inner[0], 'condition');
    else if (key === 'Fn::Sub') {
      const [text, variables] = Array.isArray(inner) ? inner : [inner, {}];
      const own = new Set(Object.keys(variables ?? {}));
      if (typeof text === 'string') for (const match of text.matchAll(/\$\{([A-Za-z0-9]+(?:::[A-Za-z0-9]+)?)[.}]/g)) if (!own.has(match[1])) found(match[1], 'value');
      if (Array.isArray(inner)) eachReference(inner[1], found);
      continue;
    }
    eachReference(inner, found);
  }
}

/** Every logical id (or parameter) a value refers to. */
export function references(value: unknown, names = new Set<string>()): Set<string> {
  eachReference(value, (name, kind) => {
    if (kind !== 'condition') names.add(name);
  });
  return names;
}

/** CloudFormation's pseudo parameters (User Guide, "Pseudo parameters reference"): Ref takes them as it takes a parameter. */
const PSEUDO_PARAMETERS = new Set(['AWS::AccountId', 'AWS::NotificationARNs', 'AWS::NoValue', 'AWS::Partition', 'AWS::Region', 'AWS::StackId', 'AWS::StackName', 'AWS::URLSuffix']);

/**
 * What a template's references name that it does not define, each with where it is
 * (`Resources.X`, `Outputs.Y`) and what it should have been; the DependsOn and Condition
 * attributes included. CloudFormation refuses such a template.
 */
export function unresolvedReferences(template: { Parameters?: object; Resources?: object; Outputs?: object; Conditions?: object }): { name: string; at: string; kind: ReferenceKind }[] {
  const resources = new Set(Object.keys(template.Resources ?? {}));
  const defined: Record<ReferenceKind, ReadonlySet<string>> = {
    value: new Set([...Object.keys(template.Parameters ?? {}), ...resources, ...PSEUDO_PARAMETERS]),
    resource: resources,
    condition: new Set(Object.keys(template.Conditions ?? {})),
  };
  const missing: { name: string; at: string; kind: ReferenceKind }[] = [];
  for (const section of ['Resources', 'Outputs'] as const) {
    for (const [id, entry] of Object.entries(template[section] ?? {})) {
      const at = `${section}.${id}`;
      const need = (name: string, kind: ReferenceKind) => {
        if (!defined[kind].has(name)) missing.push({ name, at, kind });
      };
      const attributes = (entry ?? {}) as { Condition?: unknown; DependsOn?: unknown };
      if (typeof attributes.Condition === 'string') need(attributes.Condition, 'condition');
      if (section === 'Resources') for (const name of [attributes.DependsOn ?? []].flat()) need(String(name), 'resource');
      eachReference(entry, need);
    }
  }
  return missing;
}
