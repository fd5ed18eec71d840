import type FullHandlebars from 'handlebars';
import handlebarsRuntime from 'handlebars/runtime.js';
import { formatTotal } from './cost/estimate.js';
import { plural } from './format.js';
import type { Build } from './pipeline.js';
import { summary } from './templates.generated.js';

// Only the runtime ships (templates are precompiled); its declaration file exports no types of its own.
const Handlebars = handlebarsRuntime as unknown as typeof FullHandlebars;

/** What `build` prints: the stacks written and the steps left to the user. */
export function renderSummary(build: Build, outDir: string, stageOption: boolean, others: string[]): string {
  const { config, manifest, stacks } = build;
  const handlebars = Handlebars.create();
  handlebars.registerHelper('pad', (text: string, width: number) => String(text).padEnd(width));
  handlebars.registerHelper('join', (names: string[]) => names.join(', '));
  // templates/summary.hbs, precompiled by scripts/generate.mjs
  const template = handlebars.template(summary);

  const created = (what: string) => `${what} (deploy prints the validation CNAME while it waits)`;
  const sandbox = 'ask AWS to move SES out of its sandbox to mail anyone (mastodon-cfn status says whether it still is)';
  // With Route 53 the deploy writes every record itself.
  const manualSteps = config.dns ? [sandbox] : [
    `${config.domain}: CNAME or alias to the load balancer (output LoadBalancerDnsName)`,
    `${config.media.domain}: CNAME or alias to CloudFront (output MediaDistributionDomainName)`,
    ...Object.values(config.services)
      .filter((service) => service.host)
      .map((service) => `${service.host}: CNAME or alias to the load balancer (output LoadBalancerDnsName)`),
    ...(config.certificates.instance ? [] : [created(`validate the certificate for ${config.domain}`)]),
    ...(config.certificates.media ? [] : [created(`validate the certificate for ${config.media.domain}`)]),
    ...Object.values(config.services)
      .filter((service) => service.host)
      .map((service) => created(`validate the certificate for ${service.host}`)),
    `${config.mail.from.split('@')[1]}: the three SES DKIM CNAMEs (outputs DkimRecord1-3)`,
    sandbox,
  ];
  return template({
    service: manifest.service,
    stage: manifest.stage,
    stageOption,
    outDir,
    nameWidth: Math.max(...manifest.stacks.map((stack) => stack.name.length)),
    stacks: manifest.stacks.map((stack, i) => ({ ...stack, resources: plural(Object.keys(stacks[i].template.Resources ?? {}).length, 'resource') })),
    resourcesWidth: Math.max(...stacks.map((stack) => plural(Object.keys(stack.template.Resources ?? {}).length, 'resource').length)),
    others,
    manualSteps,
    cost: formatTotal(build.estimate),
  });
}
