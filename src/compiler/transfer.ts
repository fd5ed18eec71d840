import { mastodonFacts, OLDEST_IMPORTABLE_MIGRATION } from '../mastodon/facts.js';
import { Join, Ref, Sub, type ContainerDefinition } from './cfn.js';
import { awsLogs, environmentList, fargateTaskDefinition, oneOffTask, postgresClient, taskRole } from './compute.js';
import type { CompileStep, TransferTasks } from './fragment.js';
import { Ids, OutputIds } from './naming.js';

/** The AWS CLI's own image, pinned: it moves the dump between the task's disk and the artifacts bucket with the task role. */
export const AWS_CLI_IMAGE = 'public.ecr.aws/aws-cli/aws-cli:2.31.9';

/** Where the dump lies on the task's disk: a volume the two containers of a transfer task share. */
export const DUMP_FILE = '/transfer/mastodon.dump';

/** Fargate's most ephemeral storage (EphemeralStorage.SizeInGiB, 21 to 200): the dump, with room for pg_restore's list. */
export const TRANSFER_DISK_GIB = 200;

/** The variables a transfer task reads from RunTask's overrides: where the dump is (never a secret). */
export const TRANSFER_VARIABLES = { bucket: 'TRANSFER_BUCKET', key: 'DUMP_KEY', allowDataLoss: 'ALLOW_DATA_LOSS' } as const;

const volume = { SourceVolume: 'transfer', ContainerPath: '/transfer' };

/**
 * The second container of a task starts once the first has exited (DependsOn COMPLETE) and reads the first's
 * outcome from a file it leaves on success: with SUCCESS, a first container that failed could leave the
 * second, and the task, waiting forever (aws/containers-roadmap#817).
 */
const FETCHED = 'fetched';
const DUMPED = 'dumped';

/** Both containers start with `sh -c`: the postgres image's entrypoint would otherwise decide what runs. */
function shell(script: string): Pick<ContainerDefinition, 'EntryPoint' | 'Command'> {
  return { EntryPoint: ['sh', '-c'], Command: [script] };
}

/** The TOC entries a restore as the RDS master user leaves out: it owns neither the extensions nor the public schema, and may not drop or comment them. */
const NOT_OURS = '^[0-9]+; [0-9]+ [0-9]+ (EXTENSION - |COMMENT - EXTENSION |SCHEMA - public |COMMENT - SCHEMA public )';

/**
 * Drops what a restore replaces: every table, view, sequence, function and type of the master user in
 * the public schema (never an extension's). Without it a table the dump lacks (one of a newer release) would
 * make the migrations fail on "already exists".
 */
const DROP_OWN_OBJECTS = `DO $drop$
DECLARE item record;
BEGIN
  FOR item IN SELECT c.relkind, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S') AND pg_get_userbyid(c.relowner) = current_user
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e') LOOP
    EXECUTE format(CASE item.relkind WHEN 'v' THEN 'DROP VIEW IF EXISTS public.%I CASCADE' WHEN 'm' THEN 'DROP MATERIALIZED VIEW IF EXISTS public.%I CASCADE'
      WHEN 'S' THEN 'DROP SEQUENCE IF EXISTS public.%I CASCADE' ELSE 'DROP TABLE IF EXISTS public.%I CASCADE' END, item.relname);
  END LOOP;
  FOR item IN SELECT p.oid::regprocedure AS routine FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) = current_user
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e') LOOP
    EXECUTE format('DROP ROUTINE IF EXISTS %s CASCADE', item.routine);
  END LOOP;
  FOR item IN SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE n.nspname = 'public' AND t.typtype IN ('c', 'd', 'e') AND pg_get_userbyid(t.typowner) = current_user AND t.typrelid = 0
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e') LOOP
    EXECUTE format('DROP TYPE IF EXISTS public.%I CASCADE', item.typname);
  END LOOP;
END
$drop$;`;

/**
 * The restore, in the postgres image's sh. It refuses before touching the database: a file pg_restore
 * cannot read, a dump without Mastodon's schema_migrations, one of a newer Mastodon than the pinned release
 * (whose code would not know its tables) or of one older than Mastodon migrates from, and a database that
 * already has local posts unless ALLOW_DATA_LOSS is true. Then it replaces the database in one transaction,
 * committed only after pg_restore read the whole dump: a failure anywhere leaves the database as it was.
 */
export const RESTORE_SCRIPT = `set -eu
fail() { echo "mastodon-cfn import: $*" >&2; exit 1; }
[ -e "$DUMP_FILE.${FETCHED}" ] || fail "the dump was not fetched from the transfer folder: the fetch container's output says why"
list="$DUMP_FILE.list"
pg_restore --list "$DUMP_FILE" > "$list" || fail "pg_restore cannot read the dump: is it whole, and made with pg_dump --format=custom by a pg_dump no newer than PostgreSQL $(pg_restore --version | awk '{print $3}')?"
newest=$(pg_restore --data-only --table=schema_migrations --file=- "$DUMP_FILE" | awk '/^COPY /{rows=1; next} /^\\\\\\.$/{rows=0} rows && $1 ~ /^[0-9]+$/ && (newest == "" || $1 + 0 > newest + 0) {newest=$1} END{print newest}')
[ -n "$newest" ] || fail "the dump has no rows in schema_migrations: it is not a dump of a Mastodon database"
[ "$newest" -le "$MASTODON_SCHEMA_VERSION" ] || fail "the dump is of a newer Mastodon than $MASTODON_VERSION: its newest migration is $newest, $MASTODON_VERSION's is $MASTODON_SCHEMA_VERSION. Set mastodon.version to the old server's release or a later one, deploy, and import again."
[ "$newest" -ge "$OLDEST_MIGRATION" ] || fail "the dump is of a Mastodon older than any release $MASTODON_VERSION migrates from (its newest migration is $newest, older than $OLDEST_MIGRATION): upgrade the old server first"
echo "The dump's newest migration is $newest; $MASTODON_VERSION's is $MASTODON_SCHEMA_VERSION."
if [ "$(psql -XAtc "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('statuses', 'accounts')")" = 2 ]; then
  posts=$(psql -XAtc "SELECT count(*) FROM statuses WHERE local OR uri IS NULL")
  if [ "$posts" -gt 0 ] && [ "\${${TRANSFER_VARIABLES.allowDataLoss}:-}" != true ]; then
    fail "the database already holds $posts local posts, which the import would replace. Import into a new instance, or take a backup (mastodon-cfn backup) and import again with --allow-data-loss."
  fi
fi
grep -v -E '${NOT_OURS}' "$list" > "$list.kept"
{
  echo 'BEGIN;'
  cat <<'SQL'
${DROP_OWN_OBJECTS}
SQL
  awk '$4 == "EXTENSION" && $6 != "plpgsql" {print "CREATE EXTENSION IF NOT EXISTS \\"" $6 "\\";"}' "$list"
  # Without its COMMIT the transaction ends with psql's connection, rolled back.
  if pg_restore --no-owner --no-privileges --use-list="$list.kept" --file=- "$DUMP_FILE"; then echo 'COMMIT;'; else touch "$list.failed"; fi
} | psql -X -q -v ON_ERROR_STOP=1 --file=- || fail "the restore failed and was rolled back: the database is as it was before"
[ ! -e "$list.failed" ] || fail "pg_restore stopped before the end of the dump; nothing was committed, the database is as it was before"
[ "$(psql -XAtc 'SELECT max(version) FROM schema_migrations')" = "$newest" ] || fail "the restore did not leave the dump's migrations in the database"
# Fresh statistics for the planner; the master user may analyze only its own tables, so quiet about the catalogs.
PGOPTIONS='-c client_min_messages=error' psql -X -q -c 'ANALYZE'
echo "Restored the dump (newest migration $newest) into $PGDATABASE."
`;

/** The export's dump: the whole database, in pg_dump's custom format (what pg_restore, and import, read). */
export const DUMP_SCRIPT = `set -eu
pg_dump --format=custom --file="$DUMP_FILE"
touch "$DUMP_FILE.${DUMPED}"
echo "Dumped $PGDATABASE: $(wc -c < "$DUMP_FILE") bytes."
`;

export const FETCH_SCRIPT = `set -eu
aws s3 cp --only-show-errors "s3://$${TRANSFER_VARIABLES.bucket}/$${TRANSFER_VARIABLES.key}" "$DUMP_FILE"
touch "$DUMP_FILE.${FETCHED}"
echo "Fetched s3://$${TRANSFER_VARIABLES.bucket}/$${TRANSFER_VARIABLES.key}."
`;

export const UPLOAD_SCRIPT = `set -eu
[ -e "$DUMP_FILE.${DUMPED}" ] || { echo "mastodon-cfn export: pg_dump did not finish: the dump container's output says why" >&2; exit 1; }
aws s3 cp --only-show-errors "$DUMP_FILE" "s3://$${TRANSFER_VARIABLES.bucket}/$${TRANSFER_VARIABLES.key}"
echo "Uploaded the dump to s3://$${TRANSFER_VARIABLES.bucket}/$${TRANSFER_VARIABLES.key}."
`;

/**
 * `mastodon-cfn import` and `export`: two one-off tasks of two containers that share the task's disk. The
 * AWS CLI moves the dump to or from the artifacts bucket (the task role may touch only the stack's transfer
 * prefix there), and PostgreSQL's own client dumps or restores it. The second container starts after the
 * first exited and goes on only if it succeeded; its exit code is the task's outcome.
 */
export const compileTransfer: CompileStep = (config, names) => {
  const facts = mastodonFacts(config.mastodon.version);
  const logs = (name: string) => awsLogs(Ids.MastodonLogGroup, name);
  const bucket = Sub('mastodon-cfn-artifacts-${AWS::AccountId}-${AWS::Region}');
  const bucketArn = Sub('arn:${AWS::Partition}:s3:::mastodon-cfn-artifacts-${AWS::AccountId}-${AWS::Region}');
  /** A container of a transfer task: its image and connection (`client`), its script, on the shared disk; the second waits for the first to exit. */
  const container = (name: string, client: Pick<ContainerDefinition, 'Image' | 'Environment' | 'Secrets'>, script: string, essential: boolean, dependsOn?: string): ContainerDefinition => ({
    Name: name,
    ...client,
    Essential: essential,
    ...shell(script),
    MountPoints: [volume],
    LogConfiguration: logs(name),
    ...(dependsOn ? { DependsOn: [{ ContainerName: dependsOn, Condition: 'COMPLETE' }] } : {}),
  });
  const awsCli = { Image: AWS_CLI_IMAGE, Environment: environmentList({ DUMP_FILE, [TRANSFER_VARIABLES.bucket]: bucket, AWS_REGION: Ref('AWS::Region') }) };
  const postgres = (environment: Record<string, string> = {}) => postgresClient(config, { DUMP_FILE, ...environment });
  const task = (family: string, containers: ContainerDefinition[]) =>
    fargateTaskDefinition({
      family: `${names.prefix}-${family}`,
      // pg_restore and pg_dump run one process; the dump streams through, never into memory.
      cpu: 1024,
      memory: 2048,
      architecture: config.mastodon.architecture,
      executionRoleId: Ids.MastodonExecutionRole,
      taskRoleId: Ids.TransferTaskRole,
      containers,
      volumes: [{ Name: volume.SourceVolume }],
      ephemeralStorageGiB: TRANSFER_DISK_GIB,
    });
  const transfer: TransferTasks = {
    import: { ...oneOffTask, outputs: { ...oneOffTask.outputs, taskDefinition: OutputIds.ImportTaskDefinition }, container: 'restore', description: 'restore of the dump (pg_restore)' },
    export: { ...oneOffTask, outputs: { ...oneOffTask.outputs, taskDefinition: OutputIds.ExportTaskDefinition }, container: 'upload', description: 'dump of the database (pg_dump)' },
    prefix: names.transferPrefix,
    modeOutput: OutputIds.MastodonMode,
    mediaBucketOutput: OutputIds.MediaBucket,
  };
  return {
    main: {
      Resources: {
        [Ids.TransferTaskRole]: taskRole('transfer', [
          { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload'], Resource: Join('', [bucketArn, `/${names.transferPrefix}*`]) },
          // Without it S3 answers a missing key with 403, not 404: a wrong key would read as a permission problem.
          { Effect: 'Allow', Action: 's3:ListBucket', Resource: bucketArn, Condition: { StringLike: { 's3:prefix': `${names.transferPrefix}*` } } },
        ]),
        [Ids.ImportTaskDefinition]: task('import', [
          container('fetch', awsCli, FETCH_SCRIPT, false),
          container('restore', postgres({ MASTODON_VERSION: config.mastodon.version, MASTODON_SCHEMA_VERSION: facts.schemaVersion, OLDEST_MIGRATION: OLDEST_IMPORTABLE_MIGRATION }), RESTORE_SCRIPT, true, 'fetch'),
        ]),
        [Ids.ExportTaskDefinition]: task('export', [container('dump', postgres(), DUMP_SCRIPT, false), container('upload', awsCli, UPLOAD_SCRIPT, true, 'dump')]),
      },
      Outputs: {
        [OutputIds.ImportTaskDefinition]: { Description: 'Task that restores a dump from the artifacts bucket (mastodon-cfn import)', Value: Ref(Ids.ImportTaskDefinition) },
        [OutputIds.ExportTaskDefinition]: { Description: 'Task that dumps the database into the artifacts bucket (mastodon-cfn export)', Value: Ref(Ids.ExportTaskDefinition) },
      },
      transfer,
    },
  };
};
