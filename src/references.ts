/** Every logical id a value refers to: Ref, Fn::GetAtt and ${Name} inside Fn::Sub. */
export function references(value: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const item of value) references(item, found);
  else if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      if (key === 'Ref' && typeof inner === 'string') found.add(inner);
      else if (key === 'Fn::GetAtt') found.add(Array.isArray(inner) ? String(inner[0]) : String(inner).split('.')[0]);
      else if (key === 'Fn::Sub' && typeof (Array.isArray(inner) ? inner[0] : inner) === 'string') {
        for (const match of String(Array.isArray(inner) ? inner[0] : inner).matchAll(/\$\{([A-Za-z0-9]+)[.}]/g)) found.add(match[1]);
      }
      references(inner, found);
    }
  }
  return found;
}

/** CloudFormation's pseudo parameters (User Guide, "Pseudo parameters reference"): Ref takes them as it takes a parameter. */
const PSEUDO_PARAMETERS = new Set(['AWS::AccountId', 'AWS::NotificationARNs', 'AWS::NoValue', 'AWS::Partition', 'AWS::Region', 'AWS::StackId', 'AWS::StackName', 'AWS::URLSuffix']);

/**
 * What a template's references name that it does not define, each with where it is
 * (`Resources.X`, `Outputs.Y`) and what it should have been: Ref and Fn::Sub a resource or a
 * parameter, Fn::GetAtt and DependsOn a resource, Fn::If and the Condition attribute a condition.
 * CloudFormation refuses such a template. A Fn::Sub's own variables (its second argument) and
 * `${!Literal}` are no references.
 */
export function unresolvedReferences(template: { Parameters?: object; Resources?: object; Outputs?: object; Conditions?: object }): { name: string; at: string; kind: 'value' | 'resource' | 'condition' }[] {
  const resources = new Set(Object.keys(template.Resources ?? {}));
  const values = new Set([...Object.keys(template.Parameters ?? {}), ...resources, ...PSEUDO_PARAMETERS]);
  const conditions = new Set(Object.keys(template.Conditions ?? {}));
  const missing: { name: string; at: string; kind: 'value' | 'resource' | 'condition' }[] = [];
  const need = (name: string, at: string, kind: 'value' | 'resource' | 'condition', local: ReadonlySet<string> = new Set()) => {
    const known = kind === 'value' ? values : kind === 'resource' ? resources : conditions;
    if (!known.has(name) && !local.has(name)) missing.push({ name, at, kind });
  };
  const visit = (value: unknown, at: string, local: ReadonlySet<string>): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item, at, local);
      return;
    }
    if (!value || typeof value !== 'object') return;
    for (const [key, inner] of Object.entries(value)) {
      if (key === 'Ref' && typeof inner === 'string') need(inner, at, 'value', local);
      else if (key === 'Fn::GetAtt') need(Array.isArray(inner) ? String(inner[0]) : String(inner).split('.')[0], at, 'resource');
      else if (key === 'Fn::If' && Array.isArray(inner) && typeof inner[0] === 'string') need(inner[0], at, 'condition');
      else if (key === 'Fn::Sub') {
        const [text, variables] = Array.isArray(inner) ? inner : [inner, {}];
        const own = new Set([...local, ...Object.keys(variables ?? {})]);
        if (typeof text === 'string') for (const match of text.matchAll(/\$\{([A-Za-z0-9]+(?:::[A-Za-z0-9]+)?)[.}]/g)) need(match[1], at, 'value', own);
        if (Array.isArray(inner)) visit(inner[1], at, local);
        continue;
      }
      visit(inner, at, local);
    }
  };
  for (const section of ['Resources', 'Outputs'] as const) {
    for (const [id, entry] of Object.entries(template[section] ?? {})) {
      const at = `${section}.${id}`;
      const attributes = (entry ?? {}) as { Condition?: unknown; DependsOn?: unknown };
      if (typeof attributes.Condition === 'string') need(attributes.Condition, at, 'condition');
      if (section === 'Resources') for (const name of [attributes.DependsOn ?? []].flat()) need(String(name), at, 'resource');
      visit(entry, at, new Set());
    }
  }
  return missing;
}
