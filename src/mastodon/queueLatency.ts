/**
 * Sidekiq's queue latency as a CloudWatch metric, without another paid service: a small reporter
 * in the web tasks (size small: the one task) reads each queue's latency through Sidekiq's own
 * API (`Sidekiq::Queue#latency`: the age of the oldest job waiting, in seconds, in every Sidekiq
 * release Mastodon pins: 6.5 at v4.3.0, 7.3 at v4.4.0, 8.0 at v4.5.2, Gemfile.lock) and prints one
 * embedded-metric-format line per queue and per group every minute. The awslogs driver sends them
 * to CloudWatch Logs, which extracts the metrics (CloudWatch User Guide, "Embedded metric format":
 * no header is needed with PutLogEvents). Each web task reports the same values: the Maximum the
 * alarms read is the same with one reporter or six. The Sidekiq services scale on their group's metric.
 * It also counts each group's running Sidekiq processes (`Sidekiq::ProcessSet`: each process's
 * heartbeat lists its queues, deduplicated, in 6.5, 7.3 and 8.0), which ECS itself does not publish
 * without Container Insights.
 */
export const QUEUE_LATENCY = {
  namespace: 'MastodonCfn/Sidekiq',
  queueMetric: 'QueueLatency',
  groupMetric: 'GroupLatency',
  unit: 'Seconds',
  /** Sidekiq processes serving exactly a group's queues and not stopping (Sidekiq::ProcessSet, from their heartbeats): the alarm on too few reads it. */
  processMetric: 'Processes',
  intervalSeconds: 60,
} as const;

/** What the reporter reads besides REDIS_URL: the stack (a dimension of every metric) and each group's queues as JSON. */
export const QUEUE_LATENCY_VARIABLES = { stack: 'METRICS_STACK', groups: 'SIDEKIQ_GROUPS', interval: 'METRICS_INTERVAL' } as const;

/**
 * The reporter, for `bundle exec ruby -e` in the Mastodon image (Sidekiq and its Redis client are in
 * its bundle; Rails is not loaded, so it needs about 50 MiB). Sidekiq reads the queues from the same
 * REDIS_URL Mastodon's Sidekiq uses (lib/mastodon/redis_configuration.rb#sidekiq: SIDEKIQ_REDIS_URL unset
 * falls back to it). A failed read is logged and retried at the next minute; TERM stops it at once.
 */
export function queueLatencyScript(): string {
  const v = QUEUE_LATENCY_VARIABLES;
  const m = QUEUE_LATENCY;
  const line = (dimension: string, metric: string, unit: string, value: string) =>
    `JSON.generate({ "_aws" => { "Timestamp" => now, "CloudWatchMetrics" => [{ "Namespace" => "${m.namespace}", "Dimensions" => [["Stack", "${dimension}"]], "Metrics" => [{ "Name" => "${metric}", "Unit" => "${unit}" }] }] }, "Stack" => stack, "${dimension}" => name, "${metric}" => ${value} })`;
  return [
    'require "json"',
    'require "sidekiq/api"',
    'Sidekiq.configure_client { |config| config.redis = { url: ENV.fetch("REDIS_URL") } }',
    '$stdout.sync = true',
    `stack = ENV.fetch("${v.stack}")`,
    `groups = JSON.parse(ENV.fetch("${v.groups}"))`,
    `interval = Integer(ENV.fetch("${v.interval}", "${m.intervalSeconds}"))`,
    'running = true',
    'Signal.trap("TERM") { running = false }',
    'while running',
    '  begin',
    // Never below 0: an older Sidekiq reading a newer one's millisecond enqueued_at mid-upgrade (7.3 beside 8.0) computes a huge negative age.
    '    latency = groups.values.flatten.uniq.to_h { |queue| [queue, [Sidekiq::Queue.new(queue).latency.to_f, 0].max.round(3)] }',
    '    now = (Time.now.to_f * 1000).round',
    '    processes = Sidekiq::ProcessSet.new.reject(&:stopping?).map { |process| process["queues"].uniq.sort }',
    `    latency.each { |name, seconds| puts ${line('Queue', m.queueMetric, m.unit, 'seconds')} }`,
    `    groups.each { |name, queues| seconds = queues.map { |queue| latency[queue] }.max; puts ${line('Group', m.groupMetric, m.unit, 'seconds')} }`,
    `    groups.each { |name, queues| count = processes.count { |served| served == queues.uniq.sort }; puts ${line('Group', m.processMetric, 'Count', 'count')} }`,
    '  rescue StandardError => e',
    '    warn "queue latency not read: #{e.class}: #{e.message}"',
    '  end',
    '  interval.times { break unless running; sleep 1 }',
    'end',
  ].join('\n');
}
