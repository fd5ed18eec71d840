import { GetHostedZoneCommand, ListHostedZonesCommand, type HostedZone } from '@aws-sdk/client-route-53';
import { MastodonCfnError } from '../errors.js';
import type { AwsClient } from './aws.js';
import type { DeployPackage, DeployStack } from './manifest.js';

interface Zone {
  id: string;
  /** Without the trailing dot. */
  name: string;
}

const zoneOf = (zone: HostedZone): Zone => ({ id: zone.Id!.replace(/^\/hostedzone\//, ''), name: zone.Name!.replace(/\.$/, '') });
const isIn = (name: string, zone: string) => name === zone || name.endsWith(`.${zone}`);

async function namedZone(route53: AwsClient, id: string): Promise<Zone> {
  let zone: HostedZone | undefined;
  try {
    zone = (await route53.send(new GetHostedZoneCommand({ Id: id }))).HostedZone;
  } catch (error) {
    if ((error as { name?: string }).name !== 'NoSuchHostedZone') throw error;
  }
  if (!zone) throw MastodonCfnError.of('deploy.dnsZone', `dns.hostedZoneId ${id} is not a hosted zone of this AWS account: check the id (aws route53 list-hosted-zones), or use dns.route53: true to find it.`);
  if (zone.Config?.PrivateZone) throw MastodonCfnError.of('deploy.dnsZone', `hosted zone ${id} (${zoneOf(zone).name}) is private: the instance needs records the internet can see, in a public zone.`);
  return zoneOf(zone);
}

/** The public zone whose name is the longest suffix of `domain`: the one that answers for it. */
async function zoneFor(route53: AwsClient, domain: string): Promise<Zone> {
  const zones: HostedZone[] = [];
  let Marker: string | undefined;
  do {
    const page = await route53.send(new ListHostedZonesCommand({ Marker }));
    zones.push(...(page.HostedZones ?? []));
    Marker = page.IsTruncated ? page.NextMarker : undefined;
  } while (Marker);
  const candidates = zones.filter((zone) => !zone.Config?.PrivateZone).map(zoneOf).filter((zone) => isIn(domain, zone.name));
  const longest = Math.max(0, ...candidates.map((zone) => zone.name.length));
  const best = candidates.filter((zone) => zone.name.length === longest);
  if (best.length === 0) {
    throw MastodonCfnError.of('deploy.dnsZone', `No public Route 53 hosted zone of this account holds ${domain}. Create one (aws route53 create-hosted-zone --name <your domain> --caller-reference <any unique text>) and give your registrar its name servers, or remove dns from the config to create the records by hand.`);
  }
  if (best.length > 1) {
    throw MastodonCfnError.of('deploy.dnsZone', `${best.length} public hosted zones are named ${best[0].name} (${best.map((zone) => zone.id).join(', ')}): set dns.hostedZoneId to the one your registrar points at.`);
  }
  return best[0];
}

/** The zone a stack's records go in, checked to hold every name the stack writes: a parameter for its change set. */
async function zoneParameter(route53: AwsClient, stack: DeployStack): Promise<Record<string, string>> {
  const wanted = stack.hostedZone;
  if (!wanted) return {};
  const zone = wanted.hostedZoneId ? await namedZone(route53, wanted.hostedZoneId) : await zoneFor(route53, wanted.domain);
  const outside = wanted.names.filter((name) => !isIn(name, zone.name));
  if (outside.length > 0) {
    throw MastodonCfnError.of('deploy.dnsZone', `Refusing to deploy ${stack.name}: ${outside.join(', ')} ${outside.length === 1 ? 'is' : 'are'} not in hosted zone ${zone.name} (${zone.id}), which holds the records. Use names under ${zone.name}, or remove dns from the config to create the records by hand.`);
  }
  return { [wanted.parameter]: zone.id };
}

/** The hosted zone parameter of every stack, resolved before anything is changed: a wrong zone stops the deploy before its first stack. */
export async function hostedZoneParameters(route53: () => AwsClient, pkg: DeployPackage): Promise<Map<string, Record<string, string>>> {
  const parameters = await Promise.all(pkg.stacks.map((stack) => (stack.hostedZone ? zoneParameter(route53(), stack) : {})));
  return new Map(pkg.stacks.map((stack, i) => [stack.name, parameters[i]]));
}
