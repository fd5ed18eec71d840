/** The deployer's entry point: loaded (with the AWS SDK) only by the commands that talk to AWS. */
export { priceTableFromAws } from '../cost/priceList.js';
export { sdkClients, type Clients } from './aws.js';
export { deploy, diff, formatInfo, info, plan, remove, run, type DeployerContext } from './commands.js';
export type { Plan, StackPlan, StackPlanStatus, DataLoss } from './plan.js';
export type { CostChange, CostEstimate, LineChange, MonthlyTotal, PlanCost } from './costChange.js';
export type { ChangeRow } from './stacks.js';
export type { StackOutputs } from './outputsFile.js';
export { inMemoryPackage, readPackage } from './manifest.js';
export { DEFAULT_POLLING } from './stacks.js';
export { terminalConfirm, terminalReporter } from './terminal.js';
export { parseSince, showLogs } from './logs.js';
export { formatStatus, httpProbe, status } from './status.js';
export { detectDrift, formatDrift } from './drift.js';
export { backup, deployedDatabase, formatSnapshots, listSnapshots } from './snapshots.js';
export { checkDump, exportInstance, importInstance } from './transfer.js';
export { mediaSource } from './media.js';
export { readVariableValues } from './variables.js';
