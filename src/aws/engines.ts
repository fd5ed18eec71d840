/**
 * The PostgreSQL engine versions AWS creates, per database engine of the profiles, dated like the
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
  /** Profile standard: Aurora PostgreSQL Serverless v2. */
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
  /** Profile small: RDS for PostgreSQL on db.t4g.micro. */
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

/** The engine a profile's database runs: RDS for PostgreSQL with profile small, Aurora PostgreSQL otherwise. */
export function databaseEngine(profile: string): EngineFacts {
  return profile === 'small' ? DATABASE_ENGINES.rds : DATABASE_ENGINES.aurora;
}
