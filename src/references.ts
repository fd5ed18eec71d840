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
 * The names a template's Ref, Fn::GetAtt and Fn::Sub refer to that it does not define, each with
 * where it is (`Resources.X`, `Outputs.Y`): CloudFormation refuses the template. A Fn::Sub's own
 * variables (its second argument) and `${!Literal}` are no references.
 */
export function unresolvedReferences(template: { Parameters?: object; Resources?: object; Outputs?: object; Conditions?: object }): { name: string; at: string }[] {
  const known = new Set([...Object.keys(template.Parameters ?? {}), ...Object.keys(template.Resources ?? {}), ...PSEUDO_PARAMETERS]);
  const missing: { name: string; at: string }[] = [];
  const visit = (value: unknown, at: string, local: ReadonlySet<string>): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item, at, local);
      return;
    }
    if (!value || typeof value !== 'object') return;
    for (const [key, inner] of Object.entries(value)) {
      const need = (name: string) => {
        if (!known.has(name) && !local.has(name)) missing.push({ name, at });
      };
      if (key === 'Ref' && typeof inner === 'string') need(inner);
      else if (key === 'Fn::GetAtt') need(Array.isArray(inner) ? String(inner[0]) : String(inner).split('.')[0]);
      else if (key === 'Fn::Sub') {
        const [text, variables] = Array.isArray(inner) ? inner : [inner, {}];
        const own = new Set([...local, ...Object.keys(variables ?? {})]);
        if (typeof text === 'string') for (const match of text.matchAll(/\$\{([A-Za-z0-9]+(?:::[A-Za-z0-9]+)?)[.}]/g)) if (!own.has(match[1])) need(match[1]);
        if (Array.isArray(inner)) visit(inner[1], at, local);
        continue;
      }
      visit(inner, at, local);
    }
  };
  for (const section of ['Resources', 'Outputs'] as const) {
    for (const [id, entry] of Object.entries(template[section] ?? {})) visit(entry, `${section}.${id}`, new Set());
  }
  return missing;
}
