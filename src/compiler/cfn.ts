/**
 * The CloudFormation resource types the compiler uses, typed by cloudform-types.
 * Each is imported from its own module: the package's index loads every AWS service
 * (about half a second), which `build` cannot afford.
 */
import dataTypes from 'cloudform-types/types/dataTypes.js';
import scalableTarget from 'cloudform-types/types/applicationAutoScaling/scalableTarget.js';
import scalingPolicy from 'cloudform-types/types/applicationAutoScaling/scalingPolicy.js';
import certificate from 'cloudform-types/types/certificateManager/certificate.js';
import distribution from 'cloudform-types/types/cloudFront/distribution.js';
import originAccessControl from 'cloudform-types/types/cloudFront/originAccessControl.js';
import responseHeadersPolicy from 'cloudform-types/types/cloudFront/responseHeadersPolicy.js';
import internetGateway from 'cloudform-types/types/ec2/internetGateway.js';
import route from 'cloudform-types/types/ec2/route.js';
import routeTable from 'cloudform-types/types/ec2/routeTable.js';
import securityGroup from 'cloudform-types/types/ec2/securityGroup.js';
import securityGroupEgress from 'cloudform-types/types/ec2/securityGroupEgress.js';
import securityGroupIngress from 'cloudform-types/types/ec2/securityGroupIngress.js';
import subnet from 'cloudform-types/types/ec2/subnet.js';
import subnetRouteTableAssociation from 'cloudform-types/types/ec2/subnetRouteTableAssociation.js';
import vpc from 'cloudform-types/types/ec2/vpc.js';
import vpcGatewayAttachment from 'cloudform-types/types/ec2/vpcGatewayAttachment.js';
import ecrRepository from 'cloudform-types/types/ecr/repository.js';
import ecsCluster from 'cloudform-types/types/ecs/cluster.js';
import clusterCapacityProviderAssociations from 'cloudform-types/types/ecs/clusterCapacityProviderAssociations.js';
import ecsService from 'cloudform-types/types/ecs/service.js';
import taskDefinition from 'cloudform-types/types/ecs/taskDefinition.js';
import replicationGroup from 'cloudform-types/types/elastiCache/replicationGroup.js';
import cacheSubnetGroup from 'cloudform-types/types/elastiCache/subnetGroup.js';
import listener from 'cloudform-types/types/elasticLoadBalancingV2/listener.js';
import listenerCertificate from 'cloudform-types/types/elasticLoadBalancingV2/listenerCertificate.js';
import listenerRule from 'cloudform-types/types/elasticLoadBalancingV2/listenerRule.js';
import loadBalancer from 'cloudform-types/types/elasticLoadBalancingV2/loadBalancer.js';
import targetGroup from 'cloudform-types/types/elasticLoadBalancingV2/targetGroup.js';
import accessKey from 'cloudform-types/types/iam/accessKey.js';
import role from 'cloudform-types/types/iam/role.js';
import user from 'cloudform-types/types/iam/user.js';
import logGroup from 'cloudform-types/types/logs/logGroup.js';
import dbCluster from 'cloudform-types/types/rds/dbCluster.js';
import dynamoDbTable from 'cloudform-types/types/dynamoDb/table.js';
import dbInstance from 'cloudform-types/types/rds/dbInstance.js';
import dbSubnetGroup from 'cloudform-types/types/rds/dbSubnetGroup.js';
import recordSet from 'cloudform-types/types/route53/recordSet.js';
import bucket from 'cloudform-types/types/s3/bucket.js';
import bucketPolicy from 'cloudform-types/types/s3/bucketPolicy.js';
import secret from 'cloudform-types/types/secretsManager/secret.js';
import alarm from 'cloudform-types/types/cloudWatch/alarm.js';
import openSearchDomain from 'cloudform-types/types/openSearchService/domain.js';
import emailIdentity from 'cloudform-types/types/ses/emailIdentity.js';
import snsSubscription from 'cloudform-types/types/sns/subscription.js';
import snsTopic from 'cloudform-types/types/sns/topic.js';

export { Equals, GetAtt, GetAZs, If, Join, Not, Ref, Select } from 'cloudform-types/types/functions.js';
export type { IntrinsicFunction, Value } from 'cloudform-types/types/dataTypes.js';
import type * as outputTypes from 'cloudform-types/types/output.js';
import type * as parameterTypes from 'cloudform-types/types/parameter.js';
import type * as resourceTypes from 'cloudform-types/types/resource.js';
import type * as templateTypes from 'cloudform-types/types/template.js';
export type Resource = resourceTypes.default;
export type Parameter = parameterTypes.default;
export type Output = outputTypes.default;
export type Template = templateTypes.default;

/** Fn::Sub in its short form, a single string (cloudform-types only builds the two-argument form). */
export const Sub = (text: string) => new dataTypes.IntrinsicFunction('Fn::Sub', text);
/** Fn::Cidr, which cloudform-types lacks. */
export const Cidr = (block: unknown, count: number, hostBits: number) => new dataTypes.IntrinsicFunction('Fn::Cidr', [block, count, hostBits]);

export const ScalableTarget = scalableTarget.default;
export const ScalingPolicy = scalingPolicy.default;
export const Certificate = certificate.default;
export const Distribution = distribution.default;
export const OriginAccessControl = originAccessControl.default;
export const ResponseHeadersPolicy = responseHeadersPolicy.default;
export const InternetGateway = internetGateway.default;
export const Route = route.default;
export const RouteTable = routeTable.default;
export const SecurityGroup = securityGroup.default;
export const SecurityGroupEgress = securityGroupEgress.default;
export const SecurityGroupIngress = securityGroupIngress.default;
export const Subnet = subnet.default;
export const SubnetRouteTableAssociation = subnetRouteTableAssociation.default;
export const Vpc = vpc.default;
export const VpcGatewayAttachment = vpcGatewayAttachment.default;
export const EcrRepository = ecrRepository.default;
export const EcsCluster = ecsCluster.default;
export const ClusterCapacityProviderAssociations = clusterCapacityProviderAssociations.default;
export const EcsService = ecsService.default;
export const TaskDefinition = taskDefinition.default;
/**
 * A container of a task definition. cloudform-types predates ECS container restart policies
 * (AWS::ECS::TaskDefinition ContainerDefinition.RestartPolicy: restart a container in place
 * instead of stopping the task), so the property is added here.
 */
export type ContainerDefinition = InstanceType<typeof taskDefinition.ContainerDefinition> & {
  RestartPolicy?: { Enabled: boolean; RestartAttemptPeriod?: number; IgnoredExitCodes?: number[] };
};
export const ReplicationGroup = replicationGroup.default;
export const CacheSubnetGroup = cacheSubnetGroup.default;
export const Listener = listener.default;
export const ListenerCertificate = listenerCertificate.default;
export const ListenerRule = listenerRule.default;
export const LoadBalancer = loadBalancer.default;
export const TargetGroup = targetGroup.default;
export const AccessKey = accessKey.default;
export const Role = role.default;
export const IamUser = user.default;
export const LogGroup = logGroup.default;
export const DbCluster = dbCluster.default;
export const DbInstance = dbInstance.default;
export const DbSubnetGroup = dbSubnetGroup.default;
export const DynamoDbTable = dynamoDbTable.default;
export const Bucket = bucket.default;
export const BucketPolicy = bucketPolicy.default;
export const Secret = secret.default;
export type Secret = InstanceType<typeof secret.default>;
export const EmailIdentity = emailIdentity.default;
export const OpenSearchDomain = openSearchDomain.default;
export const Alarm = alarm.default;
export const SnsTopic = snsTopic.default;
export const SnsSubscription = snsSubscription.default;
export const RecordSet = recordSet.default;
