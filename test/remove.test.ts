import { CloudFormationServiceException, DeleteStackCommand, DescribeStacksCommand, ListStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import { DescribeDBInstancesCommand, ModifyDBInstanceCommand } from '@aws-sdk/client-rds';
import { expect } from 'chai';
import { sdkClients, type AwsClient, type Clients } from '../src/deployer/aws.js';
import { remove, type DeployerContext } from '../src/deployer/commands.js';
import { readPackage } from '../src/deployer/manifest.js';
import { recordingReporter } from '../src/deployer/terminal.js';
import { MastodonCfnError } from '../src/errors.js';
import { failure, runCli } from './support/build.js';
import { FakeApi, fakeClients } from './support/fakes.js';
import { useMoto } from './support/moto.js';
import { writePackage } from './support/packages.js';

const REGION = 'eu-central-1';

/** size small's database: an RDS instance kept by a final snapshot. */
const snapshottedInstance = {
  Type: 'AWS::RDS::DBInstance',
  DeletionPolicy: 'Snapshot',
  UpdateReplacePolicy: 'Snapshot',
  Properties: { Engine: 'postgres', DBInstanceClass: 'db.t4g.micro', AllocatedStorage: '20', MasterUsername: 'mastodon', ManageMasterUserPassword: true },
};

const databasePackage = (name: string) => writePackage([{ name, region: REGION, dependsOn: [], statefulResources: [{ logicalId: 'PostgresInstance', type: 'AWS::RDS::DBInstance' }], template: { Resources: { PostgresInstance: snapshottedInstance, Alerts: { Type: 'AWS::SNS::Topic' } } } }]);
/** The same stack built after a change of config that no longer has that database (size standard has a cluster instead). */
const changedPackage = (name: string) => writePackage([{ name, region: REGION, dependsOn: [], template: { Resources: { Alerts: { Type: 'AWS::SNS::Topic' } } } }]);

/** A client that answers some operations itself (given the real call, to forward) and passes every other one to `client`. */
function intercepting(client: AwsClient, answers: Record<string, (input: any, forward: () => Promise<any>) => Promise<any>>): AwsClient {
  return {
    send(command) {
      const answer = answers[command.constructor.name.replace(/Command\d*$/, '')];
      return answer ? answer((command as { input: any }).input, () => client.send(command)) : client.send(command);
    },
  };
}


describe('remove: a database is unprotected only while its stack is being deleted (moto_server)', function () {
  const moto = useMoto();

  const rds = () => sdkClients().rds(REGION);
  const protection = async (id: string) => (await rds().send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances[0].DeletionProtection as boolean;
  const stackExists = async (name: string) => {
    try {
      await sdkClients().cloudFormation(REGION).send(new DescribeStacksCommand({ StackName: name }));
      return true;
    } catch {
      return false;
    }
  };

  /** Deploys the stack with its database, protected as deploy leaves it; returns the instance's id. */
  async function deployProtected(name: string): Promise<string> {
    const deployed = runCli(['deploy', '--package', databasePackage(name), '--yes'], { env: moto.env });
    expect(deployed.status, deployed.stderr).to.equal(0);
    const resources = (await sdkClients().cloudFormation(REGION).send(new ListStackResourcesCommand({ StackName: name }))).StackResourceSummaries;
    const id = resources.find((r: { LogicalResourceId: string }) => r.LogicalResourceId === 'PostgresInstance').PhysicalResourceId as string;
    await rds().send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: id, DeletionProtection: true, ApplyImmediately: true }));
    return id;
  }

  /** remove in-process of the build that deployed the stack, CloudFormation answering through `answers` where it must do what moto cannot. */
  function removeWith(name: string, answers: Parameters<typeof intercepting>[1], signal?: AbortSignal) {
    const reporter = recordingReporter();
    const real = sdkClients();
    const clients: Clients = { ...real, cloudFormation: (region) => intercepting(real.cloudFormation(region), answers) };
    const context: DeployerContext = { clients, reporter, confirm: async () => true, polling: { initialMs: 5, maxMs: 20, signal } };
    return { reporter, done: remove(readPackage(databasePackage(name)), context) };
  }

  const terminationProtected = async (name: string) => (await sdkClients().cloudFormation(REGION).send(new DescribeStacksCommand({ StackName: name }))).Stacks[0].EnableTerminationProtection as boolean;

  it('a stack that holds data gets termination protection: a DeleteStack from outside is refused, and remove lifts it once confirmed; a stack without data gets none', async () => {
    const deployed = runCli(['deploy', '--package', databasePackage('social-guarded'), '--yes'], { env: moto.env });
    expect(deployed.status, deployed.stderr).to.equal(0);
    expect(deployed.stdout).to.include('social-guarded: termination protection turned on (the stack holds data; mastodon-cfn remove lifts it after asking)');
    expect(await terminationProtected('social-guarded')).to.equal(true);
    const outside = await failure<Error>(sdkClients().cloudFormation(REGION).send(new DeleteStackCommand({ StackName: 'social-guarded' })));
    expect(outside.message).to.equal('Stack [social-guarded] cannot be deleted while TerminationProtection is enabled');
    // Found on again by the next deploy, which says nothing when it is already on.
    const again = runCli(['deploy', '--package', databasePackage('social-guarded'), '--yes'], { env: moto.env });
    expect(again.stdout).to.not.include('termination protection');
    const declined = runCli(['remove', '--package', databasePackage('social-guarded')], { env: moto.env });
    expect(declined.status).to.equal(1);
    expect(await terminationProtected('social-guarded')).to.equal(true);
    const removed = runCli(['remove', '--package', databasePackage('social-guarded'), '--yes'], { env: moto.env });
    expect(removed.status, removed.stderr).to.equal(0);
    expect(await stackExists('social-guarded')).to.equal(false);
    const plain = runCli(['deploy', '--package', changedPackage('social-plain'), '--yes'], { env: moto.env });
    expect(plain.status, plain.stderr).to.equal(0);
    expect(await terminationProtected('social-plain')).to.equal(false);
  });

  it('finds the deployed database in the deployed template (GetTemplate) after a change of config, lifts its protection and deletes the stack', async () => {
    const id = await deployProtected('social-changed');
    const result = runCli(['remove', '--package', changedPackage('social-changed'), '--yes'], { env: moto.env });
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout).to.include(`AWS::RDS::DBInstance ${id} (PostgresInstance): final snapshot kept`);
    expect(await stackExists('social-changed')).to.equal(false);
  });

  it('turns protection back on when CloudFormation refuses DeleteStack', async () => {
    const id = await deployProtected('social-refused');
    const refusal = new CloudFormationServiceException({ name: 'ValidationError', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'Stack [social-refused] cannot be deleted while TerminationProtection is enabled' });
    const { reporter, done } = removeWith('social-refused', { DeleteStack: async () => Promise.reject(refusal) });
    expect(await failure(done)).to.equal(refusal);
    expect(await protection(id)).to.equal(true);
    expect(reporter.lines).to.include(`social-refused was not removed: deletion protection of database instance ${id} is on again.`);
    expect(await stackExists('social-refused')).to.equal(true);
    expect(await terminationProtected('social-refused')).to.equal(true);
  });

  it('turns protection back on when the stack ends DELETE_FAILED, and names the root cause', async () => {
    const id = await deployProtected('social-stuck');
    let deleting = false;
    const failed = [
      { StackName: 'social-stuck', EventId: 'stuck-2', LogicalResourceId: 'social-stuck', ResourceType: 'AWS::CloudFormation::Stack', ResourceStatus: 'DELETE_FAILED', ResourceStatusReason: 'The following resource(s) failed to delete: [Alerts].', Timestamp: new Date() },
      { StackName: 'social-stuck', EventId: 'stuck-1', LogicalResourceId: 'Alerts', ResourceType: 'AWS::SNS::Topic', ResourceStatus: 'DELETE_FAILED', ResourceStatusReason: 'Topic is in use', Timestamp: new Date() },
    ];
    const { reporter, done } = removeWith('social-stuck', {
      DeleteStack: async () => {
        deleting = true;
        return {};
      },
      DescribeStacks: async (_input, forward) => {
        const answer = await forward();
        if (deleting) answer.Stacks[0].StackStatus = 'DELETE_FAILED';
        return answer;
      },
      DescribeStackEvents: async (_input, forward) => {
        const answer = await forward();
        return deleting ? { StackEvents: [...failed, ...answer.StackEvents] } : answer;
      },
    });
    const error = await failure(done);
    expect(error).to.be.instanceOf(MastodonCfnError);
    expect(error.message).to.equal('social-stuck failed: DELETE_FAILED. Root cause: Alerts (AWS::SNS::Topic): Topic is in use');
    expect(await protection(id)).to.equal(true);
    expect(reporter.lines).to.include(`social-stuck was not removed: deletion protection of database instance ${id} is on again.`);
    expect(await terminationProtected('social-stuck')).to.equal(true);
  });

  it('turns protection back on when Ctrl-C stops following the deletion, and exits 130', async () => {
    const id = await deployProtected('social-interrupted');
    const interrupt = new AbortController();
    let deleting = false;
    const { done } = removeWith(
      'social-interrupted',
      {
        // CloudFormation deletes the database last, so the stack is still deleting when Ctrl-C comes.
        DeleteStack: async () => {
          deleting = true;
          setTimeout(() => interrupt.abort(), 50);
          return {};
        },
        DescribeStacks: async (_input, forward) => {
          const answer = await forward();
          if (deleting) answer.Stacks[0].StackStatus = 'DELETE_IN_PROGRESS';
          return answer;
        },
      },
      interrupt.signal,
    );
    const error = await failure(done);
    expect((error as MastodonCfnError).exitCode).to.equal(130);
    expect(await protection(id)).to.equal(true);
  });

  it('refuses a stack whose deployed template is not JSON (not deployed by mastodon-cfn) before deleting anything', async () => {
    const id = await deployProtected('social-foreign');
    const { done } = removeWith('social-foreign', { GetTemplate: async () => ({ TemplateBody: 'Resources:\n  PostgresInstance:\n    Type: AWS::RDS::DBInstance\n' }) });
    const error = await failure(done);
    expect(error.message).to.equal('social-foreign runs a template that is not JSON, so mastodon-cfn did not deploy it: nothing was removed. Delete it by other means if it is no longer needed.');
    expect(await protection(id)).to.equal(true);
    expect(await stackExists('social-foreign')).to.equal(true);
  });
});

describe('remove: an Aurora cluster kept by a final snapshot', () => {
  it('lifts the protection of the cluster the deployed template names, and leaves an unprotected one as it was', async () => {
    const template = JSON.stringify({ Resources: { DatabaseCluster: { Type: 'AWS::RDS::DBCluster', DeletionPolicy: 'Snapshot' }, Alerts: { Type: 'AWS::SNS::Topic' } } });
    for (const protectedNow of [true, false]) {
      let status = 'UPDATE_COMPLETE';
      const cfn = new FakeApi({
        DescribeStacks: () => (status === 'DELETE_COMPLETE' ? Promise.reject(new Error('Stack with id shape does not exist')) : { Stacks: [{ StackName: 'shape', StackId: 'id/shape', StackStatus: status }] }),
        ListStackResources: () => ({ StackResourceSummaries: [{ LogicalResourceId: 'DatabaseCluster', ResourceType: 'AWS::RDS::DBCluster', PhysicalResourceId: 'shape-db' }] }),
        GetTemplate: () => ({ TemplateBody: template }),
        DescribeStackEvents: () => ({ StackEvents: [] }),
        DeleteStack: () => {
          status = 'DELETE_COMPLETE';
          return {};
        },
      });
      const rds = new FakeApi({ DescribeDBClusters: () => ({ DBClusters: [{ DBClusterIdentifier: 'shape-db', DeletionProtection: protectedNow }] }), ModifyDBCluster: () => ({}) });
      const reporter = recordingReporter();
      const pkg = readPackage(changedPackage('shape'));
      await remove(pkg, { clients: fakeClients({ cloudFormation: () => cfn, rds: () => rds }), reporter, confirm: async () => true, polling: { initialMs: 1, maxMs: 2 } });
      expect(rds.calls.filter((c) => c.name === 'ModifyDBCluster')).to.deep.equal(protectedNow ? [{ name: 'ModifyDBCluster', input: { DBClusterIdentifier: 'shape-db', DeletionProtection: false, ApplyImmediately: true } }] : []);
      expect(reporter.lines.at(-1)).to.include('AWS::RDS::DBCluster shape-db (DatabaseCluster): final snapshot kept');
    }
  });
});
