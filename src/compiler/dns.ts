import type { Config } from '../config/types.js';
import { GetAtt, RecordSet, Ref, Sub } from './cfn.js';
import type { CompileStep, Fragment, HostedZone, StackPart } from './fragment.js';
import { mailDomain, mailFromDomain } from './mail.js';
import { Ids } from './naming.js';

/**
 * Zero-touch DNS: with `dns` in the config, every record a deploy needs is written into the
 * user's Route 53 zone, so a deploy on an empty account ends with a working instance.
 * Certificates are validated through the same zone (see dnsCertificate).
 */

/** CloudFront's own hosted zone id, the same for every distribution (AWS::Route53::RecordSet AliasTarget). */
const CLOUDFRONT_HOSTED_ZONE_ID = 'Z2FDTNDATAQYW2';
/** SES's recommended TTL for its DKIM CNAMEs; the rest is written once and rarely read. */
const RECORD_TTL = '1800';

export const hostedZoneId = () => Ref(Ids.HostedZoneIdParameter);

function zonePart(config: Config, names: string[]): StackPart {
  const hostedZone: HostedZone = { parameter: Ids.HostedZoneIdParameter, domain: config.domain, names, ...(config.dns!.hostedZoneId ? { hostedZoneId: config.dns!.hostedZoneId } : {}) };
  return {
    Parameters: { [Ids.HostedZoneIdParameter]: { Type: 'AWS::Route53::HostedZone::Id', Description: `The Route 53 public hosted zone of ${config.domain}; mastodon-cfn deploy passes it` } },
    hostedZone,
  };
}

function aliasRecord(name: string, type: 'A' | 'AAAA', target: { dnsName: ReturnType<typeof GetAtt>; zoneId: ReturnType<typeof GetAtt> | string }) {
  return new RecordSet({ HostedZoneId: hostedZoneId(), Name: name, Type: type, AliasTarget: { DNSName: target.dnsName, HostedZoneId: target.zoneId, EvaluateTargetHealth: false } });
}

function plainRecord(name: ReturnType<typeof GetAtt> | string, type: 'CNAME' | 'MX' | 'TXT', value: ReturnType<typeof GetAtt> | ReturnType<typeof Sub> | string) {
  return new RecordSet({ HostedZoneId: hostedZoneId(), Name: name, Type: type, TTL: RECORD_TTL, ResourceRecords: [value] });
}

export const compileDns: CompileStep = (config) => {
  if (!config.dns) return {};
  const mail = mailDomain(config);
  const loadBalancer = { dnsName: GetAtt(Ids.LoadBalancer, 'DNSName'), zoneId: GetAtt(Ids.LoadBalancer, 'CanonicalHostedZoneID') };
  const cloudFront = { dnsName: GetAtt(Ids.MediaDistribution, 'DomainName'), zoneId: CLOUDFRONT_HOSTED_ZONE_ID };
  const hosts = Object.entries(config.services).filter(([, service]) => service.host);
  const records = {
    [Ids.InstanceAliasRecord]: aliasRecord(config.domain, 'A', loadBalancer),
    // The distribution answers on IPv6 too (IPV6Enabled in media.ts).
    [Ids.MediaAliasRecord]: aliasRecord(config.media.domain, 'A', cloudFront),
    [Ids.MediaAliasRecordIpv6]: aliasRecord(config.media.domain, 'AAAA', cloudFront),
    ...Object.fromEntries(hosts.map(([name, service]) => [Ids.service(name, 'AliasRecord'), aliasRecord(service.host!, 'A', loadBalancer)])),
    // Easy DKIM: the identity names its three CNAMEs (AWS::SES::EmailIdentity DkimDNSTokenName1-3 / Value1-3).
    ...Object.fromEntries([1, 2, 3].map((n) => [Ids.mailDkimRecord(n), plainRecord(GetAtt(Ids.MailIdentity, `DkimDNSTokenName${n}`), 'CNAME', GetAtt(Ids.MailIdentity, `DkimDNSTokenValue${n}`))])),
    // SES custom MAIL FROM: an MX to the region's feedback endpoint and an SPF record allowing SES (SES Developer Guide, "Using a custom MAIL FROM domain").
    [Ids.MailFromMxRecord]: plainRecord(mailFromDomain(config), 'MX', Sub('10 feedback-smtp.${AWS::Region}.amazonses.com')),
    [Ids.MailFromSpfRecord]: plainRecord(mailFromDomain(config), 'TXT', '"v=spf1 include:amazonses.com ~all"'),
    ...(config.dns.dmarc === 'off' ? {} : { [Ids.DmarcRecord]: plainRecord(`_dmarc.${mail}`, 'TXT', `"v=DMARC1; p=${config.dns.dmarc};"`) }),
  };
  const fragment: Fragment = {
    main: { ...zonePart(config, [config.domain, config.media.domain, ...hosts.map(([, service]) => service.host!), mail, mailFromDomain(config)]), Resources: records },
  };
  if (!config.certificates.media) fragment.certificates = zonePart(config, [config.media.domain]);
  return fragment;
};
