/** The jobslo release, reported in `--version`, report footers and telemetry. Keep in step with package.json. */
export const JOBSLO_VERSION = '0.1.0';
