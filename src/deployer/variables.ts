import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import type { AwsLookup, AwsValues } from '../config/variables.js';
import { stackOutputsKey } from '../config/variables.js';
import { describeAwsFailure } from '../awsErrors.js';
import { MastodonCfnError } from '../errors.js';
import type { Clients } from './aws.js';
import { describeStack, outputsOf } from './stacks.js';

/**
 * Reads what the config's variables need from AWS, adding it to what earlier passes read:
 * `${aws:accountId}` from STS GetCallerIdentity (which needs no permission), `${cf:stack.Output}`
 * from DescribeStacks. A stack that does not exist reads as none, so that a default applies.
 * A failure is the user's to fix (credentials, network): it names the variable that needed AWS.
 */
export async function readVariableValues(clients: Clients, lookups: AwsLookup[], known: AwsValues | undefined, homeRegion: string): Promise<AwsValues> {
  const values: AwsValues = { accountId: known?.accountId, stackOutputs: { ...known?.stackOutputs } };
  const read = await Promise.allSettled(
    lookups.map(async (lookup) => {
      if (lookup.kind === 'accountId') {
        values.accountId = (await clients.sts(homeRegion).send(new GetCallerIdentityCommand({}))).Account;
      } else {
        const stack = await describeStack(clients.cloudFormation(lookup.region), lookup.stack);
        values.stackOutputs[stackOutputsKey(lookup.region, lookup.stack)] = stack ? outputsOf(stack) : null;
      }
    }),
  );
  // Every variable AWS could not answer, each where it is written.
  const problems = read.flatMap((result, i) => {
    if (result.status === 'fulfilled') return [];
    const outside = describeAwsFailure(result.reason);
    if (!outside) throw result.reason;
    return [{ code: 'variables.aws', message: `${lookups[i].variable} is read from AWS: ${outside}`, ...lookups[i].where }];
  });
  if (problems.length > 0) throw new MastodonCfnError(problems, lookups[0].file);
  return values;
}
