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
