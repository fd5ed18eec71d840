import type { Config } from '../config/types.js';
import { GetAtt, Listener, ListenerRule, LoadBalancer, Ref, TargetGroup } from './cfn.js';
import { instanceCertificateArn } from './certificates.js';
import type { CompileStep } from './fragment.js';
import { Ids, OutputIds } from './naming.js';
import { STREAMING, WEB } from '../mastodon/facts.js';
import { subnetIds, vpcId } from './network.js';

export const STREAMING_PATHS = ['/api/v1/streaming', '/api/v1/streaming/*'];
/** TLS 1.3 with TLS 1.2 fallback; nothing older. */
const TLS_POLICY = 'ELBSecurityPolicy-TLS13-1-2-2021-06';

export const httpsListener = Ref(Ids.HttpsListener);

/** A target group of Fargate tasks (by IP) with an HTTP health check. */
export function taskTargetGroup(config: Config, port: number, healthCheckPath: string) {
  return new TargetGroup({
    TargetType: 'ip',
    Protocol: 'HTTP',
    Port: port,
    VpcId: vpcId(config),
    HealthCheckPath: healthCheckPath,
    Matcher: { HttpCode: '200' },
    // A target in and out of service within 20 seconds (the defaults take 150 s in and 60 s out): a
    // Spot task that stops listening is out of the rotation quickly, and a new task takes traffic soon.
    HealthCheckIntervalSeconds: 10,
    HealthCheckTimeoutSeconds: 5,
    HealthyThresholdCount: 2,
    UnhealthyThresholdCount: 2,
    // Tasks leave quickly on deploys; the 300 s default only makes deploys slower.
    TargetGroupAttributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '30' }],
  });
}

export function forwardTo(targetGroupId: string) {
  return [{ Type: 'forward', TargetGroupArn: Ref(targetGroupId) }];
}

export const compileLoadBalancer: CompileStep = (config) => {
  const production = config.mastodon.mode === 'production';
  // In maintenance and debug the containers sleep outside the target groups: web and streaming both answer
  // honestly instead of with the load balancer's bare 503 for a target group without targets.
  const downForMaintenance = [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '503', ContentType: 'text/plain', MessageBody: `${config.domain} is down for maintenance.` } }];
  return {
    main: {
      Resources: {
        [Ids.LoadBalancer]: new LoadBalancer({
          Type: 'application',
          Scheme: 'internet-facing',
          IpAddressType: 'ipv4',
          Subnets: subnetIds(config),
          SecurityGroups: [Ref(Ids.LoadBalancerSecurityGroup)],
          LoadBalancerAttributes: [{ Key: 'routing.http.drop_invalid_header_fields.enabled', Value: 'true' }],
        }),
        [Ids.HttpListener]: new Listener({
          LoadBalancerArn: Ref(Ids.LoadBalancer),
          Port: 80,
          Protocol: 'HTTP',
          DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' } }],
        }),
        [Ids.HttpsListener]: new Listener({
          LoadBalancerArn: Ref(Ids.LoadBalancer),
          Port: 443,
          Protocol: 'HTTPS',
          SslPolicy: TLS_POLICY,
          Certificates: [{ CertificateArn: instanceCertificateArn(config) }],
          DefaultActions: production ? forwardTo(Ids.WebTargetGroup) : downForMaintenance,
        }),
        [Ids.WebTargetGroup]: taskTargetGroup(config, WEB.port, WEB.healthPath),
        [Ids.StreamingTargetGroup]: taskTargetGroup(config, STREAMING.port, STREAMING.healthPath),
        // The web UI opens /api/v1/streaming/?stream=... and friends: match the path and everything below it.
        [Ids.StreamingListenerRule]: new ListenerRule({
          ListenerArn: httpsListener,
          Priority: 1,
          Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: STREAMING_PATHS } }],
          Actions: production ? forwardTo(Ids.StreamingTargetGroup) : downForMaintenance,
        }),
      },
      Outputs: {
        [OutputIds.LoadBalancerDnsName]: {
          Description: `Point ${config.domain} (and every service host) at this name: a CNAME, or an alias record on Route 53`,
          Value: GetAtt(Ids.LoadBalancer, 'DNSName'),
        },
        [OutputIds.MastodonUrl]: { Description: 'The instance', Value: `https://${config.domain}` },
      },
      // Asked from outside, through DNS, TLS and the load balancer: what a user's browser goes through.
      endpoints: { mastodon: `https://${config.domain}${WEB.healthPath}`, streaming: `https://${config.domain}${STREAMING.healthPath}` },
    },
  };
};
