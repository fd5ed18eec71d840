// An example mastodon-cfn plugin (docs/plugins.md): puts an AWS WAF web ACL with a per-address
// rate limit in front of the instance's load balancer, so that one address cannot flood the
// web and API processes. Use it with, in mastodon.config.yaml:
//
//   plugins: [./plugins/rate-limit.mjs]
//   custom:
//     rateLimit: { requestsPer5Minutes: 3000 }   # the default
//
// WAF's own rules: a rate-based rule counts an address's requests over a 5-minute window (the
// default EvaluationWindowSec of 300) and its Limit is at least 10 (AWS WAF Developer Guide,
// "Rate-based rule statement"; CloudFormation User Guide, AWS::WAFv2::WebACL RateBasedStatement).
// A web ACL of Scope REGIONAL may be associated with an Application Load Balancer by its ARN, which
// is what Ref of an AWS::ElasticLoadBalancingV2::LoadBalancer gives (AWS::WAFv2::WebACLAssociation).

/** @typedef {import('mastodon-cfn/plugins').MastodonCfnPlugin} MastodonCfnPlugin */
/** @typedef {import('mastodon-cfn/plugins').HookContext} HookContext */

const MINIMUM_LIMIT = 10;

/** @implements {MastodonCfnPlugin} */
export default class RateLimit {
  /** @param {HookContext['config']} config */
  constructor(config) {
    const settings = /** @type {{ rateLimit?: { requestsPer5Minutes?: unknown } }} */ (config.custom);
    const limit = settings.rateLimit?.requestsPer5Minutes ?? 3000;
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < MINIMUM_LIMIT) throw new Error(`custom.rateLimit.requestsPer5Minutes must be a whole number of at least ${MINIMUM_LIMIT}, got ${JSON.stringify(limit)}`);
    this.limit = limit;
    /** @type {MastodonCfnPlugin['hooks']} */
    this.hooks = {
      'after:compile': (context) => this.addWebAcl(context),
      'after:deploy': (context) => context.log(`web ACL in front of the load balancer, ${this.limit} requests per address per 5 minutes`),
    };
  }

  /** @param {HookContext} context */
  addWebAcl({ config, templates, log }) {
    const main = templates.main;
    if (!main) throw new Error('there is no main stack');
    const loadBalancer = Object.entries(main.Resources).find(([, resource]) => resource.Type === 'AWS::ElasticLoadBalancingV2::LoadBalancer')?.[0];
    if (!loadBalancer) throw new Error('the main stack has no load balancer to protect');
    /** @param {string} name */
    // One metric per instance: stages in one account and region would otherwise share it.
    const metric = (name) => ({ SampledRequestsEnabled: true, CloudWatchMetricsEnabled: true, MetricName: `${config.service}-${config.provider.stage}-${name}` });
    main.Resources.RateLimitWebAcl = {
      Type: 'AWS::WAFv2::WebACL',
      Properties: {
        Name: { 'Fn::Sub': '${AWS::StackName}-rate-limit' },
        Description: `At most ${this.limit} requests per address per 5 minutes to ${config.domain}`,
        Scope: 'REGIONAL',
        DefaultAction: { Allow: {} },
        VisibilityConfig: metric('rate-limit'),
        Rules: [
          {
            Name: 'requests-per-address',
            Priority: 0,
            // 429, not WAF's default 403: Mastodon's delivery worker gives up on a 4xx other than 401, 408 and 429
            // (app/workers/activitypub/delivery_worker.rb), so a 403 would drop another server's posts for good.
            Action: { Block: { CustomResponse: { ResponseCode: 429, ResponseHeaders: [{ Name: 'Retry-After', Value: '300' }] } } },
            Statement: { RateBasedStatement: { Limit: this.limit, AggregateKeyType: 'IP' } },
            VisibilityConfig: metric('requests-per-address'),
          },
        ],
      },
    };
    main.Resources.RateLimitWebAclAssociation = {
      Type: 'AWS::WAFv2::WebACLAssociation',
      Properties: { ResourceArn: { Ref: loadBalancer }, WebACLArn: { 'Fn::GetAtt': ['RateLimitWebAcl', 'Arn'] } },
    };
    log(`rate limit of ${this.limit} requests per address per 5 minutes on ${loadBalancer}`);
  }
}
