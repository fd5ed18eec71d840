import { StopTaskCommand } from '@aws-sdk/client-ecs';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import type { S3Location } from '../aws/s3.js';
import type { AfterDeployTask, TransferTasks } from '../compiler/fragment.js';
import { TRANSFER_DISK_GIB, TRANSFER_VARIABLES } from '../compiler/transfer.js';
import { MastodonCfnError } from '../errors.js';
import { fileSystemReason, isSystemError } from '../fileErrors.js';
import type { MastodonSecretName } from '../mastodon/envFile.js';
import type { Clients } from './aws.js';
import type { DeployerContext } from './commands.js';
import type { DeployPackage, DeployStack } from './manifest.js';
import { bucketRegion, copyMedia, type MediaSource } from './media.js';
import { copyObject, deleteObject, folderIsEmpty, uploadFile } from './objects.js';
import { replaceSecretKeys } from './secrets.js';
import { describeStack, Interrupted, isDeployed, outputsOf } from './stacks.js';
import { logFollower, logStream, requiredOutput, runAfterDeploy, startTask, waitForStop } from './tasks.js';
import { ownArtifactsBucket } from './templates.js';

/** The first bytes of a dump in pg_dump's custom format (the archive header, pg_backup_archiver.c). */
const CUSTOM_FORMAT_MAGIC = 'PGDMP';

/** What the task's disk holds besides the dump: pg_restore's list, and room to spare. */
const DISK_RESERVE_GIB = 10;

/** A dump checked before anything is sent. */
export interface DumpFile {
  path: string;
  size: number;
}

/** Checks the dump before anything is sent: a file pg_restore reads (custom format) that fits the restore task's disk. */
export function checkDump(path: string): DumpFile {
  let size: number;
  const head = Buffer.alloc(CUSTOM_FORMAT_MAGIC.length);
  try {
    const stat = statSync(path);
    if (stat.isDirectory()) throw MastodonCfnError.of('usage.dump', `--dump ${path} is a folder (pg_dump's directory format?): make the dump with pg_dump --format=custom, one file`, 2);
    if (!stat.isFile()) throw MastodonCfnError.of('usage.dump', `--dump ${path} is not a file`, 2);
    size = stat.size;
    if (size === 0) throw MastodonCfnError.of('usage.dump', `--dump ${path} is empty: make the dump on the old server with pg_dump --format=custom`, 2);
    const fd = openSync(path, 'r');
    try {
      readSync(fd, head, 0, head.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    if (isSystemError(error)) throw MastodonCfnError.of('usage.dump', `--dump ${path}: ${error.code === 'ENOENT' ? 'there is no such file' : fileSystemReason(error, path)}`, 2);
    throw error;
  }
  if (head.toString('latin1') !== CUSTOM_FORMAT_MAGIC) {
    throw MastodonCfnError.of('usage.dump', `--dump ${path} is not a dump in pg_dump's custom format: make it on the old server with pg_dump --format=custom (a plain SQL or tar dump is not read)`, 2);
  }
  const limit = (TRANSFER_DISK_GIB - DISK_RESERVE_GIB) * 1024 ** 3;
  if (size > limit) throw MastodonCfnError.of('usage.dump', `--dump ${path} is ${(size / 1024 ** 3).toFixed(1)} GiB; the restore task's disk (Fargate's most, ${TRANSFER_DISK_GIB} GiB) takes dumps up to ${limit / 1024 ** 3} GiB`, 2);
  return { path, size };
}

interface DeployedMain {
  stack: DeployStack;
  transfer: TransferTasks;
  outputs: Record<string, string>;
}

async function deployedMain(pkg: DeployPackage, clients: Clients, command: string): Promise<DeployedMain> {
  const stack = pkg.stacks.find((candidate) => candidate.transfer);
  if (!stack?.transfer) throw MastodonCfnError.of('transfer.unsupported', `This build has no ${command} task: build it again with this version of mastodon-cfn.`);
  const deployed = await describeStack(clients.cloudFormation(stack.region), stack.name);
  if (!isDeployed(deployed)) throw MastodonCfnError.of('transfer.notDeployed', `${stack.name} is not deployed in ${stack.region}: deploy it first (for an import, with mastodon.mode: maintenance).`);
  const outputs = outputsOf(deployed);
  if (!outputs[stack.transfer.modeOutput]) throw MastodonCfnError.of('transfer.outdated', `${stack.name} was deployed by an earlier mastodon-cfn, without the ${command} task: deploy it again with this version first.`);
  return { stack, transfer: stack.transfer, outputs };
}

/** `<what>-<UTC time>.dump`: a new key for every run, so that two runs never share one. */
function dumpKey(transfer: TransferTasks, what: 'import' | 'export'): string {
  return `${transfer.prefix}${what}-${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}.dump`;
}

/** The dump's object in the stack's transfer folder, and whether a task may still be reading or writing it. */
interface TransferObject {
  bucket: string;
  account: string;
  key: string;
  taskMayRun: boolean;
}

/**
 * Gives `body` a new key in the transfer folder, and deletes the object afterwards, whatever the outcome (the
 * dump holds every account's data: it stays nowhere but in the database), unless a task may still use it.
 */
async function throughTransferFolder<T>(context: DeployerContext, main: DeployedMain, what: 'import' | 'export', body: (object: TransferObject) => Promise<T>): Promise<T> {
  const { stack, transfer } = main;
  const { bucket, account } = await ownArtifactsBucket(context.clients, stack.region);
  const object: TransferObject = { bucket, account, key: dumpKey(transfer, what), taskMayRun: false };
  try {
    return await body(object);
  } finally {
    context.reporter.clear();
    const where = `s3://${bucket}/${object.key}`;
    if (object.taskMayRun) context.reporter.line(`The dump stays at ${where} while the task may still use it: once the task has stopped, delete it with aws s3 rm ${where}`);
    else await deleteObject(context.clients.s3(stack.region), { Bucket: bucket, Key: object.key });
  }
}

/**
 * Runs a transfer task and prints what its two containers wrote. A failure names the container that
 * failed and its reason (the task's own words: a refused dump says why), then what to do.
 */
async function runTransferTask(context: DeployerContext, main: DeployedMain, task: AfterDeployTask, containers: string[], object: TransferObject, environment: Record<string, string> = {}): Promise<void> {
  const { stack, outputs } = main;
  const ecs = context.clients.ecs(stack.region);
  const logs = context.clients.logs(stack.region);
  context.reporter.line(`${stack.name}: running the ${task.description} as a one-off task...`);
  context.reporter.status(`${stack.name}: ${task.description}`);
  const started = await startTask(ecs, task, outputs, stack.name, task.description, { environment: { [TRANSFER_VARIABLES.key]: object.key, ...environment }, containers });
  object.taskMayRun = true;
  let outcome;
  try {
    outcome = await waitForStop(ecs, started, task.container, context.polling);
  } catch (error) {
    if (!(error instanceof Interrupted)) throw error;
    context.reporter.clear();
    await ecs.send(new StopTaskCommand({ cluster: started.cluster, task: started.taskArn, reason: `Stopped by mastodon-cfn (Ctrl-C)` }));
    object.taskMayRun = false;
    throw MastodonCfnError.of('transfer.interrupted', `Stopped the ${task.description} (task ${started.taskArn.split('/').at(-1)}); a restore commits only at its end, so the database is as it was.`, 130);
  }
  object.taskMayRun = false;
  context.reporter.clear();
  const group = requiredOutput(outputs, task.outputs.logGroup, stack.name);
  for (const container of containers) {
    await logFollower(logs, group, logStream(container, started.taskArn), (text) => context.reporter.line(`  ${container}: ${text.trimEnd()}`))();
  }
  if (outcome.exitCode === 0) return;
  const how = outcome.exitCode === undefined ? `stopped before its ${task.container} container finished` : `${task.container} exited with code ${outcome.exitCode}`;
  throw MastodonCfnError.of('transfer.taskFailed', `The ${task.description} failed: ${how}${outcome.stoppedReason ? ` (${outcome.stoppedReason})` : ''}. Its output is above, and in CloudWatch Logs (${stack.region}, ${group}).`);
}

/** The kept Mastodon secret of the secrets stack: where an import puts the old server's keys. */
async function mastodonSecret(pkg: DeployPackage, clients: Clients): Promise<{ region: string; arn: string }> {
  const stack = pkg.stacks.find((candidate) => Object.values(candidate.generatedSecrets ?? {}).includes('mastodon-secrets'));
  if (!stack) throw MastodonCfnError.of('transfer.unsupported', 'This build has no stack with the Mastodon secret: build it again with this version of mastodon-cfn.');
  const output = Object.entries(stack.generatedSecrets ?? {}).find(([, generator]) => generator === 'mastodon-secrets')![0];
  const arn = outputsOf(await describeStack(clients.cloudFormation(stack.region), stack.name))[output];
  if (!arn) throw MastodonCfnError.of('transfer.notDeployed', `${stack.name} is not deployed in ${stack.region}, or has no output ${output}: deploy first.`);
  return { region: stack.region, arn };
}

export interface ImportOptions {
  /** The dump to restore (checkDump); without it, import only carries keys over or copies media (an interrupted copy goes on). */
  dump?: DumpFile;
  media?: MediaSource;
  /** The old server's keys (from --env-production), checked before the import starts. */
  secrets?: Partial<Record<MastodonSecretName, string>>;
  allowDataLoss: boolean;
}

/**
 * `mastodon-cfn import`: brings an existing server in. A dump or keys only in maintenance mode (nothing
 * else reads or writes the database meanwhile, and no session outlives a new SECRET_KEY_BASE): uploads the
 * dump to the stack's transfer folder of the artifacts bucket, restores it in the import task (which refuses
 * a newer Mastodon's dump, and a database with local posts unless the loss is allowed), deletes the uploaded
 * dump, puts the old server's keys into the kept secret, runs every migration of the pinned release, and
 * copies the media (in any mode).
 */
export async function importInstance(pkg: DeployPackage, context: DeployerContext, options: ImportOptions): Promise<void> {
  const { clients, reporter } = context;
  const main = await deployedMain(pkg, clients, 'import');
  const { stack, transfer, outputs } = main;
  const mode = outputs[transfer.modeOutput];
  if ((options.dump !== undefined || options.secrets) && mode !== 'maintenance') {
    throw MastodonCfnError.of(
      'transfer.notInMaintenance',
      `${stack.name} runs in ${mode} mode: an import of a database or of keys replaces what the running instance uses, so nothing may use it meanwhile. Set mastodon.mode: maintenance, deploy, and import again.`,
    );
  }
  const secret = options.secrets ? await mastodonSecret(pkg, clients) : undefined;
  if (options.dump !== undefined) {
    if (!options.secrets) reporter.line("No --env-production: the instance keeps its own keys, so the old server's two-factor logins, encrypted columns and Web Push subscriptions will not work here (give its .env.production to carry them over).");
    await restoreDump(context, main, options.dump, options.allowDataLoss);
  }
  if (secret && options.secrets) {
    const changed = await replaceSecretKeys(clients.secretsManager(secret.region), secret.arn, options.secrets);
    reporter.line(changed.length ? `Put the old server's ${changed.join(', ')} into ${secret.arn.split(':').at(-1)} (values not shown).` : "The Mastodon secret already holds the old server's keys.");
  }
  if (options.dump !== undefined) {
    const migrations: AfterDeployTask = { ...stack.oneOffTask!, description: 'migrations of the imported database (rails db:migrate)' };
    await runAfterDeploy(clients.ecs(stack.region), migrations, outputs, stack, reporter, context.polling, {}, 'The restored data is in place: fix the cause and run mastodon-cfn run -- bundle exec rails db:migrate.');
  }
  if (options.media) {
    const mediaBucket = requiredOutput(outputs, transfer.mediaBucketOutput, stack.name);
    reporter.line(`Copying the media into s3://${mediaBucket}/ ...`);
    const copied = await copyMedia(clients, options.media, { bucket: mediaBucket, prefix: '', region: stack.region }, reporter);
    reporter.line(`Media: ${copied.copied} files copied (${(copied.bytes / 1024 ** 2).toFixed(1)} MiB), ${copied.skipped} already there.`);
  }
  if (options.dump !== undefined) {
    reporter.line(`Imported into ${stack.name}. Next: set mastodon.mode: production and deploy${options.media ? '' : ' (and copy the media with import --media, or they stay on the old server)'}.`);
  }
}

/** Uploads the dump and restores it in the import task. */
async function restoreDump(context: DeployerContext, main: DeployedMain, { path: dump, size }: DumpFile, allowDataLoss: boolean): Promise<void> {
  const { clients, reporter } = context;
  const { stack, transfer } = main;
  await throughTransferFolder(context, main, 'import', async (object) => {
    reporter.line(`Uploading ${dump} (${(size / 1024 ** 2).toFixed(1)} MiB) to s3://${object.bucket}/${object.key} ...`);
    reporter.status(`uploading ${dump}`);
    await uploadFile(clients.s3(stack.region), { Bucket: object.bucket, Key: object.key, ExpectedBucketOwner: object.account }, dump, size);
    reporter.clear();
    await runTransferTask(context, main, transfer.import, ['fetch', 'restore'], object, allowDataLoss ? { [TRANSFER_VARIABLES.allowDataLoss]: 'true' } : {});
  });
  reporter.line(`${stack.name}: restored ${dump}.`);
}

export interface ExportOptions {
  to: S3Location;
  media: boolean;
}

/**
 * `mastodon-cfn export`: a pg_dump (custom format) and the media, into an empty folder of a bucket the user
 * names; never over anything there. The dump goes through the stack's transfer folder, deleted after.
 */
export async function exportInstance(pkg: DeployPackage, context: DeployerContext, options: ExportOptions): Promise<void> {
  const { clients, reporter } = context;
  const main = await deployedMain(pkg, clients, 'export');
  const { stack, transfer, outputs } = main;
  const target = { ...options.to, region: await bucketRegion(clients, options.to.bucket) };
  const targetS3 = clients.s3(target.region);
  const where = `s3://${target.bucket}/${target.prefix}`;
  if (!(await folderIsEmpty(targetS3, target))) throw MastodonCfnError.of('transfer.targetNotEmpty', `${where} already holds objects: export writes only into an empty folder, so that it overwrites nothing. Name another folder.`);
  if (outputs[transfer.modeOutput] !== 'maintenance') reporter.line(`${stack.name} runs in ${outputs[transfer.modeOutput]} mode: what is posted after the dump is not in it. To move the instance, deploy in maintenance mode first.`);

  const dump = `${target.prefix}mastodon.dump`;
  await throughTransferFolder(context, main, 'export', async (object) => {
    await runTransferTask(context, main, transfer.export, ['dump', 'upload'], object);
    const source = { Bucket: object.bucket, Key: object.key };
    const { ContentLength } = await clients.s3(stack.region).send(new HeadObjectCommand({ ...source, ExpectedBucketOwner: object.account }));
    await copyObject(targetS3, source, { Bucket: target.bucket, Key: dump }, ContentLength ?? 0);
  });
  reporter.line(`Wrote the dump to s3://${target.bucket}/${dump}.`);
  if (options.media) {
    const mediaBucket = requiredOutput(outputs, transfer.mediaBucketOutput, stack.name);
    const copied = await copyMedia(clients, { kind: 's3', location: { bucket: mediaBucket, prefix: '' } }, { ...target, prefix: `${target.prefix}media/` }, reporter);
    reporter.line(`Copied ${copied.copied} media files (${(copied.bytes / 1024 ** 2).toFixed(1)} MiB) to ${where}media/.`);
  }
  const secret = await mastodonSecret(pkg, clients);
  reporter.line(
    [
      `Exported ${stack.name} to ${where}. The keys another server needs (SECRET_KEY_BASE, Active Record encryption, VAPID) are not in the bucket; write them where only you read them, as .env lines:`,
      `  aws secretsmanager get-secret-value --region ${secret.region} --secret-id ${secret.arn} --query SecretString --output text | jq -r 'to_entries[] | "\\(.key)=\\(.value)"' > keys.env`,
      `Another mastodon-cfn instance takes it all with: mastodon-cfn import --dump mastodon.dump --media ${where}media/ --env-production keys.env (after aws s3 cp ${where}mastodon.dump .)`,
    ].join('\n'),
  );
}
