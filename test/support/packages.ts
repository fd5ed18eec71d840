import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Manifest } from '../../src/compiler/index.js';
import type { DeployStack } from '../../src/deployer/manifest.js';
import { lintLater, tempDir } from './build.js';

export interface PackageStack extends Omit<DeployStack, 'templateFile'> {
  template: { Parameters?: object; Resources: Record<string, object>; Outputs?: object };
}

/** Writes a purpose-built build output (manifest.json and templates) of resources moto can deploy (moto 5.2 fails on AWS::SSM::Parameter). */
export function writePackage(stacks: PackageStack[], extra: Partial<Pick<Manifest, 'estimate'>> = {}): string {
  const directory = join(tempDir('mastodon-cfn-package-'), 'package');
  mkdirSync(directory);
  const manifest = {
    manifestVersion: 1,
    ...extra,
    stacks: stacks.map(({ template, ...stack }) => {
      const templateFile = `${stack.name}.template.json`;
      writeFileSync(join(directory, templateFile), JSON.stringify({ AWSTemplateFormatVersion: '2010-09-09', Description: `test stack ${stack.name}`, ...template }, null, 2));
      return { ...stack, templateFile };
    }),
  };
  writeFileSync(join(directory, 'manifest.json'), JSON.stringify(manifest, null, 2));
  lintLater(directory);
  return directory;
}

/** A certificates-like stack in us-east-1 and a main-like stack in eu-central-1 that takes its output. */
export function twoRegionPackage(prefix: string, options: { extraTopic?: boolean; withoutBucket?: boolean; version?: string; wired?: boolean; bigTemplate?: boolean } = {}): string {
  return writePackage([
    {
      name: `${prefix}-certificates`,
      region: 'us-east-1',
      dependsOn: [],
      template: {
        Resources: { CertificateNotices: { Type: 'AWS::SNS::Topic' } },
        Outputs: { MediaCertificateArn: { Value: 'arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d' } },
      },
    },
    {
      name: prefix,
      region: 'eu-central-1',
      dependsOn: [`${prefix}-certificates`],
      // moto 5.2 never fills the outputs of stacks deployed through change sets: against moto the parameter keeps its default.
      parameters: options.wired === false ? {} : { MediaCertificateArn: { stack: `${prefix}-certificates`, output: 'MediaCertificateArn' } },
      statefulResources: options.withoutBucket ? [] : [{ logicalId: 'MediaBucket', type: 'AWS::S3::Bucket' }],
      mastodonVersion: options.version ?? 'v4.5.2',
      template: {
        Parameters: { MediaCertificateArn: options.wired === false ? { Type: 'String', Default: 'not-wired' } : { Type: 'String' } },
        ...(options.bigTemplate ? { Metadata: { Padding: 'x'.repeat(60_000) } } : {}),
        Resources: {
          ...(options.withoutBucket ? {} : { MediaBucket: { Type: 'AWS::S3::Bucket', DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' } }),
          Alerts: { Type: 'AWS::SNS::Topic' },
          ...(options.extraTopic ? { MoreAlerts: { Type: 'AWS::SNS::Topic' } } : {}),
          Logs: { Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 14 } },
        },
        Outputs: { WiredCertificate: { Value: { Ref: 'MediaCertificateArn' } }, MastodonVersion: { Value: options.version ?? 'v4.5.2' } },
      },
    },
  ]);
}
