/**
 * The PostgreSQL engine versions AWS creates, per database engine of the sizes, dated like the
 * prices in src/cost/prices.json. A version AWS stopped creating fails the stack's create with
 * "Cannot find version"; `build` refuses the ones listed here, and `deploy` asks RDS itself
 * (DescribeDBEngineVersions) before its first change set, so a version released or retired after
 * this date is judged by AWS's own answer.
 */
export const ENGINE_VERSIONS_DATE = '2026-12-02';

export interface EngineFacts {
  /** RDS's engine name (AWS::RDS::DBCluster / DBInstance `Engine`, DescribeDBEngineVersions `Engine`). */
  engine: 'aurora-postgresql' | 'postgres';
  label: string;
  /** What a config without database.engineVersion gets: a minor version AWS creates on the date above. */
  defaultVersion: string;
  /**
   * Major versions in AWS's standard support on the date above. Older majors are only created
   * under RDS Extended Support, which AWS charges for per vCPU-hour and the estimate does not price.
   */
  majors: readonly number[];
  /** Minor versions AWS no longer creates new databases with. */
  retired: readonly string[];
}

export const DATABASE_ENGINES = {
  /** Sizes standard and large: Aurora PostgreSQL Serverless v2. */
  aurora: {
    engine: 'aurora-postgresql',
    label: 'Aurora PostgreSQL',
    // Aurora PostgreSQL 16.10 and 17.6 (AWS What's New, "Amazon Aurora PostgreSQL-Compatible Edition has added
    // support for PostgreSQL versions 17.6, 16.10, 15.14, 14.19, and 13.22", 2025), within Aurora's minor version lifetime.
    defaultVersion: '16.10',
    // Aurora PostgreSQL 13's standard support ended on 2026-02-28 (Aurora PostgreSQL release calendar for major versions).
    majors: [14, 15, 16, 17],
    retired: [],
  },
  /** Size small: RDS for PostgreSQL on db.t4g.micro. */
  rds: {
    engine: 'postgres',
    label: 'RDS for PostgreSQL',
    // The versions RDS upgraded the retired minors to (AWS Health notice of 2026: "to version 14.20, 15.15, 16.11, 17.7 (or higher)").
    defaultVersion: '16.11',
    // RDS for PostgreSQL 13's standard support ended on 2026-02-28; 18 is in standard support (RDS for PostgreSQL release calendar).
    majors: [14, 15, 16, 17, 18],
    // AWS Health notice of 2026 (RDS for PostgreSQL minor versions reaching the end of standard support on 2026-05-31):
    // "Starting May 1, 2026, you will not be able to create new database instances on ... minor versions 14.14, 14.15,
    // 14.16, 14.17, 15.9, 15.10, 15.11, 15.12, 16.5, 16.6, 16.7, 16.8, 17.1, 17.2, 17.3, 17.4".
    retired: ['14.14', '14.15', '14.16', '14.17', '15.9', '15.10', '15.11', '15.12', '16.5', '16.6', '16.7', '16.8', '17.1', '17.2', '17.3', '17.4'],
  },
} as const satisfies Record<string, EngineFacts>;

/** Why AWS would refuse to create a database of this engine and version, as far as the table knows; undefined when it may. */
export function engineVersionProblem(facts: EngineFacts, version: string): string | undefined {
  const major = Number(version.split('.')[0]);
  if (!facts.majors.includes(major)) {
    return `${facts.label} ${version}: AWS creates major versions ${facts.majors.join(', ')} in standard support (on ${ENGINE_VERSIONS_DATE}); use ${facts.defaultVersion}, or another minor version of those`;
  }
  if (facts.retired.includes(version)) {
    return `AWS no longer creates ${facts.label} ${version} databases (since 2026-05-01): use ${facts.defaultVersion} or a later minor version`;
  }
  return undefined;
}

/** The engine a size's database runs: RDS for PostgreSQL at size small, Aurora PostgreSQL otherwise. */
export function databaseEngine(size: string): EngineFacts {
  return size === 'small' ? DATABASE_ENGINES.rds : DATABASE_ENGINES.aurora;
}

/**
 * max_connections of the default parameter groups. Aurora PostgreSQL Serverless v2 sets it from the
 * maximum capacity (Aurora User Guide, "Maximum connections for Aurora Serverless v2": 189 at 1 ACU,
 * 823 at 4, 1,669 at 8, 3,360 at 16, 5,000 from 32), capped at 2,000 when the minimum is 0 or 0.5 ACU
 * (same page). Between two rows of the table the lower row counts: the budget errs on the safe side.
 */
const AURORA_MAX_CONNECTIONS: readonly [maxAcu: number, connections: number][] = [
  [1, 189],
  [4, 823],
  [8, 1669],
  [16, 3360],
  [32, 5000],
];

/**
 * RDS for PostgreSQL: `LEAST({DBInstanceClassMemory/9531392}, 5000)` (RDS User Guide, "Maximum number
 * of database connections"), where DBInstanceClassMemory is the class's memory less what RDS keeps for
 * the operating system and its own processes, so below the nominal 1 GiB of db.t4g.micro's 112: the
 * budget counts 80% of the nominal figure.
 */
const RDS_CLASS_MEMORY_GIB: Readonly<Record<string, number>> = { 'db.t4g.micro': 1 };

/**
 * Connections PostgreSQL keeps for superusers (superuser_reserved_connections, 3) and RDS for its own
 * rdsadmin connections (rds.rds_superuser_reserved_connections, 2), in both engines' default groups.
 */
export const RESERVED_CONNECTIONS = 5;

/** What the database accepts from Mastodon's processes: max_connections less the reserved ones, with the reason in words. */
export function usableConnections(database: { engine: EngineFacts; instanceClass?: string; minCapacity?: number; maxCapacity?: number }): { connections: number; basis: string } {
  if (database.engine.engine === 'postgres') {
    const gib = RDS_CLASS_MEMORY_GIB[database.instanceClass ?? ''] ?? 1;
    const maximum = Math.floor(((gib * 1024 ** 3) / 9531392) * 0.8);
    return { connections: maximum - RESERVED_CONNECTIONS, basis: `RDS ${database.instanceClass} allows about ${maximum} (max_connections), ${RESERVED_CONNECTIONS} of them reserved` };
  }
  const maxAcu = database.maxCapacity ?? 1;
  const row = [...AURORA_MAX_CONNECTIONS].reverse().find(([acu]) => acu <= maxAcu) ?? AURORA_MAX_CONNECTIONS[0];
  const maximum = (database.minCapacity ?? 0) <= 0.5 ? Math.min(row[1], 2000) : row[1];
  return { connections: maximum - RESERVED_CONNECTIONS, basis: `Aurora Serverless v2 at most ${maxAcu} ACU allows ${maximum} (max_connections), ${RESERVED_CONNECTIONS} of them reserved` };
}
