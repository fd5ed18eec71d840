import { DescribeAlarmsCommand, type MetricAlarm } from '@aws-sdk/client-cloudwatch';
import { ListSubscriptionsByTopicCommand, type Subscription } from '@aws-sdk/client-sns';
import type { AlertsTarget } from '../compiler/fragment.js';
import type { AwsClient } from './aws.js';
import { allPages } from './stacks.js';
import type { Reporter } from './terminal.js';

/** SNS's SubscriptionArn of a subscription whose address has not followed the confirmation link (SNS API reference, Subscription). */
const PENDING = 'PendingConfirmation';

/** The alert addresses that have not confirmed their subscription to the stack's topic. */
export async function unconfirmedEmails(sns: AwsClient, alerts: AlertsTarget, outputs: Record<string, string>): Promise<string[]> {
  const topic = outputs[alerts.topicOutput];
  if (!topic || alerts.emails.length === 0) return [];
  const subscriptions = await allPages((NextToken) => sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topic, NextToken })), (page) => page.Subscriptions as Subscription[] | undefined);
  const pending = new Set(subscriptions.filter((s) => s.Protocol === 'email' && s.SubscriptionArn === PENDING).map((s) => s.Endpoint?.toLowerCase()));
  return alerts.emails.filter((email) => pending.has(email.toLowerCase()));
}

/** What deploy says of the alerts: who must still confirm, since SNS mails nothing to them before. */
export async function reportAlertSubscriptions(sns: AwsClient, alerts: AlertsTarget, outputs: Record<string, string>, reporter: Reporter): Promise<void> {
  const unconfirmed = await unconfirmedEmails(sns, alerts, outputs);
  if (unconfirmed.length === 0) return;
  reporter.line(
    `Alerts: AWS has mailed a confirmation link to ${unconfirmed.join(', ')} ("AWS Notification - Subscription Confirmation"). No alarm reaches ${unconfirmed.length === 1 ? 'it' : 'them'} until the link is followed; mastodon-cfn status lists who has not.`,
  );
}

/** The stack's alert alarms now in ALARM (found by their names' prefix: the autoscaling's own alarms are not alerts). */
export async function alarmsInAlarm(cloudWatch: AwsClient, alerts: AlertsTarget): Promise<MetricAlarm[]> {
  const alarms = await allPages(
    (NextToken) => cloudWatch.send(new DescribeAlarmsCommand({ AlarmNamePrefix: alerts.alarmPrefix, StateValue: 'ALARM', AlarmTypes: ['MetricAlarm'], NextToken })),
    (page) => page.MetricAlarms as MetricAlarm[] | undefined,
  );
  // CloudWatch applies both filters; moto_server only the first, so the answer is checked again.
  return alarms.filter((alarm) => alarm.StateValue === 'ALARM' && alarm.AlarmName?.startsWith(alerts.alarmPrefix));
}
