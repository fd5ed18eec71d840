import type { AwsClient, Clients } from '../../src/deployer/aws.js';

/** Any AWS API, answering each operation from a table and recording the calls (shapes as documented). */
export class FakeApi implements AwsClient {
  calls: { name: string; input: any }[] = [];
  constructor(private readonly answers: Record<string, (input: any) => any>) {}
  async send(command: object): Promise<any> {
    const name = command.constructor.name.replace(/Command$/, '');
    const input = (command as { input: any }).input;
    this.calls.push({ name, input });
    const answer = this.answers[name];
    if (!answer) throw new Error(`the fake does not know ${name}`);
    return answer(input);
  }
}

const CLIENT_NAMES = ['cloudFormation', 'secretsManager', 's3', 'sts', 'rds', 'ecs', 'ecr', 'logs', 'cloudWatch', 'sns', 'loadBalancing', 'elastiCache', 'cloudFront', 'route53', 'acm', 'ses', 'pricing', 'iam'] as const satisfies readonly (keyof Clients)[];

/** Clients for a test: the given ones, and for every other service one that fails the test if it is called. */
export function fakeClients(given: Partial<Clients>): Clients {
  const unused = (): AwsClient => ({
    send: async () => {
      throw new Error('not expected in this test');
    },
  });
  return Object.assign(Object.fromEntries(CLIENT_NAMES.map((name) => [name, unused])) as unknown as Clients, given);
}
