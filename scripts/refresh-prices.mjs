// Refreshes the price table shipped with mastodon-cfn (src/cost/prices.json) from AWS's Price List
// Query API, for maintainers with AWS credentials allowed pricing:GetProducts:
//   npm run prices                                   every region of the table
//   npm run prices -- --region eu-central-1 [--out FILE]
// Every price the table holds is asked for again, with the lookups `cost --prices-from-aws` uses.
// If AWS cannot give one of them, nothing is written: the lookups that failed are listed instead,
// since a table is only as good as its weakest price.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { describeAwsFailure } from '../dist/src/awsErrors.js';
import { lookupsAt, pricePaths, pricesFromAws } from '../dist/src/cost/priceList.js';
import { sdkClients } from '../dist/src/deployer/aws.js';

const root = new URL('..', import.meta.url).pathname;
const { values } = parseArgs({ options: { region: { type: 'string', multiple: true }, out: { type: 'string' } } });
const file = `${root}src/cost/prices.json`;
const table = JSON.parse(readFileSync(file, 'utf8'));
const regions = values.region ?? Object.keys(table.regions);

const client = sdkClients().pricing();
const problems = [];
const changes = [];
for (const region of regions) {
  const shipped = table.regions[region];
  if (!shipped) {
    problems.push(`${region}: the table has no such region to refresh`);
    continue;
  }
  const paths = pricePaths(shipped);
  const lookups = lookupsAt(paths, region);
  if (lookups.length < paths.length) problems.push(`${region}: ${paths.length - lookups.length} of the table's prices have no Price List lookup (src/cost/priceList.ts)`);
  let answer;
  try {
    answer = await pricesFromAws(client, region, lookups);
  } catch (error) {
    const outside = describeAwsFailure(error);
    if (!outside) throw error;
    process.stderr.write(`${outside}\nNot refreshed, nothing written.\n`);
    process.exit(1);
  }
  const { prices, notes } = answer;
  problems.push(...notes);
  const walk = (before, after, path) => {
    for (const [key, value] of Object.entries(before)) {
      if (typeof value === 'object') walk(value, after?.[key], [...path, key]);
      else if (after?.[key] !== undefined && after[key] !== value) changes.push(`${[region, ...path, key].join(' ')}: ${value} → ${after[key]}`);
    }
  };
  walk(shipped, prices, []);
  table.regions[region] = prices;
}
if (problems.length > 0) {
  process.stderr.write(`Not refreshed, nothing written:\n${problems.map((problem) => `  - ${problem}\n`).join('')}`);
  process.exit(1);
}
// Every price now comes from the Price List: none is derived any more.
if (!values.region) table.derived = {};
table.date = new Date().toISOString().slice(0, 10);
writeFileSync(values.out ?? file, `${JSON.stringify(table, null, 2)}\n`);
process.stdout.write(`${changes.length} price${changes.length === 1 ? '' : 's'} changed; prices of ${table.date} written to ${values.out ?? 'src/cost/prices.json'}\n${changes.map((change) => `  ${change}\n`).join('')}`);
