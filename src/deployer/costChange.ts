import type { Stack } from '@aws-sdk/client-cloudformation';
import { money } from '../format.js';
import { cents, estimate, formatTotal, type CostLine, type Estimate, type PricedStack } from '../cost/estimate.js';
import type { Clients } from './aws.js';
import type { DeployPackage } from './manifest.js';
import { deployedTemplate, isDeployed } from './stacks.js';

/**
 * What a deploy does to the monthly bill, as infracost's diff shows it: the package's templates
 * and the deployed ones (GetTemplate, as CloudFormation holds them) priced alike, line by line.
 */
export interface CostChange {
  before: Estimate;
  after: Estimate;
  /** The lines whose monthly amount differs, by resource and item; a side without the key has no such line. */
  changed: LineChange[];
}

interface LineChange {
  resource: string;
  item: string;
  before?: number;
  after?: number;
}

/** The change in the estimate, or undefined when nothing is deployed yet, the build carries no priced estimate, or a deployed template is not JSON. */
export async function costChange(clients: Clients, pkg: DeployPackage, described: Map<string, Stack | undefined>): Promise<CostChange | undefined> {
  const region = pkg.estimate?.region;
  // In a region the table has no prices for, both sides would be unknown: the plain total says so.
  if (!region || pkg.estimate?.priced === false || !pkg.stacks.some((stack) => isDeployed(described.get(stack.name)))) return undefined;
  const deployed: PricedStack[] = [];
  for (const stack of pkg.stacks) {
    if (!isDeployed(described.get(stack.name))) continue;
    const template = await deployedTemplate(clients.cloudFormation(stack.region), stack.name);
    // A stack of that name deployed by other means, in YAML: nothing to compare line by line.
    if (template === undefined) return undefined;
    deployed.push({ name: stack.name, region: stack.region, template: template as PricedStack['template'] });
  }
  const built: PricedStack[] = pkg.stacks.map((stack) => ({ name: stack.name, region: stack.region, template: JSON.parse(pkg.template(stack)) }));
  const before = estimate(deployed, region);
  const after = estimate(built, region);
  const key = (line: CostLine) => `${line.resource}\u0000${line.item}`;
  const amounts = new Map<string, LineChange>();
  for (const [side, lines] of [['before', before.lines], ['after', after.lines]] as const) {
    for (const line of lines) {
      const entry = amounts.get(key(line)) ?? { resource: line.resource, item: line.item };
      entry[side] = line.monthly;
      amounts.set(key(line), entry);
    }
  }
  const changed = [...amounts.values()].filter((entry) => !('before' in entry) || !('after' in entry) || entry.before !== entry.after);
  return { before, after, changed };
}

/** `Monthly cost: $114.78 → $123.58 (+$8.80) ...`, then each line that changes. */
export function formatCostChange({ before, after, changed }: CostChange): string {
  const difference = cents(after.total - before.total);
  const sign = difference > 0 ? '+' : difference < 0 ? '-' : '±';
  const rows = changed.map((entry) => {
    const mark = !('before' in entry) ? '+' : !('after' in entry) ? '-' : '~';
    const amount = mark === '+' ? money(entry.after) : mark === '-' ? money(entry.before) : `${money(entry.before)} → ${money(entry.after)}`;
    return `  ${mark} ${amount}  ${entry.resource}  ${entry.item}`;
  });
  return [
    `Monthly cost: ${money(before.total)} → ${formatTotal(after)} (${sign}${money(Math.abs(difference))}${before.incomplete ? '; the deployed stacks have lines without a price' : ''})`,
    ...(rows.length > 0 ? rows : ['  no line changes']),
  ].join('\n');
}
