/**
 * Amazon OpenSearch Service as mastodon-cfn uses it. Mastodon talks to it with elasticsearch-ruby 7.17
 * (Gemfile.lock at v4.3.0, v4.4.0 and v4.5.2), whose product check it switches off
 * (lib/elasticsearch/client_extensions.rb), and accepts an OpenSearch 2.x cluster by its wire
 * compatibility with 7.x (app/lib/admin/system_check/elasticsearch_check.rb).
 */
export const SEARCH = {
  /** OpenSearch 2.19 (AWS What's New, 2025: "Amazon OpenSearch Service now supports OpenSearch version 2.19"). */
  defaultVersion: 'OpenSearch_2.19',
  /** The smallest instance type with encryption at rest, node-to-node encryption and fine-grained access control. */
  defaultInstanceType: 't3.small.search',
  /** TLS 1.2 at least (AWS::OpenSearchService::Domain DomainEndpointOptions TLSSecurityPolicy). */
  tlsPolicy: 'Policy-Min-TLS-1-2-2019-07',
  /**
   * A domain in a VPC needs OpenSearch's service-linked role in the account
   * (AWSServiceRoleForAmazonOpenSearchService): CloudFormation does not make it, and creating the
   * domain fails without it. The deployer makes it when it is missing.
   */
  serviceLinkedRole: 'opensearchservice.amazonaws.com',
} as const;
