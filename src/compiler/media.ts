import { Bucket, BucketPolicy, Distribution, GetAtt, Join, OriginAccessControl, Ref, ResponseHeadersPolicy, Sub } from './cfn.js';
import { mediaCertificateArn } from './certificates.js';
import { keepData, type CompileStep } from './fragment.js';
import { Ids, OutputIds, type Names } from './naming.js';

/** AWS's managed "CachingOptimized" cache policy. */
const CACHING_OPTIMIZED = '658327ea-f89d-4fab-a63d-7e88639e58f6';
const ORIGIN_ID = 'media-bucket';
export const MEDIA_CONTENT_SECURITY_POLICY = "default-src 'none'; form-action 'none'";

export const mediaBucket = {
  name: Ref(Ids.MediaBucket),
  arn: GetAtt(Ids.MediaBucket, 'Arn'),
  objectsArn: Join('', [GetAtt(Ids.MediaBucket, 'Arn'), '/*']),
};

/** The distribution's comment, which names it in the CloudFront console. */
export const distributionComment = (names: Names, mediaDomain: string) => `${names.prefix} media (${mediaDomain})`;

/**
 * A private bucket that only this CloudFront distribution may read (origin access control);
 * Mastodon writes to it with its task role, so no IAM user or access key exists for S3.
 */
export const compileMedia: CompileStep = (config, names) => ({
  main: {
    Resources: {
      [Ids.MediaBucket]: keepData(
        new Bucket({
          PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
          OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
          BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
          VersioningConfiguration: { Status: 'Enabled' },
          // Versioning protects media from an accidental delete for a few days. Mastodon deletes
          // cached remote media daily, so every old version and delete marker kept is paid for.
          LifecycleConfiguration: {
            Rules: [
              {
                Id: 'expire-old-versions',
                Status: 'Enabled',
                NoncurrentVersionExpiration: { NoncurrentDays: config.media.keepDeletedDays },
                AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
              },
              { Id: 'remove-expired-delete-markers', Status: 'Enabled', ExpiredObjectDeleteMarker: true },
            ],
          },
        }),
        'Retain',
      ),
      [Ids.MediaBucketPolicy]: new BucketPolicy({
        Bucket: mediaBucket.name,
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'CloudFrontReadsMedia',
              Effect: 'Allow',
              Principal: { Service: 'cloudfront.amazonaws.com' },
              Action: 's3:GetObject',
              Resource: mediaBucket.objectsArn,
              Condition: { StringEquals: { 'AWS:SourceArn': Sub(`arn:\${AWS::Partition}:cloudfront::\${AWS::AccountId}:distribution/\${${Ids.MediaDistribution}}`) } },
            },
            {
              Sid: 'HttpsOnly',
              Effect: 'Deny',
              Principal: '*',
              Action: 's3:*',
              Resource: [mediaBucket.arn, mediaBucket.objectsArn],
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            },
          ],
        },
      }),
      [Ids.MediaResponseHeadersPolicy]: new ResponseHeadersPolicy({
        ResponseHeadersPolicyConfig: {
          Name: names.mediaPolicyName,
          Comment: 'Mastodon media: readable by any page, never run as a page',
          // Mastodon's object-storage guide: without CORS parts of the web UI fail (audio and video are loaded with crossOrigin).
          CorsConfig: {
            AccessControlAllowOrigins: { Items: ['*'] },
            AccessControlAllowMethods: { Items: ['GET', 'HEAD'] },
            AccessControlAllowHeaders: { Items: ['*'] },
            AccessControlAllowCredentials: false,
            AccessControlMaxAgeSec: 86400,
            OriginOverride: true,
          },
          // What Mastodon's nginx configuration sends for /system: uploaded files must never be sniffed into HTML or run.
          SecurityHeadersConfig: {
            ContentTypeOptions: { Override: true },
            ContentSecurityPolicy: { ContentSecurityPolicy: MEDIA_CONTENT_SECURITY_POLICY, Override: true },
            StrictTransportSecurity: { AccessControlMaxAgeSec: 31536000, IncludeSubdomains: false, Override: true },
          },
        },
      }),
      [Ids.MediaOriginAccessControl]: new OriginAccessControl({
        OriginAccessControlConfig: { Name: names.mediaPolicyName, OriginAccessControlOriginType: 's3', SigningBehavior: 'always', SigningProtocol: 'sigv4' },
      }),
      [Ids.MediaDistribution]: new Distribution({
        DistributionConfig: {
          Enabled: true,
          Comment: distributionComment(names, config.media.domain),
          Aliases: [config.media.domain],
          PriceClass: config.media.priceClass,
          HttpVersion: 'http2and3',
          IPV6Enabled: true,
          ViewerCertificate: { AcmCertificateArn: mediaCertificateArn(config), SslSupportMethod: 'sni-only', MinimumProtocolVersion: 'TLSv1.2_2021' },
          Origins: [
            {
              Id: ORIGIN_ID,
              DomainName: GetAtt(Ids.MediaBucket, 'RegionalDomainName'),
              OriginAccessControlId: GetAtt(Ids.MediaOriginAccessControl, 'Id'),
              S3OriginConfig: { OriginAccessIdentity: '' },
            },
          ],
          DefaultCacheBehavior: {
            TargetOriginId: ORIGIN_ID,
            ViewerProtocolPolicy: 'redirect-to-https',
            Compress: true,
            CachePolicyId: CACHING_OPTIMIZED,
            ResponseHeadersPolicyId: Ref(Ids.MediaResponseHeadersPolicy),
            AllowedMethods: ['GET', 'HEAD'],
          },
        },
      }),
    },
    Outputs: {
      [OutputIds.MediaBucket]: { Description: 'Bucket of the media Mastodon stores (import copies media into it, export out of it)', Value: mediaBucket.name },
      [OutputIds.MediaDistributionDomainName]: {
        Description: `Point ${config.media.domain} at this name (a CNAME, or an alias record on Route 53)`,
        Value: GetAtt(Ids.MediaDistribution, 'DomainName'),
      },
    },
  },
});
