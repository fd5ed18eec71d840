import { FakeApi } from './fakes.js';

export interface EngineVersion {
  Engine: string;
  EngineVersion: string;
  Status: 'available' | 'deprecated';
}

/**
 * RDS's DescribeDBEngineVersions, which moto_server 5.2 does not answer (HTTP 500), as the RDS
 * API reference documents it: filtered by Engine and EngineVersion, without IncludeAll only the
 * versions RDS creates (a version it no longer creates, or never had, gives an empty list), at
 * most MaxRecords (20 to 100, default 100) a page, the rest behind Marker.
 */
export function fakeRds(catalog: EngineVersion[]): FakeApi {
  return new FakeApi({
    DescribeDBEngineVersions: (input: { Engine?: string; EngineVersion?: string; IncludeAll?: boolean; MaxRecords?: number; Marker?: string }) => {
      const pageSize = input.MaxRecords ?? 100;
      if (pageSize < 20 || pageSize > 100) throw Object.assign(new Error('Invalid value for MaxRecords: must be between 20 and 100'), { name: 'InvalidParameterValue' });
      const matching = catalog.filter(
        (version) => (!input.Engine || version.Engine === input.Engine) && (!input.EngineVersion || version.EngineVersion === input.EngineVersion) && (input.IncludeAll || version.Status === 'available'),
      );
      const start = input.Marker ? Number(input.Marker) : 0;
      const page = matching.slice(start, start + pageSize);
      return { DBEngineVersions: page, ...(start + pageSize < matching.length ? { Marker: String(start + pageSize) } : {}) };
    },
  });
}

/**
 * A catalog in the shape of RDS for PostgreSQL's after May 2026: minors 1 to 22 of 11 to 18, those before the
 * cut-off retired; 11 to 13 still listed, as RDS creates them under Extended Support.
 */
export function postgresCatalog(): EngineVersion[] {
  const retiredBefore: Record<number, number> = { 14: 18, 15: 13, 16: 9, 17: 5 };
  const versions: EngineVersion[] = [];
  for (let major = 11; major <= 18; major++) {
    for (let minor = 1; minor <= 22; minor++) {
      const retired = minor < (retiredBefore[major] ?? 1);
      versions.push({ Engine: 'postgres', EngineVersion: `${major}.${minor}`, Status: retired ? 'deprecated' : 'available' });
    }
  }
  return [...versions, { Engine: 'aurora-postgresql', EngineVersion: '16.10', Status: 'available' }];
}
