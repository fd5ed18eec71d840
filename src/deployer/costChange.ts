import type { Stack } from '@aws-sdk/client-cloudformation';
import { money } from '../format.js';
import { cents, estimate, formatTotal, type CostLine, type PricedStack } from '../cost/estimate.js';
import type { Clients } from './aws.js';
import type { DeployPackage } from './manifest.js';
import { deployedTemplate, isDeployed } from './stacks.js';

/**
 * What a deploy does to the monthly bill, as infracost's diff shows it: the package's templates
 * and the deployed ones (GetTemplate, as CloudFormation holds them) priced alike, line by line.
 * Plain data: `diff --json` prints it as it is.
 */
export interface CostChange {
  kind: 'change';
  currency: string;
  region: string;
  /** The date of the prices. */
  date: string;
  before: MonthlyTotal;
  after: MonthlyTotal;
  /** after.total - before.total, to the cent. */
  delta: number;
  /** The lines whose monthly amount differs, by resource and item; a side without the key has no such line, null: its price is unknown. */
  lines: LineChange[];
}

export interface MonthlyTotal {
  /** The sum of the lines with a price. */
  total: number;
  /** Some line has no price: the total is a lower bound. */
  incomplete: boolean;
}

/** The build's own estimate, when there is nothing deployed to compare with (or the deployed templates cannot be priced). */
export interface CostEstimate {
  kind: 'estimate';
  currency: string;
  region: string;
  date: string;
  /** null: the price table has no prices for the region. */
  total: number | null;
  incomplete: boolean;
}

export type PlanCost = CostChange | CostEstimate;

export interface LineChange {
  resource: string;
  item: string;
  before?: number | null;
  after?: number | null;
}

/** What the plan says of the cost: the change against the deployed stacks, else the build's estimate; undefined when the build carries none. */
export async function planCost(clients: Clients, pkg: DeployPackage, described: Map<string, Stack | undefined>): Promise<PlanCost | undefined> {
  const change = await costChange(clients, pkg, described);
  if (change || !pkg.estimate) return change;
  const { currency, region, date, total, incomplete, priced } = pkg.estimate;
  return { kind: 'estimate', currency, region, date, total: priced === false ? null : total, incomplete };
}

/** The change in the estimate, or undefined when nothing is deployed yet, the build carries no priced estimate, or a deployed template is not JSON. */
async function costChange(clients: Clients, pkg: DeployPackage, described: Map<string, Stack | undefined>): Promise<CostChange | undefined> {
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
      entry[side] = line.monthly ?? null;
      amounts.set(key(line), entry);
    }
  }
  const changed = [...amounts.values()].filter((entry) => !('before' in entry) || !('after' in entry) || entry.before !== entry.after);
  return {
    kind: 'change',
    currency: after.currency,
    region,
    date: after.date,
    before: { total: before.total, incomplete: before.incomplete },
    after: { total: after.total, incomplete: after.incomplete },
    delta: cents(after.total - before.total),
    lines: changed,
  };
}

/** `Monthly cost: $114.78 → $123.58 (+$8.80) ...`, then each line that changes; or the estimate of a first deploy. */
export function formatCost(cost: PlanCost): string {
  if (cost.kind === 'estimate') return `Estimated cost once deployed: ${formatTotal({ ...cost, total: cost.total ?? 0, priced: cost.total !== null })} (mastodon-cfn cost itemises it)`;
  const { before, after, delta, lines } = cost;
  const sign = delta > 0 ? '+' : delta < 0 ? '-' : '±';
  const amount = (value: number | null | undefined) => money(value ?? undefined);
  const rows = lines.map((entry) => {
    const mark = !('before' in entry) ? '+' : !('after' in entry) ? '-' : '~';
    const shown = mark === '+' ? amount(entry.after) : mark === '-' ? amount(entry.before) : `${amount(entry.before)} → ${amount(entry.after)}`;
    return `  ${mark} ${shown}  ${entry.resource}  ${entry.item}`;
  });
  return [
    `Monthly cost: ${money(before.total)} → ${formatTotal({ ...after, region: cost.region, date: cost.date })} (${sign}${money(Math.abs(delta))}${before.incomplete ? '; the deployed stacks have lines without a price' : ''})`,
    ...(rows.length > 0 ? rows : ['  no line changes']),
  ].join('\n');
}
