import type { Config } from '../config/types.js';
import { STREAMING, WEB } from '../mastodon/facts.js';
import { Cidr, GetAtt, GetAZs, InternetGateway, Ref, Route, RouteTable, SecurityGroup, SecurityGroupEgress, Select, Subnet, SubnetRouteTableAssociation, Vpc, VpcGatewayAttachment, type Resource, type Value } from './cfn.js';
import type { CompileStep } from './fragment.js';
import { Ids } from './naming.js';

export const POSTGRES_PORT = 5432;
export const REDIS_PORT = 6379;
/**
 * What Mastodon tasks reach: every TCP port anywhere. Federation, link previews and remote media go to
 * servers on any port (an ActivityPub actor at https://example.net:8443/ is valid); the database, the cache
 * and SES SMTP (587) are among them. Nothing else listens in the VPC.
 */
const MASTODON_EGRESS = [{ IpProtocol: 'tcp', FromPort: 0, ToPort: 65535, CidrIp: '0.0.0.0/0', Description: 'Any TCP port: federation, link previews, the database, the cache, SES' }];
/** What side services reach: HTTPS and HTTP only (their images, AWS APIs, the sites they talk to); never the database or the cache. */
export const SERVICE_EGRESS_PORTS = [443, 80];

/** CloudFormation turns an empty egress list into "allow all"; this rule matches no traffic (ICMP type 252, code 86). */
export const NO_EGRESS = [{ CidrIp: '255.255.255.255/32', IpProtocol: 'icmp', FromPort: 252, ToPort: 86, Description: 'No outbound traffic' }];

export function vpcId(config: Config): Value<string> {
  return config.network.vpcId ?? Ref(Ids.Vpc);
}

export function subnetIds(config: Config): Value<string>[] {
  return config.network.subnetIds ?? Array.from({ length: config.network.availabilityZones }, (_, i) => Ref(Ids.publicSubnet(i)));
}

/** The ports the load balancer forwards to the Mastodon tasks. */
const MASTODON_PORTS = [WEB.port, STREAMING.port];

export function tcp(port: number) {
  return { IpProtocol: 'tcp', FromPort: port, ToPort: port };
}

/** An ingress rule of a task group: this port from the load balancer only. */
export function fromLoadBalancer(port: number) {
  return { ...tcp(port), SourceSecurityGroupId: Ref(Ids.LoadBalancerSecurityGroup), Description: `Port ${port} from the load balancer` };
}

export function internetEgress(ports: number[]) {
  return ports.map((port) => ({ ...tcp(port), CidrIp: '0.0.0.0/0', Description: `Port ${port} to the internet` }));
}

/** A rule of the load balancer's group: it may send to this group on this port (a separate resource: the groups refer to each other). */
export function loadBalancerEgress(destinationGroupId: string, port: number) {
  return new SecurityGroupEgress({ GroupId: Ref(Ids.LoadBalancerSecurityGroup), ...tcp(port), DestinationSecurityGroupId: Ref(destinationGroupId), Description: `Port ${port} to ${destinationGroupId}` });
}

function createdVpc(config: Config): Record<string, Resource> {
  const zones = config.network.availabilityZones;
  // The block is cut in four equal subnets (a /16 gives /18s): room for the third zone and one spare.
  const hostBits = 32 - (Number(config.network.cidr.split('/')[1]) + 2);
  const resources: Record<string, Resource> = {
    [Ids.Vpc]: new Vpc({ CidrBlock: config.network.cidr, EnableDnsSupport: true, EnableDnsHostnames: true }),
    [Ids.InternetGateway]: new InternetGateway({}),
    [Ids.VpcGatewayAttachment]: new VpcGatewayAttachment({ VpcId: Ref(Ids.Vpc), InternetGatewayId: Ref(Ids.InternetGateway) }),
    [Ids.PublicRouteTable]: new RouteTable({ VpcId: Ref(Ids.Vpc) }),
    [Ids.PublicRoute]: new Route({ RouteTableId: Ref(Ids.PublicRouteTable), DestinationCidrBlock: '0.0.0.0/0', GatewayId: Ref(Ids.InternetGateway) }).dependsOn(Ids.VpcGatewayAttachment),
  };
  for (let i = 0; i < zones; i++) {
    resources[Ids.publicSubnet(i)] = new Subnet({
      VpcId: Ref(Ids.Vpc),
      AvailabilityZone: Select(i, GetAZs('')),
      CidrBlock: Select(i, Cidr(GetAtt(Ids.Vpc, 'CidrBlock'), 4, hostBits)),
      MapPublicIpOnLaunch: true,
    });
    resources[Ids.publicSubnetRouteTableAssociation(i)] = new SubnetRouteTableAssociation({ SubnetId: Ref(Ids.publicSubnet(i)), RouteTableId: Ref(Ids.PublicRouteTable) });
  }
  return resources;
}

/**
 * One security group per tier, each admitting only the tier in front of it: the internet
 * reaches the load balancer, the load balancer reaches the Mastodon tasks, the Mastodon tasks
 * reach the database and the cache. Side services get groups of their own (services.ts) with
 * no way to the database or the cache. Rules that point at a later tier are separate resources
 * to avoid reference cycles.
 */
export const compileNetwork: CompileStep = (config, names) => {
  const vpc = vpcId(config);
  const resources: Record<string, Resource> = {
    ...(config.network.vpcId ? {} : createdVpc(config)),
    [Ids.LoadBalancerSecurityGroup]: new SecurityGroup({
      GroupDescription: `${names.prefix} load balancer: HTTP and HTTPS from the internet`,
      VpcId: vpc,
      SecurityGroupIngress: [80, 443].map((port) => ({ ...tcp(port), CidrIp: '0.0.0.0/0', Description: `Port ${port} from the internet` })),
      SecurityGroupEgress: NO_EGRESS,
    }),
    [Ids.TaskSecurityGroup]: new SecurityGroup({
      GroupDescription: `${names.prefix} Mastodon tasks: web and streaming from the load balancer only`,
      VpcId: vpc,
      SecurityGroupIngress: MASTODON_PORTS.map(fromLoadBalancer),
      SecurityGroupEgress: MASTODON_EGRESS,
    }),
    [Ids.DatabaseSecurityGroup]: new SecurityGroup({
      GroupDescription: `${names.prefix} database: PostgreSQL from the tasks only`,
      VpcId: vpc,
      SecurityGroupIngress: [{ ...tcp(POSTGRES_PORT), SourceSecurityGroupId: Ref(Ids.TaskSecurityGroup), Description: 'PostgreSQL from the tasks' }],
      SecurityGroupEgress: NO_EGRESS,
    }),
    [Ids.CacheSecurityGroup]: new SecurityGroup({
      GroupDescription: `${names.prefix} cache: Redis protocol from the tasks only`,
      VpcId: vpc,
      SecurityGroupIngress: [{ ...tcp(REDIS_PORT), SourceSecurityGroupId: Ref(Ids.TaskSecurityGroup), Description: 'Redis protocol from the tasks' }],
      SecurityGroupEgress: NO_EGRESS,
    }),
  };
  for (const port of MASTODON_PORTS) resources[Ids.loadBalancerToTasksEgress(port)] = loadBalancerEgress(Ids.TaskSecurityGroup, port);
  return { main: { Resources: resources } };
};
