import { writeSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { stringify } from 'yaml';
import packageJson from '../package.json' with { type: 'json' };
import { describeAwsFailure } from './awsErrors.js';
import { estimate, type Estimate, formatEstimate, type PriceTable, SHIPPED_SOURCE } from './cost/estimate.js';
import { formatProblem, MastodonCfnError } from './errors.js';
import { DIAGRAM_MARK, toMermaid, toSvg } from './diagram/render.js';
import { writeForTerminal } from './diagram/terminal.js';
import type { InitFlags } from './init.js';
import { writeFile, writeOutput } from './output.js';
import { ownerAccountCommand, TOOTCTL } from './mastodon/facts.js';
import { afterDeploy, buildWith, type FullBuild, loadValidConfigWith, type BuildEnvironment, type PipelineOptions } from './pipeline.js';
import { hasHook, type HookName } from './plugins.js';
import { SIZES } from './config/types.js';
import { renderSummary } from './summary.js';

const DEFAULT_CONFIG = 'mastodon.config.yaml';
const DEFAULT_OUT = '.mastodon-cfn';
/** Exit codes: 1 the config or the request is wrong (or refused), 2 the command line is wrong, 70 a bug, 130 interrupted. */
const EXIT_USAGE = 2;
/** diff --exit-code: some stack would change (terraform plan -detailed-exitcode's 2, which is also a usage error's). */
const EXIT_CHANGES = 2;
const EXIT_INTERNAL = 70;
const EXIT_INTERRUPTED = 130;
/** The exit code a command chose for itself (run: the command's own; status: 1 when not healthy). */
let commandExitCode = 0;
/** A file with thousands of problems is fixed from the top: the rest are counted, not printed. */
const MAX_PRINTED_PROBLEMS = 50;

interface ConfigFlags {
  config: string;
  stage?: string;
  region?: string;
  opt: string[];
  param: string[];
  profile?: string;
}

/**
 * Writes to standard output without creating process.stdout, a stream that loads a dozen of
 * Node's modules for the one write an offline command makes (cold start is what `build` is
 * measured by). Only when the descriptor is non-blocking and full does the stream take over.
 */
function printOut(text: string): void {
  const bytes = Buffer.from(text);
  let written = 0;
  try {
    while (written < bytes.length) written += writeSync(1, bytes, written);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // The reader went away (`| head`): nothing more to say.
    if (code === 'EPIPE') return;
    if (code !== 'EAGAIN') throw error;
    process.stdout.write(bytes.subarray(written));
  }
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function withConfigOptions(command: Command): Command {
  return command
    .option('-c, --config <file>', 'the config file', DEFAULT_CONFIG)
    .option('-s, --stage <name>', 'stage; overrides provider.stage and is ${opt:stage}')
    .option('-r, --region <name>', 'home region; overrides provider.region and is ${opt:region}')
    .option('--opt <name=value>', 'an extra ${opt:name} value (repeatable)', collect, [])
    .option('--param <name=value>', 'a ${param:name} value, over the config\'s params (repeatable)', collect, [])
    .option('--profile <name>', 'the AWS credentials profile, over provider.profile and AWS_PROFILE (for the commands and variables that talk to AWS)');
}

/** `--opt` and `--param` values: name=value, each. */
function namedValues(pairs: string[], flag: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const pair of pairs) {
    const separator = pair.indexOf('=');
    if (separator < 1) throw MastodonCfnError.of(`usage.${flag.slice(2)}`, `${flag} takes name=value, got "${pair}"`, EXIT_USAGE);
    values[pair.slice(0, separator)] = pair.slice(separator + 1);
  }
  return values;
}

function pipelineOptions(flags: ConfigFlags): PipelineOptions {
  const options: Record<string, string | undefined> = { stage: flags.stage, region: flags.region, ...namedValues(flags.opt, '--opt') };
  return { configFile: flags.config, options, env: process.env, params: namedValues(flags.param, '--param') };
}

/**
 * The credentials profile, as the Serverless Framework picks it: --profile; else what the
 * environment names (AWS_PROFILE, or keys, as CI's OIDC step exports) wins over provider.profile.
 * The SDK's credential chain reads AWS_PROFILE when it first needs credentials, after this.
 */
function useProfile(flag: string | undefined, configured: string | undefined): void {
  const environment = ENVIRONMENT_CREDENTIALS.find((name) => process.env[name]);
  const profile = flag ?? (environment ? undefined : configured);
  if (!flag && configured && environment && !profileNoticeGiven && process.env.AWS_PROFILE !== configured) {
    profileNoticeGiven = true;
    process.stderr.write(`provider.profile ${configured} is not used: the environment's ${environment} names the credentials, and wins over it (as in the Serverless Framework); --profile ${configured} would use it.\n`);
  }
  if (profile) process.env.AWS_PROFILE = profile;
}
let profileNoticeGiven = false;
/** What names the credentials in the environment, for the SDK's chain: a profile, keys, a container's or a web identity's credentials (CodeBuild, ECS, EKS). */
const ENVIRONMENT_CREDENTIALS = ['AWS_PROFILE', 'AWS_ACCESS_KEY_ID', 'AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_WEB_IDENTITY_TOKEN_FILE'];

/** Where the build reaches beyond the config: AWS, only for variables that read it (the deployer's SDK loads only then), and stderr for what it says. */
function buildEnvironment(flags: ConfigFlags, command: string, hooks: HookName[] = ['after:compile']): BuildEnvironment {
  return {
    command,
    hooks,
    write: (line) => process.stderr.write(`${line}\n`),
    readAws: async (lookups, known, profile) => {
      useProfile(flags.profile, profile);
      const deployer = await import('./deployer/index.js');
      return deployer.readVariableValues(deployer.sdkClients(), lookups, known, flags.region ?? (process.env.AWS_REGION || 'us-east-1'));
    },
  };
}

/** The build of the config the flags name, as `command` runs it. */
function buildFor(flags: ConfigFlags, command: string, hooks?: HookName[]): Promise<FullBuild> {
  return buildWith(pipelineOptions(flags), buildEnvironment(flags, command, hooks));
}


export function createProgram(): Command {
  const program = new Command('mastodon-cfn')
    .description('Compile mastodon.config.yaml into AWS CloudFormation and deploy it through change sets.')
    .version(packageJson.version, '-v, --version')
    .option('--debug', 'show stack traces of internal errors')
    .showHelpAfterError('(run with --help for usage)')
    // Options after a command's first argument belong to that command (run, tootctl), not to mastodon-cfn.
    .enablePositionalOptions()
    .exitOverride()
    .hook('preAction', (_program, command) => {
      currentCommand = command.name();
    });

  withConfigOptions(program.command('build'))
    .description('validate the config and write the CloudFormation templates, the manifest and architecture.svg, and print the monthly estimate (offline, no AWS credentials)')
    .option('-o, --out <dir>', 'output folder', DEFAULT_OUT)
    .action(async (flags: ConfigFlags & { out: string }) => {
      const result = await buildFor(flags, 'build');
      const others = writeOutput({ path: flags.out, flag: '--out' }, result.files);
      printOut(renderSummary(result, flags.out, flags.stage !== undefined, others));
    });

  program
    .command('init')
    .description('write a new, commented mastodon.config.yaml: asks for the domain, service name, media domain, region, mail sender, size and Route 53 use, or takes them as flags')
    .option('-c, --config <file>', 'the file to write (never over an existing one)', DEFAULT_CONFIG)
    .option('--domain <name>', "the instance's domain")
    .option('--service <name>', 'the service name, which the stack names derive from (default: the first label of the domain)')
    .option('--media-domain <name>', 'the domain of the media files (default media.<domain>)')
    .option('-r, --region <name>', 'the AWS region (default AWS_REGION, else us-east-1)')
    .option('--mail-from <address>', "the sender of Mastodon's e-mails (default notifications@<domain>)")
    .addOption(new Option('--size <size>', 'small, standard or large').choices([...SIZES]))
    .option('--route53', 'the domain is in Route 53: let deploy write the DNS records')
    .option('--no-route53', 'create the DNS records by hand')
    .option('-y, --yes', 'take the defaults for what the flags leave open, without asking')
    .action(async (flags: InitFlags & { config: string; yes?: boolean }) => {
      // Loaded only here: its terminal questions need readline, which no other command does.
      const { answersEverything, init, terminalAsk } = await import('./init.js');
      const { config, yes, ...answers } = flags;
      let ask: ReturnType<typeof terminalAsk> | undefined;
      if (!yes && !answersEverything(answers)) {
        if (!process.stdin.isTTY) throw MastodonCfnError.of('usage.init', 'init asks its questions on a terminal, and there is none: give the answers as flags (--domain, --region, ...), or --yes for the defaults.', EXIT_USAGE);
        ask = terminalAsk(process.stdin, process.stderr);
      }
      try {
        for (const line of await init(config, answers, ask?.ask, process.env)) printOut(`${line}\n`);
      } finally {
        ask?.close();
      }
    });

  withConfigOptions(program.command('cost'))
    .description("the monthly cost of the stacks the config compiles to, itemised, from the price table shipped with mastodon-cfn (offline) or today's AWS prices")
    .option('--json', 'as JSON')
    .option('--prices-from-aws', "today's prices from AWS's Price List API instead (needs credentials allowed pricing:GetProducts)")
    .action(async (flags: ConfigFlags & { json?: boolean; pricesFromAws?: boolean }) => {
      const result = await buildFor(flags, 'cost');
      if (flags.pricesFromAws) useProfile(flags.profile, result.config.provider.profile);
      const monthly = flags.pricesFromAws ? await estimateWithAwsPrices(result) : result.estimate;
      printOut(flags.json ? `${JSON.stringify(monthly, null, 2)}\n` : `${formatEstimate(monthly)}\n`);
    });

  withConfigOptions(program.command('diagram'))
    .description('the architecture the config compiles to, with the monthly cost of each box (build also writes architecture.svg)')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['svg', 'mermaid']).default('svg'))
    .option('--out <file>', 'write it to this file instead of printing it (on a terminal an SVG goes to architecture.svg here)')
    .action(async (flags: ConfigFlags & { format: 'svg' | 'mermaid'; out?: string }) => {
      const result = await buildFor(flags, 'diagram');
      const text = flags.format === 'mermaid' ? toMermaid(result.architecture) : toSvg(result.architecture);
      if (flags.out) writeFile({ path: flags.out, flag: '--out' }, text, DIAGRAM_MARK);
      // On a terminal the SVG goes to a file (node:tty loads net: only here); Mermaid is text to paste, and printed.
      else if (flags.format === 'svg' && (await import('node:tty')).isatty(1)) printOut(writeForTerminal(text));
      else printOut(text);
    });

  withConfigOptions(program.command('print'))
    .description('print the config with variables resolved and defaults filled in')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['yaml', 'json']).default('yaml'))
    .action(async (flags: ConfigFlags & { format: 'yaml' | 'json' }) => {
      const { config } = await loadValidConfigWith(pipelineOptions(flags), buildEnvironment(flags, 'print'));
      printOut(flags.format === 'json' ? `${JSON.stringify(config, null, 2)}\n` : stringify(config));
    });

  // deploy writes its build (like `serverless deploy`); info, diff and remove write nothing unless given --out.
  const packageOption = (command: Command, out: string | undefined) =>
    withConfigOptions(command)
      .option('-o, --out <dir>', out ? 'where the build is written first' : 'also write the build to this folder', out)
      .option('-p, --package <dir>', 'use an existing build output (manifest.json and templates) instead of building');

  packageOption(program.command('deploy'), DEFAULT_OUT)
    .description('build, then deploy every stack through a change set: shown, checked, confirmed, executed and followed')
    .option('-y, --yes', 'do not ask for confirmation')
    .addOption(new Option('--progress <style>', 'a live progress line, or one line per event').choices(['bar', 'events']))
    .option('--allow-data-loss', 'deploy even if a stateful resource would be replaced or deleted')
    .option('--force-version', 'deploy even if the Mastodon upgrade would skip a release series or go down')
    .option('--rotate-token <service...>', "make a new Mastodon token for these services (services.<name>.mastodon): the old one is revoked and the service's tasks restart with the new one")
    .option('--outputs-file <file>', 'once every stack is deployed, write their outputs to this JSON file ({"<stack>": {"<OutputKey>": "<value>"}}); an existing file is replaced only when it is an outputs file of these stacks')
    .action(async (flags: DeployFlags & { outputsFile?: string }) => {
      const deployer = await import('./deployer/index.js');
      const outputsFile = flags.outputsFile === undefined ? undefined : { path: flags.outputsFile, flag: '--outputs-file' };
      await withDeployer(flags, deployer, (pkg, context) => deployer.deploy(pkg, context, { allowDataLoss: Boolean(flags.allowDataLoss), forceVersion: Boolean(flags.forceVersion), rotateTokens: flags.rotateToken ?? [], outputsFile }));
    });

  packageOption(program.command('diff'), undefined)
    .description('show what deploy would change; changes nothing (it makes a change set for each deployed stack, reads it and deletes it)')
    .option('--json', 'the plan as one JSON document on stdout (progress goes to stderr)')
    .option('--exit-code', 'exit 0 when no stack would change, 2 when some would, 1 on an error (as terraform plan -detailed-exitcode; 2 is also the exit code of a wrong command line)')
    .action(async (flags: DeployFlags & { json?: boolean; exitCode?: boolean }) => {
      const deployer = await import('./deployer/index.js');
      // With --json, stdout holds the plan and nothing else.
      await withDeployer(flags, deployer, async (pkg, context) => {
        const planned = flags.json ? await deployer.plan(pkg, context) : await deployer.diff(pkg, context);
        if (flags.json) printOut(`${JSON.stringify(planned, null, 2)}\n`);
        if (flags.exitCode && planned.changes) commandExitCode = EXIT_CHANGES;
      }, flags.json ? process.stderr : process.stdout);
    });

  packageOption(program.command('info'), undefined)
    .description("show the stacks' status and outputs")
    .option('--json', 'as JSON')
    .action(async (flags: DeployFlags & { json?: boolean }) => {
      const deployer = await import('./deployer/index.js');
      const stacks = await deployer.info((await packageFor(flags, deployer)).pkg, deployer.sdkClients());
      process.stdout.write(flags.json ? `${JSON.stringify(stacks, null, 2)}\n` : `${deployer.formatInfo(stacks)}\n`);
    });

  packageOption(program.command('status'), undefined)
    .description('one screen of what is wrong: services, stopped tasks, target health, database, cache, CloudFront, certificates, mail, the URLs; exit 0 only when all is healthy')
    .option('--json', 'as JSON')
    .action(async (flags: DeployFlags & { json?: boolean }) => {
      const deployer = await import('./deployer/index.js');
      const report = await deployer.status((await packageFor(flags, deployer)).pkg, deployer.sdkClients(), deployer.httpProbe);
      process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : deployer.formatStatus(report));
      commandExitCode = report.healthy ? 0 : 1;
    });

  packageOption(program.command('policy'), undefined)
    .description('print the least-privilege IAM policy that deploy, diff, status, logs, run, drift, backup, snapshots, import, export, remove and cost --prices-from-aws need for this build (offline), as a list of managed policy documents within IAM\'s size limit')
    .option('--account <id>', 'the AWS account id to put in the ARNs (default: any, *)')
    .option('--transfer-bucket <name...>', 'also allow import --media s3:// to read, and export --to to write, these buckets of yours')
    .action(async (flags: DeployFlags & { account?: string; transferBucket?: string[] }) => {
      if (flags.account !== undefined && !/^\d{12}$/.test(flags.account)) throw MastodonCfnError.of('usage.account', `--account takes a 12-digit AWS account id, got "${flags.account}"`, EXIT_USAGE);
      const { bucketName } = await import('./aws/s3.js');
      const transferBuckets = (flags.transferBucket ?? []).map((name) => bucketName(name, '--transfer-bucket'));
      // Offline: the build output is read without loading the deployer's AWS SDK.
      const { inMemoryPackage, readPackage } = await import('./deployer/manifest.js');
      const pkg = flags.package ? readPackage(flags.package) : inMemoryPackage((await buildFor(flags, 'policy')).files);
      const { deployerPolicy, managedPolicies } = await import('./policy.js');
      const { policy, unknownTypes } = deployerPolicy(pkg, flags.account, transferBuckets);
      printOut(`${JSON.stringify(managedPolicies(policy), null, 2)}\n`);
      if (unknownTypes.length) process.stderr.write(`mastodon-cfn policy: the permissions CloudFormation needs for ${unknownTypes.join(', ')} (from resources: or a plugin) are not known to it: add them to the policy by hand.\n`);
    });

  packageOption(program.command('drift'), undefined)
    .description('run CloudFormation drift detection on every stack and list what was changed outside mastodon-cfn; exit 0 only when stacks are deployed and nothing was')
    .option('--json', 'as JSON')
    .action(async (flags: DeployFlags & { json?: boolean }) => {
      const deployer = await import('./deployer/index.js');
      await withDeployer(flags, deployer, async (pkg, context) => {
        const drifts = await deployer.detectDrift(pkg, context.clients, context.polling);
        process.stdout.write(flags.json ? `${JSON.stringify(drifts, null, 2)}\n` : deployer.formatDrift(drifts));
        // Nothing deployed is no all-clear: a check pointed at the wrong stage, region or account must not pass.
        commandExitCode = drifts.some((drift) => drift.status !== 'NOT_DEPLOYED') && drifts.every((drift) => drift.status === 'IN_SYNC' || drift.status === 'NOT_DEPLOYED') ? 0 : 1;
      });
    });

  packageOption(program.command('backup'), undefined)
    .description("take a manual snapshot of the database now, wait until it is available and print its identifier (RDS keeps it until you delete it, through remove too)")
    .option('--no-wait', 'print the identifier at once; RDS goes on taking the snapshot')
    .action(async (flags: DeployFlags & { wait: boolean }) => {
      const deployer = await import('./deployer/index.js');
      await withDeployer(flags, deployer, async (pkg, context) => {
        await deployer.backup(pkg, context.clients, context.reporter, context.polling, { wait: flags.wait });
      });
    });

  packageOption(program.command('snapshots'), undefined)
    .description("list the database's snapshots, newest first: automated, manual (mastodon-cfn backup) and final snapshots, with their dates")
    .option('--json', 'as JSON')
    .action(async (flags: DeployFlags & { json?: boolean }) => {
      const deployer = await import('./deployer/index.js');
      const clients = deployer.sdkClients();
      const database = await deployer.deployedDatabase((await packageFor(flags, deployer)).pkg, clients);
      const snapshots = await deployer.listSnapshots(clients.rds(database.stack.region), database);
      printOut(flags.json ? `${JSON.stringify(snapshots, null, 2)}\n` : deployer.formatSnapshots(database, snapshots));
    });

  packageOption(program.command('import'), undefined)
    .description("bring an existing Mastodon server in (deployed in maintenance mode): restore its pg_dump, carry its keys over, run the migrations and copy its media")
    .option('--dump <file>', "the old server's database, made there with pg_dump --format=custom")
    .option('--media <folder>', "the old server's media: its public/system folder, or s3://<bucket>/<folder>/ where it stored them")
    .option('--env-production <file>', "the old server's .env.production: its SECRET_KEY_BASE, OTP_SECRET, Active Record encryption and VAPID keys go into the kept Mastodon secret")
    // Node 20 reads --env-file wherever it stands and exits 9 on a missing file before any of the tool runs: the same, under a name Node leaves alone.
    .option('--env-file <file>', 'the same as --env-production')
    .option('--allow-data-loss', 'replace a database that already has local posts')
    .action(async (flags: DeployFlags & { dump?: string; media?: string; envFile?: string; envProduction?: string }) => {
      if (flags.envFile !== undefined && flags.envProduction !== undefined) throw MastodonCfnError.of('usage.import', 'give --env-production or --env-file, not both', EXIT_USAGE);
      const envFile = flags.envProduction ?? flags.envFile;
      if (flags.dump === undefined && flags.media === undefined && envFile === undefined) {
        throw MastodonCfnError.of('usage.import', 'import takes --dump, --media or --env-production (a first import takes all three; --media alone goes on with an interrupted copy)', EXIT_USAGE);
      }
      const deployer = await import('./deployer/index.js');
      const { readMastodonSecrets } = await import('./mastodon/envFile.js');
      // Every local input is read before anything is sent.
      const dump = flags.dump === undefined ? undefined : deployer.checkDump(flags.dump);
      const media = flags.media === undefined ? undefined : deployer.mediaSource(flags.media);
      const secrets = envFile === undefined ? undefined : readMastodonSecrets(envFile, flags.envProduction !== undefined ? '--env-production' : '--env-file');
      await withDeployer(flags, deployer, async (pkg, context) => {
        await deployer.importInstance(pkg, context, { dump, media, secrets, allowDataLoss: Boolean(flags.allowDataLoss) });
      });
    });

  packageOption(program.command('export'), undefined)
    .description('write a pg_dump (custom format) of the database and a copy of the media into an empty folder of a bucket you name, to leave or to keep')
    .requiredOption('--to <s3-folder>', 's3://<bucket>/<folder>/: an empty folder of a bucket these credentials may write to')
    .option('--no-media', 'the dump only')
    .action(async (flags: DeployFlags & { to: string; media: boolean }) => {
      const deployer = await import('./deployer/index.js');
      const { parseS3Folder } = await import('./aws/s3.js');
      const to = parseS3Folder(flags.to, '--to');
      await withDeployer(flags, deployer, async (pkg, context) => {
        await deployer.exportInstance(pkg, context, { to, media: flags.media });
      });
    });

  packageOption(program.command('remove'), undefined)
    .description('delete the stacks (main first); stateful resources keep their data and are listed')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (flags: DeployFlags) => {
      const deployer = await import('./deployer/index.js');
      await withDeployer(flags, deployer, (pkg, context) => deployer.remove(pkg, context));
    });

  const runCommand = (command: string[]) => async (flags: DeployFlags) => {
    const deployer = await import('./deployer/index.js');
    await withDeployer(flags, deployer, async (pkg, context) => {
      commandExitCode = await deployer.run(pkg, context, command, (text) => process.stdout.write(text));
    });
  };
  packageOption(program.command('run'), undefined)
    .passThroughOptions()
    .description('run a one-off command in a task with Mastodon\'s environment (any mode); its output follows and its exit code is ours')
    .argument('<command...>', 'the command and its arguments, after --')
    .action((command: string[], flags: DeployFlags) => runCommand(command)(flags));
  packageOption(program.command('tootctl'), undefined)
    .passThroughOptions()
    .description(`run tootctl in a one-off task, e.g. tootctl ${ownerAccountCommand('alice', 'alice@example.com').join(' ')}`)
    .argument('[args...]', 'tootctl arguments')
    .action((args: string[], flags: DeployFlags) => runCommand([TOOTCTL, ...args])(flags));

  packageOption(program.command('logs'), undefined)
    .description("the tasks' logs, interleaved by time, each line with its process (web, streaming, sidekiq, migrate, postgres) or service")
    .argument('[source]', 'one process or service; all of them when left out')
    .option('--since <when>', 'how far back: a duration (30m, 1h, 2d) or a date and time', '1h')
    .option('-f, --follow', 'keep printing new lines until Ctrl-C')
    .option('--filter <pattern>', 'only lines matching this CloudWatch Logs filter pattern (a plain word: lines containing it)')
    .action(async (source: string | undefined, flags: DeployFlags & { since: string; follow?: boolean; filter?: string }) => {
      const deployer = await import('./deployer/index.js');
      const request = { source, since: deployer.parseSince(flags.since, Date.now()), follow: Boolean(flags.follow), filter: flags.filter };
      await withDeployer(flags, deployer, (pkg, context) => deployer.showLogs(pkg, context, request, (text) => process.stdout.write(text)));
    });

  // --debug is taken after the command too (mastodon-cfn deploy --debug), where the internal-error advice puts it.
  for (const command of program.commands) command.option('--debug', 'show stack traces of internal errors').exitOverride();
  return program;
}

interface DeployFlags extends ConfigFlags {
  out?: string;
  package?: string;
  yes?: boolean;
  progress?: 'bar' | 'events';
  allowDataLoss?: boolean;
  forceVersion?: boolean;
  rotateToken?: string[];
}

type Deployer = typeof import('./deployer/index.js');

/** The command being run (set before its action): what plugins are told, and whether deploy's hooks run. */
let currentCommand = '';

/**
 * The deployer reads only a build output: the given --package, or a fresh build (written to
 * --out when there is one), with the plugins' before:deploy hooks when it is deploy's.
 */
async function packageFor(flags: DeployFlags, deployer: Deployer): Promise<{ pkg: ReturnType<Deployer['readPackage']>; built?: FullBuild }> {
  if (flags.package) {
    const pkg = deployer.readPackage(flags.package);
    useProfile(flags.profile, pkg.profile);
    if (currentCommand === 'deploy' && pkg.plugins?.length) {
      process.stderr.write(`${pkg.source} was built with plugins (${pkg.plugins.join(', ')}): deploy --package runs none of their hooks, as it reads no config; deploy without --package runs before:deploy and after:deploy.\n`);
    }
    return { pkg };
  }
  const built = await buildFor(flags, currentCommand, currentCommand === 'deploy' ? ['after:compile', 'before:deploy'] : ['after:compile']);
  useProfile(flags.profile, built.config.provider.profile);
  if (flags.out === undefined) return { pkg: deployer.inMemoryPackage(built.files), built };
  writeOutput({ path: flags.out, flag: '--out' }, built.files);
  return { pkg: deployer.readPackage(flags.out), built };
}


async function withDeployer(flags: DeployFlags, deployer: Deployer, run: (pkg: ReturnType<Deployer['readPackage']>, context: import('./deployer/index.js').DeployerContext) => Promise<void>, reportTo: NodeJS.WriteStream = process.stdout): Promise<void> {
  const { pkg, built } = await packageFor(flags, deployer);
  // Ctrl-C aborts the signal: the deployer cleans up what it made and not yet used (a change set, an empty stack),
  // stops following what CloudFormation goes on with, and ends with exit code 130. A second Ctrl-C ends at once.
  const interrupt = new AbortController();
  const onSigint = () => interrupt.abort();
  process.once('SIGINT', onSigint);
  try {
    const context = {
      clients: deployer.sdkClients(),
      reporter: deployer.terminalReporter(flags.progress, reportTo),
      confirm: deployer.terminalConfirm(Boolean(flags.yes), interrupt),
      polling: { ...deployer.DEFAULT_POLLING, signal: interrupt.signal },
    };
    await run(pkg, context);
    if (currentCommand === 'deploy' && built && hasHook(built.plugins, 'after:deploy')) {
      const outputs = Object.fromEntries((await deployer.info(pkg, context.clients)).map((stack) => [stack.name, stack.outputs]));
      await afterDeploy(built, outputs, (line) => process.stderr.write(`${line}\n`));
    }
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

/** The same build priced with today's Price List prices; a failure to read them says that the shipped table still works. */
async function estimateWithAwsPrices(shipped: FullBuild): Promise<Estimate> {
  const deployer = await import('./deployer/index.js');
  let prices: PriceTable;
  try {
    prices = await deployer.priceTableFromAws(deployer.sdkClients().pricing(), shipped.estimate.region, shipped.estimate.lines.map((line) => line.price));
  } catch (error) {
    const outside = describeAwsFailure(error);
    if (!outside) throw error;
    throw MastodonCfnError.of('aws.prices', `${outside} Without --prices-from-aws, cost uses ${SHIPPED_SOURCE} (prices of ${shipped.estimate.date}).`, 1);
  }
  return estimate(shipped.written, shipped.estimate.region, prices);
}

/** The one top-level handler: every error becomes a message and an exit code; stack traces only with --debug. */
export async function main(argv: string[]): Promise<number> {
  // Not after `--`: what follows is a one-off command's own (mastodon-cfn run -- bin/rails --debug).
  const separator = argv.indexOf('--');
  const debug = (separator === -1 ? argv : argv.slice(0, separator)).includes('--debug');
  try {
    commandExitCode = 0;
    await createProgram().parseAsync(argv);
    return commandExitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has already printed the help, the version or the usage error.
      return error.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    if (error instanceof MastodonCfnError) {
      for (const problem of error.problems.slice(0, MAX_PRINTED_PROBLEMS)) process.stderr.write(`${formatProblem(problem, error.file)}\n`);
      const count = error.problems.length;
      if (count > MAX_PRINTED_PROBLEMS) process.stderr.write(`... and ${count - MAX_PRINTED_PROBLEMS} more\n`);
      if (error.file) process.stderr.write(`${count} problem${count === 1 ? '' : 's'} in ${error.file}; nothing was written.\n`);
      return error.exitCode;
    }
    // Ctrl-C where the deployer had nothing to clean up (it says so itself where it had); by name, as it comes from the deployer's bundle.
    if ((error as Error | undefined)?.name === 'Interrupted') {
      process.stderr.write('Interrupted.\n');
      return EXIT_INTERRUPTED;
    }
    const outside = describeAwsFailure(error);
    if (outside) {
      process.stderr.write(`${outside}\n`);
      if (debug) process.stderr.write(`${(error as Error).stack}\n`);
      return 1;
    }
    process.stderr.write(`internal error: ${(error as Error).message}\n`);
    process.stderr.write(debug ? `${(error as Error).stack}\n` : 'This is a bug in mastodon-cfn: please report it, with the output of the same command run with --debug.\n');
    return EXIT_INTERNAL;
  }
}
