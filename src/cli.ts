import { Command, CommanderError, Option } from 'commander';
import { stringify } from 'yaml';
import packageJson from '../package.json' with { type: 'json' };
import { formatProblem, MastodonCfnError } from './errors.js';
import { writeOutput } from './output.js';
import { build, loadValidConfig, type PipelineOptions } from './pipeline.js';
import { renderSummary } from './summary.js';

const DEFAULT_CONFIG = 'mastodon.config.yaml';
const DEFAULT_OUT = '.mastodon-cfn';
/** Exit codes: 1 the config or the request is wrong, 2 the command line is wrong, 70 a bug. */
const EXIT_USAGE = 2;
const EXIT_INTERNAL = 70;

interface ConfigFlags {
  config: string;
  stage?: string;
  region?: string;
  opt: string[];
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function withConfigOptions(command: Command): Command {
  return command
    .option('-c, --config <file>', 'the config file', DEFAULT_CONFIG)
    .option('-s, --stage <name>', 'stage; overrides provider.stage and is ${opt:stage}')
    .option('-r, --region <name>', 'home region; overrides provider.region and is ${opt:region}')
    .option('--opt <name=value>', 'an extra ${opt:name} value (repeatable)', collect, []);
}

function pipelineOptions(flags: ConfigFlags): PipelineOptions {
  const options: Record<string, string | undefined> = { stage: flags.stage, region: flags.region };
  for (const pair of flags.opt) {
    const separator = pair.indexOf('=');
    if (separator < 1) throw MastodonCfnError.of('usage.opt', `--opt takes name=value, got "${pair}"`, EXIT_USAGE);
    options[pair.slice(0, separator)] = pair.slice(separator + 1);
  }
  return { configFile: flags.config, options, env: process.env };
}


export function createProgram(): Command {
  const program = new Command('mastodon-cfn')
    .description('Compile mastodon.config.yaml into AWS CloudFormation and deploy it through change sets.')
    .version(packageJson.version, '-v, --version')
    .option('--debug', 'show stack traces of internal errors')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  withConfigOptions(program.command('build'))
    .description('validate the config and write the CloudFormation templates and manifest (offline, no AWS credentials)')
    .option('-o, --out <dir>', 'output folder', DEFAULT_OUT)
    .action((flags: ConfigFlags & { out: string }) => {
      const result = build(pipelineOptions(flags));
      writeOutput(flags.out, result.files);
      process.stdout.write(renderSummary(result, flags.out, flags.stage !== undefined));
    });

  withConfigOptions(program.command('print'))
    .description('print the config with variables resolved and defaults filled in')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['yaml', 'json']).default('yaml'))
    .action((flags: ConfigFlags & { format: 'yaml' | 'json' }) => {
      const { config } = loadValidConfig(pipelineOptions(flags));
      process.stdout.write(flags.format === 'json' ? `${JSON.stringify(config, null, 2)}\n` : stringify(config));
    });

  for (const command of program.commands) command.exitOverride();
  return program;
}

/** The one top-level handler: every error becomes a message and an exit code; stack traces only with --debug. */
export async function main(argv: string[]): Promise<number> {
  const debug = argv.includes('--debug');
  try {
    await createProgram().parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has already printed the help, the version or the usage error.
      return error.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    if (error instanceof MastodonCfnError) {
      for (const problem of error.problems) process.stderr.write(`${formatProblem(problem, error.file)}\n`);
      if (error.file) {
        const count = error.problems.length;
        process.stderr.write(`${count} problem${count === 1 ? '' : 's'} in ${error.file}; nothing was written.\n`);
      }
      return error.exitCode;
    }
    process.stderr.write(`internal error: ${(error as Error).message}\n`);
    process.stderr.write(debug ? `${(error as Error).stack}\n` : 'This is a bug in mastodon-cfn: please report it, with the output of the same command run with --debug.\n');
    return EXIT_INTERNAL;
  }
}
