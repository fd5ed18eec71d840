import type { Config } from '../config/types.js';
import { Certificate, Ref, type Value } from './cfn.js';
import type { CompileStep, Fragment } from './fragment.js';
import { hostedZoneId } from './dns.js';
import { Ids, OutputIds } from './naming.js';

/**
 * A DNS-validated ACM certificate. With a Route 53 zone, CloudFormation writes the validation
 * record itself; otherwise the deployer prints it while CloudFormation waits.
 */
export function dnsCertificate(config: Config, domain: string) {
  return new Certificate({
    DomainName: domain,
    ValidationMethod: 'DNS',
    ...(config.dns ? { DomainValidationOptions: [{ DomainName: domain, HostedZoneId: hostedZoneId() }] } : {}),
  });
}

export function instanceCertificateArn(config: Config): Value<string> {
  return config.certificates.instance ?? Ref(Ids.InstanceCertificate);
}

export function mediaCertificateArn(config: Config): Value<string> {
  return config.certificates.media ?? Ref(Ids.MediaCertificateArnParameter);
}

/**
 * The instance certificate lives in the home region with the load balancer. CloudFront only
 * takes certificates from us-east-1, and a nested stack always shares its parent's region, so
 * the media certificate gets a stack of its own there; the deployer passes its ARN in.
 */
export const compileCertificates: CompileStep = (config) => {
  const fragment: Fragment = { main: {} };
  if (!config.certificates.instance) {
    fragment.main!.Resources = { [Ids.InstanceCertificate]: dnsCertificate(config, config.domain) };
  }
  if (!config.certificates.media) {
    fragment.certificates = {
      Resources: { [Ids.MediaCertificate]: dnsCertificate(config, config.media.domain) },
      Outputs: { [OutputIds.MediaCertificateArn]: { Description: `Certificate for ${config.media.domain} (CloudFront)`, Value: Ref(Ids.MediaCertificate) } },
    };
    fragment.main!.Parameters = {
      [Ids.MediaCertificateArnParameter]: {
        Type: 'String',
        Description: 'ARN of the media certificate in us-east-1; mastodon-cfn deploy passes it from the certificates stack',
        AllowedPattern: '^arn:aws[a-z-]*:acm:us-east-1:[0-9]{12}:certificate/.+$',
      },
    };
    fragment.main!.wiring = { [Ids.MediaCertificateArnParameter]: { stack: 'certificates', output: OutputIds.MediaCertificateArn } };
  }
  return fragment;
};
