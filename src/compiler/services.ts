import type { Config, ServiceConfig } from '../config/types.js';
import { DynamoDbTable, EcrRepository, GetAtt, If, ListenerCertificate, ListenerRule, Ref, SecurityGroup, Sub, type Resource } from './cfn.js';
import { dnsCertificate } from './certificates.js';
import { awsLogs, environmentList, executionRole, imageRepositories, referenceGrants, fargateService, fargateTaskDefinition, logGroup, secretList, taskRole } from './compute.js';
import { keepData, mergeParts, type CompileStep, type Fragment } from './fragment.js';
import { forwardTo, httpsListener, taskTargetGroup } from './loadBalancer.js';
import { defaultRulePriority, Ids, type Names } from './naming.js';
import { fromLoadBalancer, internetEgress, loadBalancerEgress, SERVICE_EGRESS_PORTS, vpcId } from './network.js';
import { serviceAccount, tokenSecret, tokenSecretArn } from './serviceAccount.js';

/**
 * ECR keeps this many images of a service; older ones expire (a rollback further back builds again).
 * ECR counts by push time, and an image already there is not pushed again: one that comes back
 * after this many others would expire while it runs, so the count leaves room for many builds.
 */
const KEPT_IMAGES = 30;

/**
 * A built service's image repository, in the secrets stack so that it exists before the main stack's
 * first change set. The images are made again from the source at any time: nothing to keep when it is
 * deleted. Tags are immutable and the task definition names the image by digest.
 */
function imageRepository(names: Names, name: string, service: ServiceConfig): Fragment {
  const id = (part: Parameters<typeof Ids.service>[1]) => Ids.service(name, part);
  return {
    secrets: {
      Resources: {
        [id('Repository')]: new EcrRepository({
          RepositoryName: names.repositoryName(name),
          ImageTagMutability: 'IMMUTABLE',
          ImageScanningConfiguration: { ScanOnPush: true },
          EncryptionConfiguration: { EncryptionType: 'AES256' },
          EmptyOnDelete: true,
          LifecyclePolicy: {
            LifecyclePolicyText: JSON.stringify({
              rules: [{ rulePriority: 1, description: `keep the last ${KEPT_IMAGES} images`, selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: KEPT_IMAGES }, action: { type: 'expire' } }],
            }),
          },
        }),
      },
      Outputs: { [id('RepositoryUri')]: { Description: `ECR repository of service ${name}'s image`, Value: GetAtt(id('Repository'), 'RepositoryUri') } },
    },
    main: {
      Parameters: {
        [id('Image')]: { Type: 'String', Description: `Image of service ${name} by digest; mastodon-cfn deploy builds and pushes it, then passes it`, AllowedPattern: '^[^@\\s]+@sha256:[0-9a-f]{64}$' },
      },
      images: [
        {
          service: name,
          folder: service.build!,
          repository: { stack: 'secrets', output: id('RepositoryUri') },
          parameter: id('Image'),
          platform: service.architecture === 'arm64' ? 'linux/arm64' : 'linux/amd64',
          port: service.port,
          healthCheck: service.healthCheck,
        },
      ],
    },
  };
}

function compileService(config: Config, names: Names, name: string, service: ServiceConfig): Record<string, Resource> {
  const id = (part: Parameters<typeof Ids.service>[1]) => Ids.service(name, part);
  const secrets = { ...service.secrets, ...(service.mastodon ? tokenSecret(name, service.mastodon) : {}) };
  const conditions = [
    ...(service.host ? [{ Field: 'host-header', HostHeaderConfig: { Values: [service.host] } }] : []),
    ...(service.path ? [{ Field: 'path-pattern', PathPatternConfig: { Values: [service.path] } }] : []),
  ];
  const resources: Record<string, Resource> = {
    // A group of its own: a side service has no way to the database or the cache (and so to Sidekiq's queues).
    [id('SecurityGroup')]: new SecurityGroup({
      GroupDescription: `${names.prefix} service ${name}: port ${service.port} from the load balancer only`,
      VpcId: vpcId(config),
      SecurityGroupIngress: [fromLoadBalancer(service.port)],
      SecurityGroupEgress: internetEgress(SERVICE_EGRESS_PORTS),
    }),
    [Ids.loadBalancerToServiceEgress(name)]: loadBalancerEgress(id('SecurityGroup'), service.port),
    [id('LogGroup')]: logGroup(config, names.logGroup(name)),
    [id('ExecutionRole')]: executionRole({
      logGroups: [names.logGroup(name)],
      repositories: service.build ? [Sub(`arn:\${AWS::Partition}:ecr:\${AWS::Region}:\${AWS::AccountId}:repository/${names.repositoryName(name)}`)] : imageRepositories([service.image!]),
      ...referenceGrants(Object.values(service.secrets), service.mastodon ? [tokenSecretArn(name)] : []),
    }),
    [id('TaskDefinition')]: fargateTaskDefinition({
      family: `${names.prefix}-${name}`,
      cpu: service.cpu,
      memory: service.memory,
      architecture: service.architecture,
      executionRoleId: id('ExecutionRole'),
      taskRoleId: service.table ? id('TaskRole') : undefined,
      containers: [
        {
          Name: name,
          Image: service.build ? Ref(Ids.service(name, 'Image')) : service.image!,
          Essential: true,
          Command: service.command,
          PortMappings: [{ ContainerPort: service.port, Protocol: 'tcp' }],
          Environment: environmentList({ ...service.environment, PORT: String(service.port), ...(service.table ? { TABLE_NAME: Ref(id('Table')), AWS_REGION: Ref('AWS::Region') } : {}) }),
          Secrets: Object.keys(secrets).length ? secretList(secrets) : undefined,
          // A new token changes the task definition, so that the service's tasks start again and read it.
          DockerLabels: service.mastodon ? (If(id('TokenExists'), { 'mastodon-cfn.token-made': Ref(id('TokenMade')) }, Ref('AWS::NoValue')) as unknown as Record<string, string>) : undefined,
          LogConfiguration: awsLogs(id('LogGroup'), name),
        },
      ],
    }),
    [id('TargetGroup')]: taskTargetGroup(config, service.port, service.healthCheck),
    [id('ListenerRule')]: new ListenerRule({
      ListenerArn: httpsListener,
      Priority: service.priority ?? defaultRulePriority(name),
      Conditions: conditions,
      Actions: forwardTo(id('TargetGroup')),
    }),
    [id('Service')]: fargateService(config, {
      taskDefinitionId: id('TaskDefinition'),
      // No task before the token exists: it would fail to start, and the circuit breaker would roll the whole stack back.
      desiredCount: service.mastodon ? If(id('TokenExists'), service.desiredCount, 0) : service.desiredCount,
      capacity: service.capacity,
      securityGroupId: id('SecurityGroup'),
      execEnabled: false,
      loadBalancers: [{ ContainerName: name, ContainerPort: service.port, TargetGroupArn: Ref(id('TargetGroup')) }],
      healthCheckGraceSeconds: 60,
      dependsOn: [id('ListenerRule')],
    }),
  };
  if (service.table) {
    resources[id('Table')] = keepData(
      new DynamoDbTable({
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
      }),
      'Retain',
    );
    resources[id('TaskRole')] = taskRole(`${name}-table`, [
      { Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query', 'dynamodb:ConditionCheckItem', 'dynamodb:DescribeTable'], Resource: GetAtt(id('Table'), 'Arn') },
    ]);
  }
  if (service.host) {
    // Served on the shared HTTPS listener through SNI, with a certificate of its own.
    resources[id('Certificate')] = dnsCertificate(config, service.host);
    resources[id('ListenerCertificate')] = new ListenerCertificate({ ListenerArn: httpsListener, Certificates: [{ CertificateArn: Ref(id('Certificate')) }] });
  }
  return resources;
}

export const compileServices: CompileStep = (config, names) => {
  const services = Object.entries(config.services);
  const shared: Fragment = {
    main: {
      logSources: Object.fromEntries(services.map(([name]) => [name, { group: names.logGroup(name), streamPrefix: name }])),
      Resources: Object.assign({}, ...services.map(([name, service]) => compileService(config, names, name, service))),
      Outputs: Object.fromEntries(
        services
          .filter(([, service]) => service.host)
          .map(([name, service]) => [Ids.service(name, 'Url'), { Description: `Service ${name}`, Value: `https://${service.host}${service.path ?? ''}`.replace(/\*$/, '') }]),
      ),
      // A service behind a path pattern may not route its health path: its target group's health says enough.
      endpoints: Object.fromEntries(services.filter(([, service]) => service.host && !service.path).map(([name, service]) => [name, `https://${service.host}${service.healthCheck}`])),
    },
  };
  const repositories = services.filter(([, service]) => service.build).map(([name, service]) => imageRepository(names, name, service));
  const accounts = services.flatMap(([name, service]) => (service.mastodon ? [serviceAccount(config, names, name, service.mastodon)] : []));
  return mergeParts(shared, ...repositories, ...accounts);
};
