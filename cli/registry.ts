import type { Command } from './command.js';

/** A subcommand whose module (and its dependencies) is loaded only when it is used. */
export interface CommandEntry {
  name: string;
  load(): Promise<Command>;
}

/**
 * Every subcommand, in `--help` order. Modules load lazily so that
 * `jobslo run` does not pay for DuckDB, Kafka or the report templates.
 */
export const commands: readonly CommandEntry[] = [
  { name: 'demo', load: async () => (await import('./commands/demo.js')).demoCommand },
  { name: 'run', load: async () => (await import('./commands/run.js')).runCommand },
  { name: 'schedule', load: async () => (await import('./commands/schedule.js')).scheduleCommand },
  { name: 'collector', load: async () => (await import('./commands/collector.js')).collectorCommand },
  { name: 'ingest', load: async () => (await import('./commands/ingest.js')).ingestCommand },
  { name: 'migrate', load: async () => (await import('./commands/migrate.js')).migrateCommand },
  { name: 'analyze', load: async () => (await import('./commands/analyze.js')).analyzeCommand },
  { name: 'report', load: async () => (await import('./commands/report.js')).reportCommand },
  { name: 'alerts', load: async () => (await import('./commands/alerts.js')).alertsCommand },
  { name: 'serve', load: async () => (await import('./commands/serve.js')).serveCommand },
];

/** Loads every command (for `jobslo --help` and tests). */
export async function loadAllCommands(): Promise<Command[]> {
  return Promise.all(commands.map((c) => c.load()));
}
